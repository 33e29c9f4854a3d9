"""Program settings, one pydantic model per kind, in the merchant's words.

Rates are kept as whole numbers ("1 point per 100 minor units") so every computation is exact;
multipliers are decimals given as text ("1.5") and applied with exact fractions.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator


class Kind(StrEnum):
    POINTS = "points"
    TIERS = "tiers"
    STORED_VALUE = "stored_value"
    MEMBER_DAY = "member_day"
    REFUND_POLICY = "refund_policy"
    CHECK_IN = "check_in"
    ACTIONS = "actions"


# Validation context for a version read back from the database (not new input).
STORED_VERSION: dict[str, bool] = {"stored": True}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Factor = Decimal


class Multiplier(_Strict):
    """Extra points on what matches: a tier, a store, a category, a product, or dates."""

    applies_to: Literal["tier", "store", "category", "product", "dates"]
    value: str | None = Field(default=None, description="tier code, store code, category or sku")
    starts_on: date | None = None
    ends_on: date | None = Field(default=None, description="last day included")
    factor: Factor = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _target(self) -> Multiplier:
        if self.applies_to == "dates":
            if self.starts_on is None or self.ends_on is None:
                raise ValueError("a dates multiplier needs starts_on and ends_on")
        elif not self.value:
            raise ValueError(f"a {self.applies_to} multiplier needs a value")
        return self


class Expiry(_Strict):
    mode: Literal["never", "rolling", "end_of_month", "end_of_year"] = "never"
    months: int = Field(default=12, ge=0, le=120)


class Redemption(_Strict):
    """Points as a cash deduction: ``points`` points pay ``value_minor``, in whole blocks."""

    enabled: bool = True
    points: int = Field(default=100, ge=1)
    value_minor: int = Field(default=100, ge=1)
    minimum_points: int = Field(default=0, ge=0)
    max_share_percent: int = Field(default=50, ge=0, le=100)


class PointsConfig(_Strict):
    earn_points: int = Field(default=1, ge=0, description="points earned ...")
    per_minor: int = Field(default=100, ge=1, description="... per this many minor units")
    rounding: Literal["floor", "half_up"] = "floor"
    multipliers: list[Multiplier] = Field(default_factory=list, max_length=200)
    exclude_categories: list[str] = Field(default_factory=list)
    exclude_skus: list[str] = Field(default_factory=list)
    minimum_order_minor: int = Field(default=0, ge=0)
    cap_per_order: int | None = Field(default=None, ge=0)
    cap_per_day: int | None = Field(default=None, ge=0)
    earn_base: Literal["before_discounts", "after_discounts", "after_redemptions"] = (
        "after_discounts"
    )
    pending_days: int = Field(default=7, ge=0, le=365, description="the return window")
    expiry: Expiry = Field(default_factory=Expiry)
    expiring_notice_days: int = Field(default=7, ge=0, le=365)
    welcome_bonus: int = Field(default=0, ge=0)
    birthday_bonus: int = Field(default=0, ge=0)
    redemption: Redemption = Field(default_factory=Redemption)

    @model_validator(mode="after")
    def _spendable_before_expiry(self, info: ValidationInfo) -> PointsConfig:
        # A setting under which points can expire before they are ever spendable is refused
        # when saved (versions already stored still load, as they were).
        if isinstance(info.context, dict) and info.context.get("stored"):
            return self
        mode, months = self.expiry.mode, self.expiry.months
        if mode == "rolling" and months == 0:
            raise ValueError("rolling expiry needs at least 1 month (0 expires points as earned)")
        if mode in ("end_of_month", "end_of_year") and months == 0 and self.pending_days > 0:
            period = "month" if mode == "end_of_month" else "year"
            raise ValueError(
                f"points earned in the last {self.pending_days} days of a {period} would expire "
                f"before their {self.pending_days} pending days are over: set expiry months to "
                "at least 1 or pending_days to 0"
            )
        return self


class Tier(_Strict):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=80)
    threshold: int = Field(ge=0, description="growth earned in the window to reach this tier")
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    points_multiplier: Factor = Field(default=Decimal(1), gt=0, le=100)
    birthday_gift: bool = False
    free_shipping: bool = False


class TiersConfig(_Strict):
    tiers: list[Tier] = Field(min_length=1, max_length=20)
    growth_per: int = Field(default=1, ge=0, description="growth earned ...")
    per_minor: int = Field(default=100, ge=1, description="... per this many minor units paid")
    evaluation_months: int = Field(default=12, ge=1, le=60)
    growth_window_months: int | None = Field(
        default=None, ge=1, le=120, description="growth counts this long; default: evaluation"
    )

    @model_validator(mode="after")
    def _ladder(self) -> TiersConfig:
        thresholds = [t.threshold for t in self.tiers]
        if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
            raise ValueError("tiers go from the lowest threshold up, each higher than the last")
        if thresholds[0] != 0:
            raise ValueError("the first tier is the entry tier: threshold 0")
        if len({t.code for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier codes are unique")
        return self

    @property
    def window_months(self) -> int:
        return self.growth_window_months or self.evaluation_months


class BonusLevel(_Strict):
    top_up_minor: int = Field(ge=1)
    bonus_minor: int = Field(ge=0)


class StoredValueConfig(_Strict):
    bonus_levels: list[BonusLevel] = Field(default_factory=list, max_length=50)
    spend_order: Literal["principal_first", "bonus_first"] = "principal_first"
    used_bonus_on_refund: Literal["deduct_from_refund", "merchant_absorbs"] = "deduct_from_refund"

    def bonus_for(self, amount_minor: int) -> int:
        """The bonus of the highest level the top-up reaches (levels do not add up)."""
        reached = [lv.bonus_minor for lv in self.bonus_levels if amount_minor >= lv.top_up_minor]
        return max(reached, default=0)


class MemberDayConfig(_Strict):
    days_of_month: list[int] = Field(default_factory=list)
    weekdays: list[int] = Field(default_factory=list, description="0 = Monday ... 6 = Sunday")
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    points_multiplier: Factor = Field(default=Decimal(1), gt=0, le=100)
    early_access: Literal["members", "member_day"] = Field(
        default="members",
        description="who may buy a product before its release_at: any member on any day, "
        "or members on a member day only",
    )
    early_access_tiers: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="tier codes with early access; empty: every member",
    )

    @model_validator(mode="before")
    @classmethod
    def _retired_fields(cls, raw: object, info: ValidationInfo) -> object:
        # ``early_access_tag`` (a product tag) never did anything and is replaced by
        # products.release_at (ADR 0357): versions saved with it still load; a new setting
        # that names it is refused like any unknown field.
        if isinstance(info.context, dict) and info.context.get("stored") and isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k != "early_access_tag"}
        return raw

    @model_validator(mode="after")
    def _days(self) -> MemberDayConfig:
        if any(not 1 <= d <= 31 for d in self.days_of_month):
            raise ValueError("days of the month are 1 to 31")
        if any(not 0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return self

    def is_member_day(self, day: date) -> bool:
        return day.day in self.days_of_month or day.weekday() in self.weekdays


class RefundPolicyConfig(_Strict):
    spent_points: Literal["debt", "cap"] = "debt"


class Milestone(_Strict):
    """What a streak earns on the day it reaches ``day`` (again after every reset)."""

    day: int = Field(ge=1, le=366, description="the streak day: 7 = the 7th day in a row")
    points: int = Field(default=0, ge=0, le=1_000_000)
    growth: int = Field(default=0, ge=0, le=1_000_000)
    coupon_template_id: int | None = Field(default=None, ge=1)


class CheckInConfig(_Strict):
    """Daily check-in (ADR 1320): once per local day; a streak is the number of days in a row
    ending today; a day without a check-in resets it to 1 on the next check-in."""

    enabled: bool = True
    daily_points: int = Field(default=0, ge=0, le=1_000_000, description="points each day")
    streak_points: list[int] = Field(
        default_factory=list,
        max_length=31,
        description="points on streak day 1, 2, 3…; later days earn the last (replaces daily)",
    )
    daily_growth: int = Field(default=0, ge=0, le=1_000_000)
    milestones: list[Milestone] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _check(self) -> CheckInConfig:
        if any(p < 0 or p > 1_000_000 for p in self.streak_points):
            raise ValueError("points by streak day are 0 to 1000000")
        days = [m.day for m in self.milestones]
        if len(set(days)) != len(days):
            raise ValueError("one milestone per streak day")
        self.milestones = sorted(self.milestones, key=lambda m: m.day)
        return self

    def points_on(self, streak: int) -> int:
        """Points of the day's check-in on streak day ``streak`` (milestones aside)."""
        if self.streak_points:
            return self.streak_points[min(streak, len(self.streak_points)) - 1]
        return self.daily_points

    def milestone_on(self, streak: int) -> Milestone | None:
        return next((m for m in self.milestones if m.day == streak), None)

    def next_milestone(self, streak: int) -> Milestone | None:
        return next((m for m in self.milestones if m.day > streak), None)


