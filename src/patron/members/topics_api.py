"""/api/v1/consent-topics: the merchant's one list of consent topics (read by every staff key,
changed by managers and owners)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from patron.core.http import SessionDep
from patron.members import topics
from patron.tenancy.auth import ClerkDep, ManagerDep

router = APIRouter(prefix="/api/v1/consent-topics", tags=["members"])


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z0-9_]+$")
    labels: dict[str, str] = Field(
        default_factory=dict, description="language (en, zh_Hans) → what members read"
    )
    marketing: bool = Field(True, description="needs an opt-in (else a service topic)")


class TopicPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str] | None = None
    marketing: bool | None = None


class TopicOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    labels: dict[str, str]
    marketing: bool
    position: int


@router.get("", response_model=list[TopicOut], operation_id="list_consent_topics")
def list_topics(session: SessionDep, principal: ClerkDep) -> object:
    return topics.list_topics(session, principal.merchant_id)


@router.post("", response_model=TopicOut, status_code=201, operation_id="create_consent_topic")
def create_topic(body: TopicIn, session: SessionDep, principal: ManagerDep) -> object:
    return topics.add_topic(session, principal.merchant_id, body.code, body.labels, body.marketing)


@router.patch("/{topic_id}", response_model=TopicOut, operation_id="update_consent_topic")
def update_topic(
    topic_id: int, body: TopicPatch, session: SessionDep, principal: ManagerDep
) -> object:
    return topics.update_topic(
        session, principal.merchant_id, topic_id, labels=body.labels, marketing=body.marketing
    )
