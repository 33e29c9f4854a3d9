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
    "InboxItem",
    "Member",
    "MemberConsent",
    "MemberIdentity",
    "MemberNote",
    "MemberTag",
    "Merchant",
    "Message",
    "MessageEvent",
    "MessageTemplate",
    "Order",
    "OrderLine",
    "OutboxEvent",
    "PortalLink",
    "PortalVisit",
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
