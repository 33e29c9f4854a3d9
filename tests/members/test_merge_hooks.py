"""The member-merge hooks live in a registry below every domain (ADR 0920, after ADR 0370)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.merge_hooks import BUILTIN, GROUP, MERGE_HOOKS, load_merge_hooks
from patron.members.merge import merge_members
from patron.portal.models import PortalLink
from patron.portal.service import create_portal_link
from tests.conftest import Tenant
from tests.programs.helpers import new_member


def test_the_entry_points_name_the_built_in_hook_modules() -> None:
    assert sorted(ep.value for ep in entry_points(group=GROUP)) == sorted(BUILTIN)


def test_loading_registers_every_domains_hook() -> None:
    assert load_merge_hooks() == BUILTIN
    names = {f"{hook.__module__}.{hook.__name__}" for hook in MERGE_HOOKS}
    assert {
        "patron.ledger.merge.merge_ledger",
        "patron.programs.merge.merge_programs",
        "patron.coupons.merge.merge_coupons",
        "patron.engagement.merge.merge_engagement",
        "patron.portal.merge.merge_portal",
    } <= names


def test_importing_members_merge_imports_no_domain_above_it() -> None:
    code = (
        "import sys, patron.members.merge as m\n"
        "above = ('patron.engagement', 'patron.coupons', 'patron.programs', 'patron.portal')\n"
        "print(sorted(n for n in sys.modules if n.startswith(above)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_merge_moves_portal_links(
    sessions: sessionmaker[Session], tenant: Tenant, settings: Settings
) -> None:
    m = tenant.merchant_id
    keep = new_member(sessions, m, phone="+8613800000001")
    gone = new_member(sessions, m, phone="+8613800000002")
    with transaction(sessions) as s:
        create_portal_link(s, m, gone, settings=settings)
        create_portal_link(s, m, keep, settings=settings)
    with transaction(sessions) as s:
        merge_members(s, m, keep, gone)
    with transaction(sessions) as s:
        assert s.scalars(select(PortalLink.member_id)).all() == [keep, keep]
