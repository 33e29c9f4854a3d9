"""Sync specs for the program tables (ledger, tiers, coupons, mall, order payments).

The analytics copy keeps these tables under their operational names and (mostly) their
operational columns; :mod:`patron.analytics.programs` maps them to the metric inputs with Ibis
joins, so the mapping runs unchanged on every engine (no DuckDB-only view).

Mutable rows and how their changes are found (ADR 0570):

- ``ledger_accounts`` / ``journal_entries`` / ``ledger_postings``: immutable (only the cached
  ``balance`` of an account changes; it is not copied): ``append``.
- ``points_lots``: ``remaining``, ``reversed``, ``released_at`` change. Every change is made by
  a journal entry that either records an allocation on the lot or names the lot as its object
  (release, expiry), so lots named by entries newer than the last synced entry are re-read.
- ``member_tiers``: the tier changes only with a ``tier_changes`` row; members named by new
  tier changes are re-read (``evaluated_at`` / ``floor_code`` are not copied).
- ``order_payments``: the "returned" columns change only through refunds (as orders do).
- ``coupon_templates`` / ``mall_orders``: ``updated_at``.
- ``coupon_codes``: status and ``redeemed_at`` change (redeem, void, expire, restore after a
  refund) without any timestamp that grows, so the table is re-read whole (``full``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CompoundSelect, cast, func, select

from patron.analytics.sources import SPECS, AnySelect, TableSpec, max_refund_id, refunded_orders
from patron.coupons.models import CouponCode, CouponTemplate, MallOrder
from patron.engagement.campaigns.models import Campaign, CampaignRecipient
from patron.engagement.models import Message, MessageEvent
from patron.ledger.models import JournalEntry, LedgerAccount, PointsAllocation, PointsLot, Posting
from patron.portal.models import MemberJoin, PortalVisit
from patron.programs.models import MemberTier, OrderPayment, TierChange


def _max_entry_id() -> AnySelect:
    return select(func.max(JournalEntry.id))


def _max_tier_change_id() -> AnySelect:
    return select(func.max(TierChange.id))


def _lots_touched(lo: int, hi: int) -> CompoundSelect[int]:
    """Lots changed by journal entries with id in (lo, hi]: by an allocation or as the object."""
    allocated = select(PointsAllocation.lot_id).where(
        PointsAllocation.entry_id > lo, PointsAllocation.entry_id <= hi
    )
    named = select(cast(JournalEntry.object_id, BigInteger)).where(
        JournalEntry.id > lo, JournalEntry.id <= hi, JournalEntry.object_type == "points_lot"
    )
    return allocated.union(named)


def _tiers_changed(lo: int, hi: int) -> AnySelect:
    return select(TierChange.member_id).where(TierChange.id > lo, TierChange.id <= hi)


PROGRAM_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "ledger_accounts",
        lambda: select(
            LedgerAccount.id,
            LedgerAccount.merchant_id,
            LedgerAccount.member_id,
            LedgerAccount.code,
            LedgerAccount.asset,
            LedgerAccount.created_at,
        ),
    ),
    TableSpec(
        "journal_entries",
        lambda: select(
            JournalEntry.id,
            JournalEntry.merchant_id,
            JournalEntry.reason_code,
            JournalEntry.object_type,
            JournalEntry.object_id,
            JournalEntry.reverses_entry_id,
            JournalEntry.occurred_at,
        ),
        local_times=("occurred_at",),
    ),
    TableSpec(
        "ledger_postings",
        lambda: select(
            Posting.id,
            Posting.merchant_id,
            Posting.entry_id,
            Posting.account_id,
            Posting.asset,
            Posting.amount,
        ),
    ),
    TableSpec(
        "points_lots",
        lambda: select(
            PointsLot.id,
            PointsLot.merchant_id,
            PointsLot.member_id,
            PointsLot.entry_id,
            PointsLot.amount,
            PointsLot.remaining,
            PointsLot.reversed,
            PointsLot.earned_at,
            PointsLot.available_at,
            PointsLot.released_at,
            PointsLot.expires_at,
        ),
        local_times=("earned_at", "expires_at"),
        refresh_by=lambda lo, hi: PointsLot.id.in_(_lots_touched(lo, hi)),
        trigger_max=_max_entry_id,
    ),
    TableSpec(
        "member_tiers",
        lambda: select(
            MemberTier.id,
            MemberTier.merchant_id,
            MemberTier.member_id,
            MemberTier.tier_code,
            MemberTier.since,
        ),
        refresh_by=lambda lo, hi: MemberTier.member_id.in_(_tiers_changed(lo, hi)),
        trigger_max=_max_tier_change_id,
    ),
    TableSpec(
        "tier_changes",
        lambda: select(
            TierChange.id,
            TierChange.merchant_id,
            TierChange.member_id,
            TierChange.from_code,
            TierChange.to_code,
            TierChange.reason,
            TierChange.changed_at,
        ),
        local_times=("changed_at",),
    ),
    TableSpec(
        "coupon_templates",
        lambda: select(
            CouponTemplate.id,
            CouponTemplate.merchant_id,
            CouponTemplate.name,
            CouponTemplate.kind,
            CouponTemplate.status,
            CouponTemplate.created_at,
            CouponTemplate.updated_at,
        ),
        "updated",
    ),
    TableSpec(
        "coupon_codes",
        lambda: select(
            CouponCode.id,
            CouponCode.merchant_id,
            CouponCode.template_id,
            CouponCode.member_id,
            CouponCode.status,
            CouponCode.source,
            CouponCode.issued_at,
            CouponCode.expires_at,
            CouponCode.redeemed_at,
            CouponCode.redeemed_order_id,
            CouponCode.voided_at,
        ),
        "full",
        local_times=("issued_at", "redeemed_at"),
    ),
    TableSpec(
        "mall_orders",
        lambda: select(
            MallOrder.id,
            MallOrder.merchant_id,
            MallOrder.member_id,
            MallOrder.item_id,
            MallOrder.quantity,
            MallOrder.points,
            MallOrder.status,
            MallOrder.created_at,
            MallOrder.updated_at,
        ),
        "updated",
        local_times=("created_at",),
    ),
    TableSpec(
        "order_payments",
        lambda: select(
            OrderPayment.id,
            OrderPayment.merchant_id,
            OrderPayment.order_id,
            OrderPayment.member_id,
            OrderPayment.total_minor,
            OrderPayment.cash_minor,
            OrderPayment.points_redeemed,
            OrderPayment.points_value_minor,
            OrderPayment.stored_principal_minor,
            OrderPayment.stored_bonus_minor,
            OrderPayment.points_earned,
            OrderPayment.points_returned,
            OrderPayment.principal_returned_minor,
            OrderPayment.bonus_returned_minor,
            OrderPayment.created_at,
        ),
        local_times=("created_at",),
        refresh_by=lambda lo, hi: OrderPayment.order_id.in_(refunded_orders(lo, hi)),
        trigger_max=max_refund_id,
    ),
)


def _recipients() -> AnySelect:
    """Campaign recipients with their group and the campaign's launch and results window.
    Rows are written once, at launch (their delivery state is not copied)."""
    return select(
        CampaignRecipient.id,
        CampaignRecipient.merchant_id,
        CampaignRecipient.campaign_id,
        CampaignRecipient.member_id,
        CampaignRecipient.grp.label("group"),
        Campaign.launched_at,
        Campaign.results_window_days.label("window_days"),
    ).join(Campaign, Campaign.id == CampaignRecipient.campaign_id)


CAMPAIGN_SPECS: tuple[TableSpec, ...] = (
    TableSpec("campaign_recipients", _recipients, local_times=("launched_at",)),
)


def _message_activity() -> AnySelect:
    """Opens and clicks of messages, with the member they were sent to (rows are written once:
    ``append``)."""
    return (
        select(
            MessageEvent.id,
            MessageEvent.merchant_id,
            Message.member_id,
            MessageEvent.type,
            MessageEvent.occurred_at,
        )
        .join(Message, Message.id == MessageEvent.message_id)
        .where(MessageEvent.type.in_(("opened", "clicked")))
    )


# What makes a member active besides a purchase (ADR 0509); a new kind of activity (reviews,
# posts…) is one more spec here and one more entry in ``metrics.ACTIVITY_TABLES``.
ACTIVITY_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "portal_visits",
        lambda: select(
            PortalVisit.id, PortalVisit.merchant_id, PortalVisit.member_id, PortalVisit.visited_at
        ),
        local_times=("visited_at",),
    ),
    TableSpec("message_activity", _message_activity, local_times=("occurred_at",)),
)

# Members who joined by themselves (scan to join, the portal's sign-up): one row per member,
# written once (``append``). Read by the store customers online figure.
JOIN_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "member_joins",
        lambda: select(
            MemberJoin.id,
            MemberJoin.merchant_id,
            MemberJoin.member_id,
            MemberJoin.store_id,
            MemberJoin.source,
            MemberJoin.joined_at,
        ),
        local_times=("joined_at",),
    ),
)

# What ``sync`` copies by default: the customer tables, the program tables, the activity.
ALL_SPECS: tuple[TableSpec, ...] = (
    SPECS + PROGRAM_SPECS + CAMPAIGN_SPECS + ACTIVITY_SPECS + JOIN_SPECS
)
