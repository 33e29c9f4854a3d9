"""/api/v1: channel settings, quiet hours and caps, templates, the message log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.core.http import Page, PageDep, PathId, QueryId, SessionDep, SettingsDep, page_of
from patron.engagement import library, messages, policy
from patron.engagement.models import ChannelSetting
from patron.engagement.schemas import (
    ChannelSettingIn,
    ChannelSettingOut,
    MessageDetail,
    MessageEventOut,
    MessageOut,
    MessagePage,
    MessageTemplateIn,
    MessageTemplateOut,
    MessageTemplatePatch,
    PolicyIn,
    PolicyOut,
    PreviewIn,
    TemplatePreviewOut,
)
from patron.tenancy.auth import ClerkDep, ManagerDep

router = APIRouter(prefix="/api/v1", tags=["engagement"])


def _setting_out(row: ChannelSetting) -> ChannelSettingOut:
    return ChannelSettingOut(
        channel=row.channel,
        enabled=row.enabled,
        base_url=row.base_url,
        credential_keys=sorted(row.credentials),
        updated_at=row.updated_at,
    )


@router.get("/channels", response_model=list[ChannelSettingOut], operation_id="list_channels")
def list_channels(session: SessionDep, principal: ManagerDep) -> list[ChannelSettingOut]:
    return [_setting_out(r) for r in library.list_channel_settings(session, principal.merchant_id)]


@router.put("/channels/{channel}", response_model=ChannelSettingOut, operation_id="put_channel")
def put_channel(
    channel: str, body: ChannelSettingIn, session: SessionDep, principal: ManagerDep
) -> ChannelSettingOut:
    row = library.put_channel_setting(
        session,
        principal.merchant_id,
        channel,
        enabled=body.enabled,
        base_url=body.base_url,
        credentials=body.credentials,
    )
    return _setting_out(row)


@router.get("/engagement/policy", response_model=PolicyOut, operation_id="get_message_policy")
def get_policy(session: SessionDep, principal: ManagerDep) -> PolicyOut:
    p = policy.policy_for(session, principal.merchant_id)
    return PolicyOut(
        cap_messages=p.cap_messages,
        cap_window_days=p.cap_window_days,
        care_cap_messages=p.care_cap_messages,
        quiet_hours_enabled=p.quiet_hours_enabled,
        quiet_start=p.quiet_start.strftime("%H:%M"),
        quiet_end=p.quiet_end.strftime("%H:%M"),
    )


@router.put("/engagement/policy", response_model=PolicyOut, operation_id="put_message_policy")
def put_policy(body: PolicyIn, session: SessionDep, principal: ManagerDep) -> PolicyOut:
    policy.set_policy(session, principal.merchant_id, **body.model_dump())
    return PolicyOut(**body.model_dump())


@router.get("/templates", response_model=Page[MessageTemplateOut], operation_id="list_templates")
def list_templates(session: SessionDep, principal: ClerkDep, page: PageDep) -> object:
    rows = library.list_templates(session, principal.merchant_id, page.limit, page.cursor)
    return page_of(rows, page.limit, MessageTemplateOut.model_validate)


@router.post(
    "/templates", response_model=MessageTemplateOut, status_code=201, operation_id="create_template"
)
def create_template(
    body: MessageTemplateIn, session: SessionDep, principal: ManagerDep
) -> MessageTemplateOut:
    template = library.create_template(
        session, principal.merchant_id, body.name, body.channel, body.variants
    )
    return MessageTemplateOut.model_validate(template)


@router.get(
    "/templates/{template_id}", response_model=MessageTemplateOut, operation_id="get_template"
)
def get_template(
    template_id: PathId, session: SessionDep, principal: ClerkDep
) -> MessageTemplateOut:
    return MessageTemplateOut.model_validate(
        library.get_template(session, principal.merchant_id, template_id)
    )


@router.patch(
    "/templates/{template_id}", response_model=MessageTemplateOut, operation_id="update_template"
)
def update_template(
    template_id: PathId, body: MessageTemplatePatch, session: SessionDep, principal: ManagerDep
) -> MessageTemplateOut:
    template = library.update_template(
        session, principal.merchant_id, template_id, name=body.name, variants=body.variants
    )
    return MessageTemplateOut.model_validate(template)


@router.delete("/templates/{template_id}", status_code=204, operation_id="delete_template")
def delete_template(template_id: PathId, session: SessionDep, principal: ManagerDep) -> None:
    library.delete_template(session, principal.merchant_id, template_id)


@router.post(
    "/templates/{template_id}/preview",
    response_model=TemplatePreviewOut,
    operation_id="preview_template",
)
def preview_template(
    template_id: PathId,
    body: PreviewIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: ClerkDep,
) -> TemplatePreviewOut:
    locale, rendered = library.preview_template(
        session,
        settings,
        principal.merchant_id,
        template_id,
        body.member_id,
        body.context,
        body.locale,
    )
    return TemplatePreviewOut(locale=locale, rendered=rendered)


@router.get("/messages", response_model=MessagePage, operation_id="list_messages")
def list_messages(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    member_id: QueryId = None,
    status: Annotated[str | None, Query(description="'dead' lists the dead letters")] = None,
    channel: Annotated[str | None, Query()] = None,
) -> MessagePage:
    rows = messages.list_messages(
        session,
        principal.merchant_id,
        member_id=member_id,
        status=status,
        channel=channel,
        limit=page.limit,
        cursor=page.cursor,
    )
    return MessagePage(**page_of(rows, page.limit, MessageOut.model_validate))


@router.get("/messages/{message_id}", response_model=MessageDetail, operation_id="get_message")
def get_message(message_id: PathId, session: SessionDep, principal: ClerkDep) -> MessageDetail:
    message = messages.get_message(session, principal.merchant_id, message_id)
    events = [MessageEventOut.model_validate(e) for e in messages.message_events(session, message)]
    return MessageDetail(
        **MessageOut.model_validate(message).model_dump(), rendered=message.rendered, events=events
    )


@router.post(
    "/messages/{message_id}/retry", response_model=MessageOut, operation_id="retry_message"
)
def retry_message(message_id: PathId, session: SessionDep, principal: ManagerDep) -> MessageOut:
    return MessageOut.model_validate(
        messages.retry_message(session, principal.merchant_id, message_id)
    )
