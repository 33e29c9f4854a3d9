"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from patron.core.db import Base
from patron.core.events import OutboxEvent
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
from patron.portal.models import PortalLink
from patron.tenancy.models import ApiKey, Merchant, StaffUser, Store
from patron.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "ConsentChange",
    "ConsumerCursor",
    "FunnelTransition",
    "IdempotencyKey",
    "JournalEntry",
    "LedgerAccount",
    "Member",
    "MemberConsent",
    "MemberIdentity",
    "MemberNote",
    "MemberTag",
    "Merchant",
    "Order",
    "OrderLine",
    "OutboxEvent",
    "PointsAllocation",
    "PointsLot",
    "PortalLink",
    "Posting",
    "Product",
    "Refund",
    "RefundLine",
    "Segment",
    "SegmentMember",
    "StaffUser",
    "Store",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
