"""Merging two members: the merged member's portal sign-in links follow to the kept member."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patron.core.merge_hooks import STAGE_ROWS, register_merge_hook
from patron.members.merge import repoint
from patron.portal.models import PortalLink


def merge_portal(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    repoint(session, PortalLink, merchant_id, keep_id, gone_id)


register_merge_hook(merge_portal, STAGE_ROWS)
