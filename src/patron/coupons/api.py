"""/api/v1: coupon templates and codes, a member's coupons, the points mall, gift rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from patron.checkout.quote import build_quote
from patron.checkout.schemas import QuoteRequest
from patron.core.clock import utcnow
from patron.core.errors import NotFound, PatronError
from patron.core.http import (
    IdempotencyKey,
    Page,
    PageDep,
    PathId,
    QueryId,
    SessionDep,
    SettingsDep,
    answer_replay,
    page_of,
    replay_responses,
)
from patron.core.owned import require_owned
from patron.coupons import gifts, mall, segment_fields, service
from patron.coupons.benefits import COUPONS
from patron.coupons.models import CodeSource
from patron.coupons.schemas import (
    BenefitOut,
    BulkIssueIn,
    BulkIssueOut,
    CodeOut,
    GiftRuleIn,
    GiftRuleOut,
    GiftRulePatch,
    IssueIn,
    MallItemIn,
    MallItemOut,
    MallItemPatch,
    MallOrderOut,
    MallOrderPatch,
    MallRedeemIn,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
    ValidateIn,
    ValidateOut,
    VoidIn,
)
from patron.members.models import Member
from patron.tenancy.auth import ClerkDep, ManagerDep

# Importing segment_fields registers has_coupon / coupon_expiring_within_days.
_FIELDS = segment_fields.NAMES
router = APIRouter(prefix="/api/v1", tags=["coupons"])


# Templates ------------------------------------------------------------------------------------


@router.get(
    "/coupon-templates", response_model=Page[TemplateOut], operation_id="list_coupon_templates"
)
def list_templates(
    session: SessionDep, principal: ClerkDep, page: PageDep, include_archived: bool = False
) -> object:
    rows = service.list_templates(
        session, principal.merchant_id, include_archived, page.limit, page.cursor
    )
    return page_of(rows, page.limit, TemplateOut.model_validate)


@router.post(
    "/coupon-templates",
    response_model=TemplateOut,
    status_code=201,
    operation_id="create_coupon_template",
)
def create_template(body: TemplateIn, session: SessionDep, principal: ManagerDep) -> TemplateOut:
    return TemplateOut.model_validate(service.create_template(session, principal.merchant_id, body))


@router.get(
    "/coupon-templates/{template_id}",
    response_model=TemplateOut,
    operation_id="get_coupon_template",
)
def get_template(template_id: PathId, session: SessionDep, principal: ClerkDep) -> TemplateOut:
    return TemplateOut.model_validate(
        service.get_template(session, principal.merchant_id, template_id)
    )


@router.patch(
    "/coupon-templates/{template_id}",
    response_model=TemplateOut,
    operation_id="update_coupon_template",
)
def update_template(
    template_id: PathId, body: TemplatePatch, session: SessionDep, principal: ManagerDep
) -> TemplateOut:
    template = service.update_template(session, principal.merchant_id, template_id, body)
    return TemplateOut.model_validate(template)


@router.post(
    "/coupon-templates/{template_id}/issue",
    response_model=CodeOut,
    status_code=201,
    operation_id="issue_coupon",
)
def issue(
    template_id: PathId, body: IssueIn, session: SessionDep, principal: ManagerDep
) -> CodeOut:
    code = service.issue_code(
        session, principal.merchant_id, template_id, body.member_id, actor=principal.actor
    )
    return CodeOut.model_validate(code)


@router.post(
    "/coupon-templates/{template_id}/issue-bulk",
    response_model=BulkIssueOut,
    operation_id="issue_coupons_bulk",
)
def issue_bulk(
    template_id: PathId, body: BulkIssueIn, session: SessionDep, principal: ManagerDep
) -> BulkIssueOut:
    """Issue one coupon to each listed member. Every id must be one of the merchant's members
    (else 404 ``member_not_found``, nothing issued); members at their limit are skipped."""
    service.get_template(session, principal.merchant_id, template_id)
    require_owned(
        session, Member, principal.merchant_id, body.member_ids, field="member_ids", what="member"
    )
    issued, skipped = service.issue_bulk(
        session,
        principal.merchant_id,
        template_id,
        body.member_ids,
        source=CodeSource.BULK,
        actor=principal.actor,
    )
    return BulkIssueOut(issued=issued, skipped=skipped)


# Codes ----------------------------------------------------------------------------------------


@router.get("/coupons", response_model=Page[CodeOut], operation_id="list_coupons")
def list_codes(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    template_id: QueryId = None,
    member_id: QueryId = None,
    status: str | None = None,
) -> dict[str, Any]:
    rows = service.list_codes(
        session,
        principal.merchant_id,
        template_id=template_id,
        member_id=member_id,
        status=status,
        limit=page.limit,
        cursor=page.cursor,
    )
    return page_of(rows, page.limit, CodeOut.model_validate)


class ValidateFull(ValidateOut):
    error: dict[str, Any] | None = None


@router.post("/coupons/validate", response_model=ValidateFull, operation_id="validate_coupons")
def validate(
    body: ValidateIn, session: SessionDep, principal: ClerkDep, settings: SettingsDep
) -> ValidateFull:
    """Would these codes work on this cart now? Read-only: runs the checkout quote."""
    req = QuoteRequest(
        member_id=body.member_id, store_id=body.store_id, lines=body.lines, coupon_codes=body.codes
    )
    try:
        quote = build_quote(
            session, principal.merchant_id, req, utcnow(session), settings.secret_key
        )
    except NotFound as exc:
        # The member or store of the request is not the caller's: the request is wrong, not
        # the codes (ADR 0030).
        if exc.code in ("member_not_found", "store_not_found"):
            raise
        return ValidateFull(
            valid=False, benefits=[], discount_minor=0, error=exc.to_dict()["error"]
        )
    except PatronError as exc:
        return ValidateFull(
            valid=False, benefits=[], discount_minor=0, error=exc.to_dict()["error"]
        )
    mine = [b for b in quote.benefits if b.provider == COUPONS.name]
    return ValidateFull(
        valid=True,
        benefits=[
            BenefitOut(
                kind=b.kind,
                label=b.label,
                code=b.code,
                amount_minor=b.amount_minor,
                line_no=b.line_no,
                gift_sku=b.gift_sku,
                gift_name=b.gift_name,
                gift_quantity=b.gift_quantity,
            )
            for b in mine
        ],
        discount_minor=sum(b.amount_minor for b in mine if b.kind == "discount"),
    )


@router.get("/coupons/{coupon_id}", response_model=CodeOut, operation_id="get_coupon")
def get_code(coupon_id: PathId, session: SessionDep, principal: ClerkDep) -> CodeOut:
    return CodeOut.model_validate(service.get_code(session, principal.merchant_id, coupon_id))


@router.post("/coupons/{coupon_id}/void", response_model=CodeOut, operation_id="void_coupon")
def void(coupon_id: PathId, body: VoidIn, session: SessionDep, principal: ManagerDep) -> CodeOut:
    code = service.void_code(
        session, principal.merchant_id, coupon_id, body.reason, principal.actor
    )
    return CodeOut.model_validate(code)


class MemberCouponOut(CodeOut):
    template_name: str
    kind: str


@router.get(
    "/members/{member_id}/coupons",
    response_model=list[MemberCouponOut],
    operation_id="member_coupons",
)
def member_coupons(
    member_id: PathId, session: SessionDep, principal: ClerkDep, status: str | None = None
) -> list[MemberCouponOut]:
    member = session.get(Member, member_id)
    if member is None or member.merchant_id != principal.merchant_id:
        raise NotFound("member not found", code="member_not_found")
    return [
        MemberCouponOut(**CodeOut.model_validate(c).model_dump(), template_name=t.name, kind=t.kind)
        for c, t in service.member_coupons(session, principal.merchant_id, member_id, status)
    ]


# Points mall ----------------------------------------------------------------------------------


@router.get("/mall/items", response_model=Page[MallItemOut], operation_id="list_mall_items")
def list_items(
    session: SessionDep, principal: ClerkDep, page: PageDep, available_only: bool = False
) -> object:
    rows = mall.list_items(session, principal.merchant_id, available_only, page.limit, page.cursor)
    return page_of(rows, page.limit, MallItemOut.model_validate)


@router.post(
    "/mall/items", response_model=MallItemOut, status_code=201, operation_id="create_mall_item"
)
def create_item(body: MallItemIn, session: SessionDep, principal: ManagerDep) -> MallItemOut:
    return MallItemOut.model_validate(mall.create_item(session, principal.merchant_id, body))


@router.get("/mall/items/{item_id}", response_model=MallItemOut, operation_id="get_mall_item")
def get_item(item_id: PathId, session: SessionDep, principal: ClerkDep) -> MallItemOut:
    return MallItemOut.model_validate(mall.get_item(session, principal.merchant_id, item_id))


@router.patch("/mall/items/{item_id}", response_model=MallItemOut, operation_id="update_mall_item")
def update_item(
    item_id: PathId, body: MallItemPatch, session: SessionDep, principal: ManagerDep
) -> MallItemOut:
    return MallItemOut.model_validate(
        mall.update_item(session, principal.merchant_id, item_id, body)
    )


@router.post(
    "/mall/redeem",
    response_model=MallOrderOut,
    status_code=201,
    operation_id="redeem_mall_item",
    responses=replay_responses(MallOrderOut),
)
def redeem(
    body: MallRedeemIn,
    key: IdempotencyKey,
    response: Response,
    session: SessionDep,
    principal: ClerkDep,
) -> MallOrderOut:
    """A member spends points on a mall item (replays with the same key return the order)."""
    order, replayed = mall.redeem(
        session,
        principal.merchant_id,
        body.member_id,
        body.item_id,
        body.quantity,
        key,
        principal.actor,
    )
    out = MallOrderOut.model_validate(order)
    out.replayed = replayed
    answer_replay(response, replayed)
    return out


@router.get("/mall/orders", response_model=Page[MallOrderOut], operation_id="list_mall_orders")
def list_orders(
    session: SessionDep,
    principal: ClerkDep,
    page: PageDep,
    member_id: QueryId = None,
    status: str | None = None,
) -> dict[str, Any]:
    rows = mall.list_orders(
        session,
        principal.merchant_id,
        member_id=member_id,
        status=status,
        limit=page.limit,
        cursor=page.cursor,
    )
    return page_of(rows, page.limit, MallOrderOut.model_validate)


@router.get(
    "/mall/orders/{mall_order_id}", response_model=MallOrderOut, operation_id="get_mall_order"
)
def get_order(mall_order_id: PathId, session: SessionDep, principal: ClerkDep) -> MallOrderOut:
    return MallOrderOut.model_validate(
        mall.get_order(session, principal.merchant_id, mall_order_id)
    )


@router.patch(
    "/mall/orders/{mall_order_id}", response_model=MallOrderOut, operation_id="update_mall_order"
)
def update_order(
    mall_order_id: PathId, body: MallOrderPatch, session: SessionDep, principal: ClerkDep
) -> MallOrderOut:
    order = mall.update_order(
        session, principal.merchant_id, mall_order_id, body.status, principal.actor, body.note
    )
    return MallOrderOut.model_validate(order)


# Gift with purchase ---------------------------------------------------------------------------


@router.get("/gift-rules", response_model=Page[GiftRuleOut], operation_id="list_gift_rules")
def list_rules(session: SessionDep, principal: ClerkDep, page: PageDep) -> object:
    rows = gifts.list_rules(session, principal.merchant_id, page.limit, page.cursor)
    return page_of(rows, page.limit, GiftRuleOut.model_validate)


@router.post(
    "/gift-rules", response_model=GiftRuleOut, status_code=201, operation_id="create_gift_rule"
)
def create_rule(body: GiftRuleIn, session: SessionDep, principal: ManagerDep) -> GiftRuleOut:
    return GiftRuleOut.model_validate(gifts.create_rule(session, principal.merchant_id, body))


@router.get("/gift-rules/{gift_rule_id}", response_model=GiftRuleOut, operation_id="get_gift_rule")
def get_rule(gift_rule_id: PathId, session: SessionDep, principal: ClerkDep) -> GiftRuleOut:
    return GiftRuleOut.model_validate(gifts.get_rule(session, principal.merchant_id, gift_rule_id))


@router.patch(
    "/gift-rules/{gift_rule_id}", response_model=GiftRuleOut, operation_id="update_gift_rule"
)
def update_rule(
    gift_rule_id: PathId, body: GiftRulePatch, session: SessionDep, principal: ManagerDep
) -> GiftRuleOut:
    return GiftRuleOut.model_validate(
        gifts.update_rule(session, principal.merchant_id, gift_rule_id, body)
    )
