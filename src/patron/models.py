"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from patron.core.db import Base
from patron.core.events import OutboxEvent
from patron.engagement.models import (
    ChannelSetting,
    EngagementPolicy,
    InboxItem,
    Message,
    MessageEvent,
    MessageTemplate,
)
from patron.engagement.segments.models import ConsumerCursor, Segment, SegmentMember
from patron.ledger.models import (
    IdempotencyKey,
    JournalEntry,
    LedgerAccount,
    PointsAllocation,
    PointsLot,
    Posting,
)
from patron.members.models import (
    ConsentChange,
    FunnelTransition,
    Member,
    MemberConsent,
    MemberIdentity,
    MemberNote,
    MemberTag,
)
from patron.orders.models import Order, OrderLine, Product, Refund, RefundLine
from patron.portal.models import PortalLink, PortalVisit
from patron.programs.models import MemberTier, OrderPayment, ProgramRule, TierChange, TopUp
from patron.tenancy.models import ApiKey, Merchant, StaffUser, Store
from patron.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "ChannelSetting",
    "ConsentChange",
    "ConsumerCursor",
    "EngagementPolicy",
    "FunnelTransition",
    "IdempotencyKey",
    "InboxItem",
    "JournalEntry",
    "LedgerAccount",
    "Member",
    "MemberConsent",
    "MemberIdentity",
    "MemberNote",
    "MemberTag",
    "MemberTier",
    "Merchant",
    "Message",
    "MessageEvent",
    "MessageTemplate",
    "Order",
    "OrderLine",
    "OrderPayment",
    "OutboxEvent",
    "PointsAllocation",
    "PointsLot",
    "PortalLink",
    "PortalVisit",
    "Posting",
    "Product",
    "ProgramRule",
    "Refund",
    "RefundLine",
    "Segment",
    "SegmentMember",
    "StaffUser",
    "Store",
    "TierChange",
    "TopUp",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