ACTION_NAME = r"^[a-z][a-z0-9_]{0,39}$"


class ActionRule(_Strict):
    """What one named action earns, and how often (caps count earning actions per member, in
    the merchant's calendar: day, Monday-to-Sunday week, month, and ever)."""

    name: str = Field(pattern=ACTION_NAME, description="the name integrators send")
    label: str = Field(min_length=1, max_length=80, description="the merchant's words")
    points: int = Field(default=0, ge=0, le=1_000_000)
    growth: int = Field(default=0, ge=0, le=1_000_000)
    cap_per_day: int | None = Field(default=None, ge=0)
    cap_per_week: int | None = Field(default=None, ge=0)
    cap_per_month: int | None = Field(default=None, ge=0)
    cap_ever: int | None = Field(default=None, ge=0)


class ActionsConfig(_Strict):
    actions: list[ActionRule] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _unique(self) -> ActionsConfig:
        names = [a.name for a in self.actions]
        if len(set(names)) != len(names):
            raise ValueError("action names are unique")
        return self

    def rule(self, name: str) -> ActionRule | None:
        return next((a for a in self.actions if a.name == name), None)


CONFIG_MODELS: dict[Kind, type[BaseModel]] = {
    Kind.POINTS: PointsConfig,
    Kind.TIERS: TiersConfig,
    Kind.STORED_VALUE: StoredValueConfig,
    Kind.MEMBER_DAY: MemberDayConfig,
    Kind.REFUND_POLICY: RefundPolicyConfig,
    Kind.CHECK_IN: CheckInConfig,
    Kind.ACTIONS: ActionsConfig,
}
