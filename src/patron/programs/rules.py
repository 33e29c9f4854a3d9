"""Versioned program rules: every change is a new version effective from a time (ADR 0350)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import emit, register_event_types
from patron.core.merchant_cache import MERCHANT_CACHE, merchant_version
from patron.ledger.schedule import NOTICE_DAYS_PROVIDERS
from patron.programs.config import (
    CONFIG_MODELS,
    STORED_VERSION,
    ActionsConfig,
    CheckInConfig,
    Kind,
    MemberDayConfig,
    PointsConfig,
    RefundPolicyConfig,
    StoredValueConfig,
    TiersConfig,
)
from patron.programs.models import ProgramRule

register_event_types("program.changed")

C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class RuleInForce(Generic[C]):
    """A setting as it applies at one moment, with the version that entries record."""

    kind: Kind
    version: int
    config: C

    @property
    def tag(self) -> str:
        return f"{self.kind.value}:v{self.version}"


def parse_config(kind: Kind, raw: dict[str, Any]) -> BaseModel:
    """Validate a setting's body; 422 ``invalid_program_config`` with the reasons if wrong."""
    try:
        return CONFIG_MODELS[kind].model_validate(raw)
    except ValidationError as exc:
        details = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()
        ]
        raise InvalidInput(
            f"the {kind.value} settings are not valid",
            code="invalid_program_config",
            details={"errors": details},
        ) from exc


def put_rule(
    session: Session,
    merchant_id: int,
    kind: Kind,
    raw: dict[str, Any],
    actor: str,
    effective_from: datetime | None = None,
) -> ProgramRule:
    """Create the next version of a setting, in force from ``effective_from`` (default now)."""
    config = parse_config(kind, raw)
    for check in CONFIG_CHECKS:
        check(session, merchant_id, config)
    now = utcnow(session)
    if effective_from is not None and effective_from.tzinfo is None:
        raise InvalidInput("effective_from needs a time zone", code="naive_datetime")
    latest = session.scalar(
        select(func.max(ProgramRule.version)).where(
            ProgramRule.merchant_id == merchant_id, ProgramRule.kind == kind.value
        )
    )
    rule = ProgramRule(
        merchant_id=merchant_id,
        kind=kind.value,
        version=(latest or 0) + 1,
        effective_from=effective_from or now,
        config=config.model_dump(mode="json"),
        created_at=now,
        actor=actor,
    )
    session.info.pop(_CACHE, None)
    try:
        with session.begin_nested():
            session.add(rule)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("another change of this setting came first; retry", code="busy") from exc
    emit(
        session,
        merchant_id,
        "program.changed",
        {
            "kind": kind.value,
            "version": rule.version,
            "effective_from": rule.effective_from.isoformat(),
        },
    )
    return rule


# Checks that need other domains' tables (a milestone's coupon): registered by those domains,
# run on every new version, raising InvalidInput when a reference is not the merchant's.
CONFIG_CHECKS: list[Callable[[Session, int, BaseModel], None]] = []


_CACHE = "patron.program_rules"


def _all_versions(session: Session, merchant_id: int) -> list[ProgramRule]:
    """Every version of every setting of the merchant, read once per session: a checkout asks
    for five kinds at two moments; one query instead of eleven. ``put_rule`` clears it."""
    cache: dict[int, list[ProgramRule]] = session.info.setdefault(_CACHE, {})
    if merchant_id not in cache:
        cache[merchant_id] = list(
            session.scalars(
                select(ProgramRule)
                .where(ProgramRule.merchant_id == merchant_id)
                .order_by(ProgramRule.effective_from.desc(), ProgramRule.version.desc())
            )
        )
    return cache[merchant_id]


def rule_row(session: Session, merchant_id: int, kind: Kind, at: datetime) -> ProgramRule | None:
    """The version in force at ``at``: the latest with ``effective_from <= at``."""
    for row in _all_versions(session, merchant_id):
        if row.kind == kind.value and row.effective_from <= at:
            return row
    return None


def versions(session: Session, merchant_id: int, kind: Kind) -> list[ProgramRule]:
    """Every version of a setting, newest first."""
    return list(
        session.scalars(
            select(ProgramRule)
            .where(ProgramRule.merchant_id == merchant_id, ProgramRule.kind == kind.value)
            .order_by(ProgramRule.version.desc())
        )
    )


