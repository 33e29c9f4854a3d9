"""Channel settings and templates: what a manager configures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.paging import newest_first
from patron.engagement import tokens
from patron.engagement.channels import get_channel
from patron.engagement.models import ChannelSetting, MessageTemplate
from patron.engagement.preparation import template_variables
from patron.engagement.templates import (
    RenderFailed,
    choose_locale,
    render_variant,
    validate_variants,
)
from patron.members.language import member_language
from patron.members.models import Member
from patron.tenancy.models import Merchant


def list_channel_settings(session: Session, merchant_id: int) -> list[ChannelSetting]:
    return list(
        session.scalars(
            select(ChannelSetting)
            .where(ChannelSetting.merchant_id == merchant_id)
            .order_by(ChannelSetting.channel)
        )
    )


def put_channel_setting(
    session: Session,
    merchant_id: int,
    channel: str,
    *,
    enabled: bool,
    base_url: str | None,
    credentials: dict[str, Any],
) -> ChannelSetting:
    """Create or replace a channel's settings. Secrets are stored, never returned or logged."""
    get_channel(channel)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise InvalidInput("base_url must be an http(s) URL", code="invalid_base_url")
    now = utcnow(session)
    row = session.scalar(
        select(ChannelSetting).where(
            ChannelSetting.merchant_id == merchant_id, ChannelSetting.channel == channel
        )
    )
    if row is None:
        row = ChannelSetting(merchant_id=merchant_id, channel=channel, created_at=now)
        session.add(row)
    row.enabled, row.base_url, row.credentials, row.updated_at = enabled, base_url, credentials, now
    session.flush()
    return row


def create_template(
    session: Session, merchant_id: int, name: str, channel: str, variants: dict[str, Any]
) -> MessageTemplate:
    """Save a template after checking every variable it uses (422 otherwise)."""
    validate_variants(channel, variants)
    now = utcnow(session)
    template = MessageTemplate(
        merchant_id=merchant_id,
        name=name,
        channel=channel,
        variants=variants,
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a template called '{name}' exists", code="template_exists") from exc
    return template


def get_template(session: Session, merchant_id: int, template_id: int) -> MessageTemplate:
    template = session.get(MessageTemplate, template_id)
    if template is None or template.merchant_id != merchant_id:
        raise NotFound("template not found", code="template_not_found")
    return template


def list_templates(
    session: Session, merchant_id: int, limit: int | None = None, cursor: int | None = None
) -> list[MessageTemplate]:
    """The merchant's message templates, oldest first; with ``limit``, one page newest first."""
    query = (
        select(MessageTemplate)
        .where(MessageTemplate.merchant_id == merchant_id)
        .order_by(MessageTemplate.id)
    )
    return list(session.scalars(newest_first(query, MessageTemplate.id, limit, cursor)))


def update_template(
    session: Session,
    merchant_id: int,
    template_id: int,
    *,
    name: str | None,
    variants: dict[str, Any] | None,
) -> MessageTemplate:
    """Change a template; queued messages render with the new text when they are sent."""
    template = get_template(session, merchant_id, template_id)
    if variants is not None:
        validate_variants(template.channel, variants)
        template.variants = variants
    if name is not None:
        template.name = name
    template.updated_at = utcnow(session)
    session.flush()
    return template


def delete_template(session: Session, merchant_id: int, template_id: int) -> None:
    session.delete(get_template(session, merchant_id, template_id))
    session.flush()


def preview_template(
    session: Session,
    settings: Settings,
    merchant_id: int,
    template_id: int,
    member_id: int,
    context: dict[str, Any],
    locale: str | None,
) -> tuple[str, dict[str, Any]]:
    """Render a template for a real member, as the dispatcher would (without tracking)."""
    template = get_template(session, merchant_id, template_id)
    return preview_variants(
        session,
        settings,
        merchant_id,
        template.channel,
        template.variants,
        member_id,
        context,
        locale,
    )


def preview_variants(
    session: Session,
    settings: Settings,
    merchant_id: int,
    channel: str,
    variants: dict[str, Any],
    member_id: int,
    context: dict[str, Any],
    locale: str | None,
) -> tuple[str, dict[str, Any]]:
    """Render a template's variants (or a journey step's inline content) for a real member."""
    member = session.get(Member, member_id)
    if member is None or member.merchant_id != merchant_id:
        raise NotFound("member not found", code="member_not_found")
    merchant = session.get(Merchant, merchant_id)
    assert merchant is not None
    chosen = locale if locale in variants else None
    spoken = member_language(member, merchant.locale).code
    chosen = chosen or choose_locale(variants, spoken, merchant.locale)
    base = settings.base_url.rstrip("/")
    links = {
        "unsubscribe": tokens.unsubscribe_url(
            base, settings.secret_key, merchant_id, member_id, channel, "preview"
        ),
        "portal": f"{base}/portal/{merchant.slug}",
    }
    try:
        rendered = render_variant(
            variants[chosen], template_variables(member, merchant, context, links)
        )
    except RenderFailed as exc:
        raise InvalidInput(f"cannot render: {exc}", code="render_error") from exc
    return chosen, rendered
