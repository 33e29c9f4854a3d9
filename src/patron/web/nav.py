"""What a page module contributes to the shells: navigation entries and panels.

A page module (``web/dashboard/*.py``, ``web/portal/*.py``) exposes:

- ``router``: an :class:`fastapi.APIRouter` with its pages;
- ``NAV``: a list of :class:`NavItem` (may be empty);
- optionally ``MEMBER_PANELS`` (cards on the dashboard's member page) and ``PORTAL_HOME_PANELS``
  (cards on the portal's home page), each a list of :class:`Panel`.

``web/registry.py`` lists the modules; :func:`patron.web.install.install_web` collects them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from patron.members.models import Member
from patron.tenancy.models import Role


@dataclass(frozen=True)
class NavItem:
    """One entry of a shell's navigation. ``label`` is an English msgid, translated when shown."""

    key: str
    label: str
    href: str
    icon: str = "dot"
    order: int = 100
    min_role: Role = Role.CLERK

    def is_active(self, path: str) -> bool:
        return path == self.href or path.startswith(self.href.rstrip("/") + "/")


# Loads what a panel shows for one member: (session, merchant_id, member) -> template context.
PanelLoader = Callable[[Session, int, Member], dict[str, Any]]


@dataclass(frozen=True)
class Panel:
    """A card another capability adds to a member page (points, tier, coupons…)."""

    key: str
    template: str
    load: PanelLoader
    order: int = 100


@dataclass
class Shell:
    """Everything registered for one area (``dashboard`` or ``portal``)."""

    routers: list[APIRouter] = field(default_factory=list)
    nav: list[NavItem] = field(default_factory=list)
    member_panels: list[Panel] = field(default_factory=list)
    home_panels: list[Panel] = field(default_factory=list)


def collect(modules: Sequence[ModuleType]) -> Shell:
    """Gather routers, navigation and panels from page modules, each list in display order."""
    shell = Shell()
    for module in modules:
        shell.routers.append(module.router)
        shell.nav.extend(getattr(module, "NAV", []))
        shell.member_panels.extend(getattr(module, "MEMBER_PANELS", []))
        shell.home_panels.extend(getattr(module, "PORTAL_HOME_PANELS", []))
    shell.nav.sort(key=lambda item: item.order)
    shell.member_panels.sort(key=lambda panel: panel.order)
    shell.home_panels.sort(key=lambda panel: panel.order)
    return shell
