"""Turning claimed messages into sends: guards in order, then render (inside the claim).

Everything here runs in the short claim transaction; the slow provider calls happen after it
commits (see :mod:`patron.engagement.dispatcher`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.engagement import consent, guards, tokens
from patron.engagement.channels import get_channel
from patron.engagement.channels.base import Channel, Credentials, Outgoing
from patron.engagement.messages import record_event
from patron.engagement.models import (
    ChannelSetting,
    Message,
    MessageStatus,
    MessageTemplate,
)
from patron.engagement.policy import CAPPED_KINDS, Policy, policy_for
from patron.engagement.templates import RenderFailed, add_tracking, choose_locale, render_variant
from patron.members import topics
from patron.members.language import member_language
from patron.members.models import IdentityKind, Member, MemberIdentity
from patron.tenancy.models import Merchant


@dataclass(frozen=True)
class Prepared:
    """A message ready to hand to its channel."""

    message_id: int
    attempt: int
    channel: Channel
    outgoing: Outgoing
    rendered: dict[str, Any]
    creds: Credentials
    request_id: str | None = None  # of the request that caused it, for the log lines


def idempotency_key(merchant_id: int, dedupe_key: str, generation: int) -> str:
    """The key providers see: stable across retries, new after a manual retry."""
    digest = hashlib.sha256(f"{merchant_id}:{dedupe_key}".encode()).hexdigest()[:32]
    return f"patron-{merchant_id}-{digest}-{generation}"


def member_variables(member: Member, merchant_locale: str | None) -> dict[str, Any]:
    """What a template sees of the member; ``locale`` is the language they are written to in."""
    return {
        "id": member.id,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "display_name": member.display_name,
        "greeting_name": member.greeting_name,
        "email": member.email,
        "phone": member.phone,
        "birthday": member.birthday,
        "locale": member_language(member, merchant_locale).code,
        "funnel_stage": member.funnel_stage,
    }


def template_variables(
    member: Member, merchant: Merchant, context: dict[str, Any], links: dict[str, str]
) -> dict[str, Any]:
    """What a template sees; context keys fill tier, balance, coupon, product and links."""
    return {
        "member": member_variables(member, merchant.locale),
        "merchant": {"name": merchant.name, "slug": merchant.slug, "currency": merchant.currency},
        "tier": context.get("tier"),
        "balance": context.get("balance"),
        "coupon": context.get("coupon"),
        "product": context.get("product"),
        "links": {**links, **(context.get("links") or {})},
    }


class Batch:
    """Everything the guards and the renderer need, loaded in bulk: for a claimed batch of
    messages (:meth:`of_messages`), or for an audience a page wants to preview (:mod:`.reach`).
    """

    def __init__(
        self,
        session: Session,
        merchant_ids: set[int],
        member_ids: set[int],
        channels: set[str],
        capped: list[tuple[int, int, str]],
        *,
        template_ids: set[int] | None = None,
        claimed: set[int] | None = None,
        lock: bool = True,
    ) -> None:
        self.session = session
        self.now = utcnow(session)
        self.claimed = claimed or set()
        self.members = {
            m.id: m for m in session.scalars(select(Member).where(Member.id.in_(member_ids)))
        }
        self.merchants = {
            m.id: m for m in session.scalars(select(Merchant).where(Merchant.id.in_(merchant_ids)))
        }
        self.policies: dict[int, Policy] = {mid: policy_for(session, mid) for mid in merchant_ids}
        self.consents = consent.consent_map(session, member_ids, channels)
        self.marketing_topics = topics.marketing_flags(session, merchant_ids)
        self.templates = {
            t.id: t
            for t in session.scalars(
                select(MessageTemplate).where(MessageTemplate.id.in_(template_ids or set()))
            )
        }
        self.settings = {
            (s.merchant_id, s.channel): s
            for s in session.scalars(
                select(ChannelSetting).where(ChannelSetting.merchant_id.in_(merchant_ids))
            )
        }
        self.identities = self._wechat_ids(member_ids if "wechat" in channels else set())
        self.cap_counts = self._cap_counts(capped, lock)

    @classmethod
    def of_messages(cls, session: Session, messages: list[Message]) -> Batch:
        return cls(
            session,
            {m.merchant_id for m in messages},
            {m.member_id for m in messages},
            {m.channel for m in messages},
            [(m.merchant_id, m.member_id, m.kind) for m in messages],
            template_ids={m.template_id for m in messages if m.template_id is not None},
            claimed={m.id for m in messages},
        )

    def _wechat_ids(self, member_ids: set[int]) -> dict[int, str]:
        if not member_ids:
            return {}
        rows = self.session.execute(
            select(MemberIdentity.member_id, MemberIdentity.value).where(
                MemberIdentity.member_id.in_(member_ids),
                MemberIdentity.kind == IdentityKind.EXTERNAL.value,
                MemberIdentity.namespace == "wechat",
            )
        )
        return {int(member_id): str(value) for member_id, value in rows}

    def _cap_counts(
        self, intents: list[tuple[int, int, str]], lock: bool
    ) -> dict[tuple[int, str], int]:
        """(member, kind) → messages of that capped kind already dispatched in the window."""
        capped = [i for i in intents if i[2] in CAPPED_KINDS]
        if lock:
            guards.lock_members_for_cap(self.session, (member for _m, member, _k in capped))
        counts: dict[tuple[int, str], int] = {}
        for merchant_id, kind in {(m, k) for m, _member, k in capped}:
            since = self.now - timedelta(days=self.policies[merchant_id].cap_window_days)
            members = [member for m, member, k in capped if (m, k) == (merchant_id, kind)]
            found = guards.capped_counts(
                self.session, merchant_id, members, since, self.now, self.claimed, kind
            )
            counts.update({(member_id, kind): n for member_id, n in found.items()})
        return counts


@dataclass(frozen=True)
class Blocked:
    """Why a message would not go now: ``reason`` (consent, frequency_cap, quiet_hours), and
    for quiet hours when the window ends."""

    reason: str
    until: datetime | None = None


def blocked_by(
    batch: Batch, member: Member, merchant: Merchant, channel: str, topic: str, kind: str
) -> Blocked | None:
    """The guards in their order — consent, frequency cap, quiet hours — with no side effect.
    The dispatcher (:func:`prepare`) and the reach preview (:mod:`.reach`) both ask here."""
    marketing_topic = batch.marketing_topics.get((merchant.id, topic), False)
    if not consent.allows(batch.consents, member.id, channel, topic, kind, marketing_topic):
        return Blocked("consent")
    policy = batch.policies[merchant.id]
    cap = policy.cap_for(kind)
    if cap is not None and batch.cap_counts.get((member.id, kind), 0) >= cap:
        return Blocked("frequency_cap")
    opening = guards.quiet_until(batch.now, guards.zone(member.timezone, merchant.timezone), policy)
    if opening is not None:
        return Blocked("quiet_hours", opening)
    return None


def unreachable(batch: Batch, member: Member, merchant_id: int, channel: str) -> str | None:
    """After the guards: ``channel_not_configured`` or ``no_address``, or None."""
    setting = batch.settings.get((merchant_id, channel))
    if channel != "in_app" and (setting is None or not setting.enabled):
        return "channel_not_configured"
    address = get_channel(channel).address_of(
        member, {"wechat": batch.identities.get(member.id, "")}
    )
    return None if address else "no_address"


def _finish(batch: Batch, message: Message, status: MessageStatus, reason: str) -> None:
    message.status, message.status_reason = status.value, reason
    message.locked_until, message.updated_at = None, batch.now
    record_event(batch.session, message, status.value, {"reason": reason})


def prepare(session: Session, messages: list[Message], settings: Settings) -> list[Prepared]:
    """Apply the guards in order to each claimed message; return those to send now.

    Skips and dead ends are recorded on the message (status, reason, an event); a message in
    quiet hours goes back to the queue with ``not_before`` at the window's end.
    """
    batch = Batch.of_messages(session, messages)
    ready: list[Prepared] = []
    for message in messages:
        prepared = _prepare_one(batch, message, settings)
        if prepared is not None:
            ready.append(prepared)
    session.flush()
    return ready


def _guard(batch: Batch, message: Message, member: Member, merchant: Merchant) -> str | None:
    """Why the message must not go, or None. Holds for quiet hours as a side effect."""
    blocked = blocked_by(batch, member, merchant, message.channel, message.topic, message.kind)
    if blocked is not None and blocked.until is not None:
        message.not_before, message.status_reason = blocked.until, "quiet_hours"
        message.locked_until, message.updated_at = None, batch.now
        record_event(
            batch.session,
            message,
            "held",
            {"reason": "quiet_hours", "until": blocked.until.isoformat()},
        )
        return "held"
    if blocked is not None:
        return blocked.reason
    if message.sent_at is not None:
        return "duplicate"  # this generation was already accepted by the provider
    return None


def _prepare_one(batch: Batch, message: Message, settings: Settings) -> Prepared | None:
    member = batch.members.get(message.member_id)
    merchant = batch.merchants[message.merchant_id]
    if member is None or member.merged_into_id is not None or member.erased_at is not None:
        _finish(batch, message, MessageStatus.SKIPPED, "member_gone")
        return None
    reason = _guard(batch, message, member, merchant)
    if reason == "held":
        return None
    if reason is not None:
        _finish(batch, message, MessageStatus.SKIPPED, reason)
        return None
    missing = unreachable(batch, member, message.merchant_id, message.channel)
    if missing == "channel_not_configured":
        _finish(batch, message, MessageStatus.DEAD, missing)
        return None
    if missing is not None:
        _finish(batch, message, MessageStatus.SKIPPED, missing)
        return None
    channel = get_channel(message.channel)
    setting = batch.settings.get((message.merchant_id, message.channel))
    creds = Credentials(
        setting.base_url if setting else None, dict(setting.credentials) if setting else {}
    )
    address = channel.address_of(member, {"wechat": batch.identities.get(member.id, "")}) or ""
    outgoing = _outgoing(batch, message, merchant, address, settings)
    try:
        rendered = _render(batch, message, member, merchant, outgoing, settings)
    except RenderFailed as exc:
        _finish(batch, message, MessageStatus.DEAD, f"render_error: {exc}"[:300])
        return None
    if message.kind in CAPPED_KINDS:
        counted = (member.id, message.kind)
        batch.cap_counts[counted] = batch.cap_counts.get(counted, 0) + 1
    # Still ``queued`` under the lease: it becomes ``sending`` just before its own send
    # (dispatcher.mark_sending), so a crash never strands the untried rest of a batch (ADR 0401).
    # ``dispatched_at`` now makes the leased row count against the cap for other workers.
    message.status_reason = None
    message.dispatched_at, message.updated_at = batch.now, batch.now
    message.rendered = rendered
    return Prepared(
        message.id, message.attempts + 1, channel, outgoing, rendered, creds, message.request_id
    )


def _outgoing(
    batch: Batch, message: Message, merchant: Merchant, address: str, settings: Settings
) -> Outgoing:
    base = settings.base_url.rstrip("/")
    return Outgoing(
        message_id=message.id,
        merchant_id=message.merchant_id,
        member_id=message.member_id,
        idempotency_key=idempotency_key(
            message.merchant_id, message.dedupe_key, message.generation
        ),
        address=address,
        callback_url=f"{base}/api/v1/callbacks/{message.channel}/{message.merchant_id}?ref={message.id}",
        unsubscribe_url=tokens.unsubscribe_url(
            base,
            settings.secret_key,
            message.merchant_id,
            message.member_id,
            message.channel,
            message.topic,
        ),
        created_at=batch.now,
        merchant_name=merchant.name,
    )


def message_links(
    base_url: str, slug: str, unsubscribe_url: str, message: Message
) -> dict[str, str]:
    """Every link a template may use (``links.*``). Each lands on a real page: the merchant's
    portal entrance (``/portal/<merchant>``) signs the member in first when needed and then
    opens the page named by ``to`` (ADR 1300); a product with its own address goes there."""
    entrance = f"{base_url.rstrip('/')}/portal/{slug}"
    product = (message.context or {}).get("product") or {}
    return {
        "unsubscribe": unsubscribe_url,
        "portal": entrance,
        "shop": entrance,
        "product": str(product.get("url") or entrance),
        "coupon": f"{entrance}?to=coupons",
        # The review form (ADR 1503): the after-sales journey's review request links here.
        "review": f"{entrance}?to=reviews",
    }


def _render(
    batch: Batch,
    message: Message,
    member: Member,
    merchant: Merchant,
    outgoing: Outgoing,
    settings: Settings,
) -> dict[str, Any]:
    if message.rendered is not None and message.attempts > 0:
        return message.rendered  # a retry sends exactly what the first attempt rendered
    if message.template_id is not None:
        template = batch.templates.get(message.template_id)
        if template is None:
            raise RenderFailed("the template was deleted")
        variants = template.variants
    else:
        variants = message.content or {}
    locale = choose_locale(variants, member_language(member, merchant.locale).code, merchant.locale)
    links = message_links(settings.base_url, merchant.slug, outgoing.unsubscribe_url, message)
    variables = template_variables(member, merchant, message.context or {}, links)
    rendered = render_variant(variants[locale], variables)
    message.locale = locale
    if message.channel == "email":
        rendered["html"] = add_tracking(
            str(rendered.get("html", "")),
            message.id,
            settings.base_url,
            settings.secret_key,
            keep=outgoing.unsubscribe_url,
        )
    return rendered
