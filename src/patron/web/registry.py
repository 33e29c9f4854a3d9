"""The page modules of each shell. Adding a page = one line here (see docs/dashboard.md)."""

from __future__ import annotations

from types import ModuleType

from patron.web.dashboard import analytics as dashboard_analytics
from patron.web.dashboard import campaigns as dashboard_campaigns
from patron.web.dashboard import channels as dashboard_channels
from patron.web.dashboard import consent_topics as dashboard_consent_topics
from patron.web.dashboard import coupons as dashboard_coupons
from patron.web.dashboard import gifts as dashboard_gifts
from patron.web.dashboard import imports as dashboard_imports
from patron.web.dashboard import journeys as dashboard_journeys
from patron.web.dashboard import mall as dashboard_mall
from patron.web.dashboard import member_loyalty as dashboard_member_loyalty
from patron.web.dashboard import member_rewards as dashboard_member_rewards
from patron.web.dashboard import members as dashboard_members
from patron.web.dashboard import messages as dashboard_messages
from patron.web.dashboard import password_reset as dashboard_password_reset
from patron.web.dashboard import payments as dashboard_payments
from patron.web.dashboard import privacy as dashboard_privacy
from patron.web.dashboard import products as dashboard_products
from patron.web.dashboard import programs as dashboard_programs
from patron.web.dashboard import segments as dashboard_segments
from patron.web.dashboard import session as dashboard_session
from patron.web.dashboard import stores as dashboard_stores
from patron.web.dashboard import templates as dashboard_templates
from patron.web.dashboard import till as dashboard_till
from patron.web.dashboard import till_members as dashboard_till_members
from patron.web.dashboard import till_orders as dashboard_till_orders
from patron.web.dashboard import voice as dashboard_voice
from patron.web.dashboard import wallet as dashboard_wallet
from patron.web.portal import check_in as portal_check_in
from patron.web.portal import code_signin as portal_code_signin
from patron.web.portal import early_access as portal_early_access
from patron.web.portal import engagement as portal_engagement
from patron.web.portal import join as portal_join
from patron.web.portal import loyalty as portal_loyalty
from patron.web.portal import my_data as portal_my_data
from patron.web.portal import pages as portal_pages
from patron.web.portal import payments as portal_payments
from patron.web.portal import product as portal_product
from patron.web.portal import voice as portal_voice

# Merchant dashboard: each module exposes `router` and `NAV` (and optionally `MEMBER_PANELS`).
DASHBOARD: list[ModuleType] = [
    dashboard_session,
    dashboard_password_reset,
    dashboard_members,
    dashboard_analytics,
    dashboard_segments,
    dashboard_messages,
    dashboard_channels,
    dashboard_wallet,
    dashboard_consent_topics,
    dashboard_templates,
    dashboard_programs,
    dashboard_coupons,
    dashboard_mall,
    dashboard_gifts,
    dashboard_products,
    dashboard_member_loyalty,
    dashboard_member_rewards,
    dashboard_campaigns,
    dashboard_journeys,
    dashboard_till,
    dashboard_till_orders,
    dashboard_till_members,
    dashboard_payments,
    dashboard_imports,
    dashboard_privacy,
    dashboard_stores,
    dashboard_voice,
]

# Member portal: each module exposes `router` and `NAV` (and optionally `PORTAL_HOME_PANELS`).
PORTAL: list[ModuleType] = [
    portal_pages,
    portal_engagement,
    portal_loyalty,
    portal_early_access,
    portal_check_in,
    portal_my_data,
    portal_payments,
    portal_voice,
    # Last: ``/portal/<merchant>/…`` must not shadow the pages above (a shop's slug never
    # names one of them; see docs/portal.md).
    portal_join,
    portal_product,
    portal_code_signin,
]
