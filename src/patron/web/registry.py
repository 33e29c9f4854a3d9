"""The page modules of each shell. Adding a page = one line here (see docs/dashboard.md)."""

from __future__ import annotations

from types import ModuleType

from patron.web.dashboard import analytics as dashboard_analytics
from patron.web.dashboard import member_loyalty as dashboard_member_loyalty
from patron.web.dashboard import members as dashboard_members
from patron.web.dashboard import programs as dashboard_programs
from patron.web.dashboard import session as dashboard_session
from patron.web.portal import loyalty as portal_loyalty
from patron.web.portal import pages as portal_pages

# Merchant dashboard: each module exposes `router` and `NAV` (and optionally `MEMBER_PANELS`).
DASHBOARD: list[ModuleType] = [
    dashboard_session,
    dashboard_members,
    dashboard_analytics,
    dashboard_programs,
    dashboard_member_loyalty,
]

# Member portal: each module exposes `router` and `NAV` (and optionally `PORTAL_HOME_PANELS`).
PORTAL: list[ModuleType] = [
    portal_pages,
    portal_loyalty,
]
