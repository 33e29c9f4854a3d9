"""/api/v1/campaigns: CRUD, launch, pause, resume, cancel, recipients, reach, stats, results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.core.http import Page, PageDep, PathId, SessionDep, page_of
from patron.engagement.campaigns import results, service, stats
from patron.engagement.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPatch,
    CampaignStatsOut,
    LaunchIn,
    ReachOut,
    RecipientOut,
    ResultsOut,
)
from patron.tenancy.auth import ManagerDep

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])


@router.get("", response_model=Page[CampaignOut], operation_id="list_campaigns")
def list_campaigns(session: SessionDep, principal: ManagerDep, page: PageDep) -> object:
    rows = service.list_campaigns(session, principal.merchant_id, page.limit, page.cursor)
    return page_of(rows, page.limit, CampaignOut.model_validate)


@router.post("", response_model=CampaignOut, status_code=201, operation_id="create_campaign")
def create_campaign(body: CampaignIn, session: SessionDep, principal: ManagerDep) -> object:
    return service.create_campaign(session, principal.merchant_id, body)


@router.get("/{campaign_id}", response_model=CampaignOut, operation_id="get_campaign")
def get_campaign(campaign_id: PathId, session: SessionDep, principal: ManagerDep) -> object:
    return service.get_campaign(session, principal.merchant_id, campaign_id)


@router.patch("/{campaign_id}", response_model=CampaignOut, operation_id="update_campaign")
def update_campaign(
    campaign_id: PathId, body: CampaignPatch, session: SessionDep, principal: ManagerDep
) -> object:
    return service.update_campaign(session, principal.merchant_id, campaign_id, body)


@router.post("/{campaign_id}/launch", response_model=CampaignOut, operation_id="launch_campaign")
def launch_campaign(
    campaign_id: PathId, body: LaunchIn, session: SessionDep, principal: ManagerDep
) -> object:
    return service.launch(session, principal.merchant_id, campaign_id, body.at)


@router.post("/{campaign_id}/pause", response_model=CampaignOut, operation_id="pause_campaign")
def pause_campaign(campaign_id: PathId, session: SessionDep, principal: ManagerDep) -> object:
    return service.pause(session, principal.merchant_id, campaign_id)


@router.post("/{campaign_id}/resume", response_model=CampaignOut, operation_id="resume_campaign")
def resume_campaign(campaign_id: PathId, session: SessionDep, principal: ManagerDep) -> object:
    return service.resume(session, principal.merchant_id, campaign_id)


@router.post("/{campaign_id}/cancel", response_model=CampaignOut, operation_id="cancel_campaign")
def cancel_campaign(campaign_id: PathId, session: SessionDep, principal: ManagerDep) -> object:
    return service.cancel(session, principal.merchant_id, campaign_id)


@router.get(
    "/{campaign_id}/recipients",
    response_model=Page[RecipientOut],
    operation_id="list_campaign_recipients",
)
def list_recipients(
    campaign_id: PathId,
    session: SessionDep,
    principal: ManagerDep,
    page: PageDep,
    group: Annotated[str | None, Query(pattern="^(treated|holdout)$")] = None,
) -> object:
    rows = service.recipients(
        session, principal.merchant_id, campaign_id, group, page.limit, page.cursor
    )
    return page_of(rows, page.limit, RecipientOut.model_validate)


@router.get("/{campaign_id}/results", response_model=ResultsOut, operation_id="campaign_results")
def campaign_results(campaign_id: PathId, session: SessionDep, principal: ManagerDep) -> object:
    return results.campaign_results(session, principal.merchant_id, campaign_id)


@router.get("/{campaign_id}/stats", response_model=CampaignStatsOut, operation_id="campaign_stats")
def campaign_stats(campaign_id: int, session: SessionDep, principal: ManagerDep) -> object:
    """The audience snapshot and the messages by outcome (queued, sent, delivered, skipped by
    reason, failed, unknown): "released" only says a message entered the outbox."""
    return stats.campaign_stats(session, principal.merchant_id, campaign_id)


@router.get("/{campaign_id}/reach", response_model=ReachOut, operation_id="campaign_reach")
def campaign_reach(campaign_id: int, session: SessionDep, principal: ManagerDep) -> object:
    """Before launch: how many would be reached now on each channel, and why not the rest."""
    return stats.campaign_reach(session, principal.merchant_id, campaign_id)
