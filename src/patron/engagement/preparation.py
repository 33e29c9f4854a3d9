"""Turning claimed messages into sends: guards in order, then render (inside the claim).

Everything here runs in the short claim transaction; the slow provider calls happen after it
commits (see :mod:`patron.engagement.dispatcher`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
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
    """Everything the guards and the renderer need for one claimed batch, loaded in bulk."""

    def __init__(self, session: Session, messages: list[Message]) -> None:
        self.session = session
        self.now = utcnow(session)
        self.claimed = {m.id for m in messages}
        member_ids = {m.member_id for m in messages}
        merchant_ids = {m.merchant_id for m in messages}
        self.members = {
            m.id: m for m in session.scalars(select(Member).where(Member.id.in_(member_ids)))
        }
        self.merchants = {
            m.id: m for m in session.scalars(select(Merchant).where(Merchant.id.in_(merchant_ids)))
        }
        self.policies: dict[int, Policy] = {mid: policy_for(session, mid) for mid in merchant_ids}
        self.consents = consent.consent_map(session, member_ids, {m.channel for m in messages})
        template_ids = {m.template_id for m in messages if m.template_id is not None}
        self.templates = {
            t.id: t
            for t in session.scalars(
                select(MessageTemplate).where(MessageTemplate.id.in_(template_ids))
            )
        }
        self.settings = {
            (s.merchant_id, s.channel): s
            for s in session.scalars(
                select(ChannelSetting).where(ChannelSetting.merchant_id.in_(merchant_ids))
            )
        }
        self.identities = self._wechat_ids(messages)
        self.cap_counts = self._cap_counts(messages)

    def _wechat_ids(self, messages: list[Message]) -> dict[int, str]:
        ids = {m.member_id for m in messages if m.channel == "wechat"}
        if not ids:
            return {}
        rows = self.session.execute(
            select(MemberIdentity.member_id, MemberIdentity.value).where(
                MemberIdentity.member_id.in_(ids),
                MemberIdentity.kind == IdentityKind.EXTERNAL.value,
                MemberIdentity.namespace == "wechat",
            )
        )
        return {int(member_id): str(value) for member_id, value in rows}

    def _cap_counts(self, messages: list[Message]) -> dict[tuple[int, str], int]:
        """(member, kind) → messages of that capped kind already dispatched in the window."""
        capped = [m for m in messages if m.kind in CAPPED_KINDS]
        guards.lock_members_for_cap(self.session, (m.member_id for m in capped))
        counts: dict[tuple[int, str], int] = {}
        for merchant_id, kind in {(m.merchant_id, m.kind) for m in capped}:
            since = self.now - timedelta(days=self.policies[merchant_id].cap_window_days)
            members = [
                m.member_id for m in capped if (m.merchant_id, m.kind) == (merchant_id, kind)
            ]
            found = guards.capped_counts(
                self.session, merchant_id, members, since, self.now, self.claimed, kind
            )
            counts.update({(member_id, kind): n for member_id, n in found.items()})
        return counts


def _finish(batch: Batch, message: Message, status: MessageStatus, reason: str) -> None:
    message.status, message.status_reason = status.value, reason
    message.locked_until, message.updated_at = None, batch.now
    record_event(batch.session, message, status.value, {"reason": reason})


def prepare(session: Session, messages: list[Message], settings: Settings) -> list[Prepared]:
    """Apply the guards in order to each claimed message; return those to send now.

    Skips and dead ends are recorded on the message (status, reason, an event); a message in
    quiet hours goes back to the queue with ``not_before`` at the window's end.
    """
    batch = Batch(session, messages)
    ready: list[Prepared] = []
    for message in messages:
        prepared = _prepare_one(batch, message, settings)
        if prepared is not None:
            ready.append(prepared)
    session.flush()
    return ready


def _guard(batch: Batch, message: Message, member: Member, merchant: Merchant) -> str | None:
    """Why the message must not go, or None. Holds for quiet hours as a side effect."""
    if not consent.allows(batch.consents, member.id, message.channel, message.topic, message.kind):
        return "consent"
    policy = batch.policies[merchant.id]
    cap = policy.cap_for(message.kind)
    if cap is not None and batch.cap_counts.get((member.id, message.kind), 0) >= cap:
        return "frequency_cap"
    opening = guards.quiet_until(batch.now, guards.zone(member.timezone, merchant.timezone), policy)
    if opening is not None:
        message.not_before, message.status_reason = opening, "quiet_hours"
        message.locked_until, message.updated_at = None, batch.now
        record_event(
            batch.session, message, "held", {"reason": "quiet_hours", "until": opening.isoformat()}
        )
        return "held"
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
    channel = get_channel(message.channel)
    setting = batch.settings.get((message.merchant_id, message.channel))
    if message.channel != "in_app" and (setting is None or not setting.enabled):
        _finish(batch, message, MessageStatus.DEAD, "channel_not_configured")
        return None
    creds = Credentials(
        setting.base_url if setting else None, dict(setting.credentials) if setting else {}
    )
    address = channel.address_of(member, {"wechat": batch.identities.get(member.id, "")})
    if not address:
        _finish(batch, message, MessageStatus.SKIPPED, "no_address")
        return None
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
    return Prepared(message.id, message.attempts + 1, channel, outgoing, rendered, creds)


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
    links = {
        "unsubscribe": outgoing.unsubscribe_url,
        "portal": f"{settings.base_url.rstrip('/')}/portal/{merchant.slug}",
    }
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