def rules_by_time(session: Session, merchant_id: int) -> list[tuple[datetime, RuleInForce[Any]]]:
    """Every version of every setting of the merchant, parsed, latest ``effective_from`` first:
    from the merchant cache while the merchant's set-up version holds (ADR 0900)."""

    def load() -> list[tuple[datetime, RuleInForce[Any]]]:
        rows = session.execute(
            select(
                ProgramRule.kind,
                ProgramRule.version,
                ProgramRule.effective_from,
                ProgramRule.config,
            )
            .where(ProgramRule.merchant_id == merchant_id)
            .order_by(ProgramRule.effective_from.desc(), ProgramRule.version.desc())
        ).all()
        return [
            (
                row.effective_from,
                RuleInForce(
                    Kind(row.kind),
                    row.version,
                    CONFIG_MODELS[Kind(row.kind)].model_validate(
                        row.config, context=STORED_VERSION
                    ),
                ),
            )
            for row in rows
        ]

    version = merchant_version(session, merchant_id)
    return MERCHANT_CACHE.part(merchant_id, version, "program_rules", load)


def _in_force(
    session: Session, merchant_id: int, kind: Kind, at: datetime, model: type[C]
) -> RuleInForce[C] | None:
    for effective_from, rule in rules_by_time(session, merchant_id):
        if rule.kind == kind and effective_from <= at:
            return rule
    return None


def points_rule(s: Session, m: int, at: datetime) -> RuleInForce[PointsConfig] | None:
    return _in_force(s, m, Kind.POINTS, at, PointsConfig)


def tiers_rule(s: Session, m: int, at: datetime) -> RuleInForce[TiersConfig] | None:
    return _in_force(s, m, Kind.TIERS, at, TiersConfig)


def stored_value_rule(s: Session, m: int, at: datetime) -> RuleInForce[StoredValueConfig]:
    found = _in_force(s, m, Kind.STORED_VALUE, at, StoredValueConfig)
    return found or RuleInForce(Kind.STORED_VALUE, 0, StoredValueConfig())


def member_day_rule(s: Session, m: int, at: datetime) -> RuleInForce[MemberDayConfig] | None:
    return _in_force(s, m, Kind.MEMBER_DAY, at, MemberDayConfig)


def refund_policy(s: Session, m: int, at: datetime) -> RuleInForce[RefundPolicyConfig]:
    found = _in_force(s, m, Kind.REFUND_POLICY, at, RefundPolicyConfig)
    return found or RuleInForce(Kind.REFUND_POLICY, 0, RefundPolicyConfig())


def check_in_rule(s: Session, m: int, at: datetime) -> RuleInForce[CheckInConfig] | None:
    return _in_force(s, m, Kind.CHECK_IN, at, CheckInConfig)


def actions_rule(s: Session, m: int, at: datetime) -> RuleInForce[ActionsConfig] | None:
    return _in_force(s, m, Kind.ACTIONS, at, ActionsConfig)


def current_rule(session: Session, merchant_id: int, kind: Kind) -> ProgramRule:
    """The version in force now (404 if the merchant never set it)."""
    row = rule_row(session, merchant_id, kind, utcnow(session))
    if row is None:
        raise NotFound(f"no {kind.value} settings yet", code="program_not_configured")
    return row


def expiring_notice_days(session: Session, now: datetime) -> dict[int, int]:
    """Each merchant's ``expiring_notice_days`` from the points setting in force at ``now``
    (for the ledger's ``points.expiring_soon`` task)."""
    rows = session.execute(
        select(ProgramRule.merchant_id, ProgramRule.config)
        .where(ProgramRule.kind == Kind.POINTS.value, ProgramRule.effective_from <= now)
        .order_by(ProgramRule.effective_from, ProgramRule.version)
    ).all()
    found: dict[int, int] = {}
    for merchant_id, config in rows:  # later versions overwrite earlier ones
        found[merchant_id] = PointsConfig.model_validate(config).expiring_notice_days
    return found


NOTICE_DAYS_PROVIDERS.append(expiring_notice_days)
