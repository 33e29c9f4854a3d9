"""The program settings forms: one description per kind drives both the page and the parsing.

A form is a list of sections; a section holds fields (one value at a dotted path of the
setting, e.g. ``redemption.points``) and row groups (a list of objects, e.g. the tiers). Money is
entered in major units (12.50) and kept in minor units with the currency's own exponent (Babel),
so a yen merchant types 1500 and a yuan merchant 15.00. The programs service stays the judge of
what is valid: this module only turns text into numbers and says so when it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from babel.numbers import get_currency_precision

from patron.i18n import N_
from patron.programs.config import Kind

# Blank rows offered under a row group so a merchant can add entries without scripts.
BLANK_ROWS = 2
WEEKDAYS = [
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
]


@dataclass(frozen=True)
class Field:
    """One input. ``kind``: int, opt_int (blank = none), money, opt_money, decimal, text,
    opt_text, csv (comma-separated words), int_list (comma-separated whole numbers), choice,
    bool, date, days (1-31), weekdays, coupon (one of the merchant's coupons, or none)."""

    key: str
    label: str
    kind: str = "int"
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    suffix: str = ""


@dataclass(frozen=True)
class Rows:
    """A repeating group (tiers, bonus levels, multipliers) shown as a table of inputs."""

    key: str
    label: str
    fields: tuple[Field, ...]
    help: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    help: str = ""
    items: tuple[Field | Rows, ...] = ()


@dataclass
class Parsed:
    """What a submitted form says: the setting's body, or the fields it could not read."""

    config: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


POINTS_FORM = (
    Section(
        N_("Earning"),
        N_("How many points a purchase earns. Amounts are what the member pays for the goods."),
        (
            Field("earn_points", N_("Points earned"), suffix=N_("points")),
            Field("per_minor", N_("For every"), "money", N_("amount spent")),
            Field(
                "rounding",
                N_("Rounding"),
                "choice",
                N_("Applied once to the order's points."),
                ((("floor"), N_("Round down")), ("half_up", N_("Round half up"))),
            ),
            Field(
                "earn_base",
                N_("Points are counted on"),
                "choice",
                choices=(
                    ("before_discounts", N_("the price before discounts")),
                    ("after_discounts", N_("the price after discounts")),
                    ("after_redemptions", N_("only the part paid in money")),
                ),
            ),
            Field("minimum_order_minor", N_("Smallest order that earns"), "money"),
            Field("cap_per_order", N_("Most points per order"), "opt_int", N_("Blank: no limit.")),
            Field(
                "cap_per_day",
                N_("Most points per member per day"),
                "opt_int",
                N_("Blank: no limit."),
            ),
            Field(
                "exclude_categories",
                N_("Categories that earn nothing"),
                "csv",
                N_("Separate with commas."),
            ),
            Field(
                "exclude_skus",
                N_("Products (SKU) that earn nothing"),
                "csv",
                N_("Separate with commas."),
            ),
        ),
    ),
    Section(
        N_("Extra points"),
        N_(
            "Multiply the points on a tier, a store (code), a category, a product (SKU) or dates. "
            "A factor of 2 gives double points."
        ),
        (
            Rows(
                "multipliers",
                N_("Multipliers"),
                (
                    Field(
                        "applies_to",
                        N_("Applies to"),
                        "choice",
                        choices=(
                            ("tier", N_("Tier")),
                            ("store", N_("Store")),
                            ("category", N_("Category")),
                            ("product", N_("Product")),
                            ("dates", N_("Dates")),
                        ),
                    ),
                    Field("value", N_("Which one"), "opt_text"),
                    Field("starts_on", N_("From"), "date"),
                    Field("ends_on", N_("Until (included)"), "date"),
                    Field("factor", N_("Factor"), "decimal"),
                ),
            ),
        ),
    ),
    Section(
        N_("Pending and expiry"),
        N_("Points wait out the return window before they can be spent."),
        (
            Field("pending_days", N_("Return window"), suffix=N_("days")),
            Field(
                "expiry.mode",
                N_("Points expire"),
                "choice",
                choices=(
                    ("never", N_("Never")),
                    ("rolling", N_("A number of months after they are earned")),
                    ("end_of_month", N_("At the end of the month, months later")),
                    ("end_of_year", N_("At the end of the year, months later")),
                ),
            ),
            Field("expiry.months", N_("Months"), suffix=N_("months")),
            Field("expiring_notice_days", N_("Tell members before expiry"), suffix=N_("days")),
            Field("welcome_bonus", N_("Welcome points"), suffix=N_("points")),
            Field("birthday_bonus", N_("Birthday points"), suffix=N_("points")),
        ),
    ),
    Section(
        N_("Paying with points"),
        N_("Members pay part of an order with points, in whole blocks."),
        (
            Field("redemption.enabled", N_("Members can pay with points"), "bool"),
            Field("redemption.points", N_("Points per block"), suffix=N_("points")),
            Field("redemption.value_minor", N_("A block is worth"), "money"),
            Field("redemption.minimum_points", N_("Fewest points to use"), suffix=N_("points")),
            Field(
                "redemption.max_share_percent", N_("Most of an order paid with points"), suffix="%"
            ),
        ),
    ),
)

TIERS_FORM = (
    Section(
        N_("Growth"),
        N_(
            "Members earn growth on what they pay for goods; growth decides the tier, never "
            "the points they can spend."
        ),
        (
            Field("growth_per", N_("Growth earned"), suffix=N_("growth")),
            Field("per_minor", N_("For every"), "money", N_("amount paid")),
            Field("evaluation_months", N_("A tier is kept for"), suffix=N_("months")),
            Field(
                "growth_window_months",
                N_("Growth counts for"),
                "opt_int",
                N_("Blank: the same as the evaluation period."),
                suffix=N_("months"),
            ),
        ),
    ),
    Section(
        N_("Tiers"),
        N_("Lowest first; the first tier needs 0 growth. Leave a row blank to remove it."),
        (
            Rows(
                "tiers",
                N_("Tiers"),
                (
                    Field("code", N_("Code"), "text"),
                    Field("name", N_("Name"), "text"),
                    Field("threshold", N_("Growth needed")),
                    Field("discount_percent", N_("Discount, percent"), "decimal"),
                    Field("points_multiplier", N_("Points ×"), "decimal"),
                    Field("birthday_gift", N_("Birthday gift"), "bool"),
                    Field("free_shipping", N_("Free shipping"), "bool"),
                ),
            ),
        ),
    ),
)

STORED_VALUE_FORM = (
    Section(
        N_("Top-up bonus levels"),
        N_(
            "A top-up of at least this amount gets this bonus. The highest level reached "
            "applies; levels do not add up."
        ),
        (
            Rows(
                "bonus_levels",
                N_("Bonus levels"),
                (
                    Field("top_up_minor", N_("Top-up of at least"), "money"),
                    Field("bonus_minor", N_("Bonus"), "money"),
                ),
            ),
        ),
    ),
    Section(
        N_("Spending and refunds"),
        "",
        (
            Field(
                "spend_order",
                N_("Spend first"),
                "choice",
                choices=(
                    ("principal_first", N_("The money the member paid in")),
                    ("bonus_first", N_("The bonus")),
                ),
            ),
            Field(
                "used_bonus_on_refund",
                N_("When a top-up is refunded after its bonus was spent"),
                "choice",
                choices=(
                    ("deduct_from_refund", N_("Keep the spent bonus back from the refund")),
                    ("merchant_absorbs", N_("Refund everything; the shop bears the bonus")),
                ),
            ),
        ),
    ),
)

MEMBER_DAY_FORM = (
    Section(
        N_("When"),
        N_("Member day falls on these days of the month and weekdays (shop's time zone)."),
        (
            Field("days_of_month", N_("Days of the month"), "days"),
            Field("weekdays", N_("Weekdays"), "weekdays"),
        ),
    ),
    Section(
        N_("What members get"),
        "",
        (
            Field("discount_percent", N_("Discount"), "decimal", suffix="%"),
            Field("points_multiplier", N_("Points ×"), "decimal"),
        ),
    ),
    Section(
        N_("Early access"),
        N_(
            "A product with a release time can be bought before it only by members "
            "(the release time is set on the product)."
        ),
        (
            Field(
                "early_access",
                N_("Before release"),
                "choice",
                choices=(
                    ("members", N_("Members may buy it on any day")),
                    ("member_day", N_("Members may buy it on member days only")),
                ),
            ),
            Field(
                "early_access_tiers",
                N_("Only these tiers"),
                "csv",
                N_("Tier codes separated by commas; empty: every member."),
            ),
        ),
    ),
)

REFUND_POLICY_FORM = (
    Section(
        N_("Points already spent"),
        N_(
            "When an order is refunded, its points are taken back. If the member already spent "
            "them:"
        ),
        (
            Field(
                "spent_points",
                N_("Then"),
                "choice",
                choices=(
                    ("debt", N_("The balance goes below zero; new points pay it back first")),
                    ("cap", N_("Take back only what the member still has; forgive the rest")),
                ),
            ),
        ),
    ),
)

CHECK_IN_FORM = (
    Section(
        N_("Every day"),
        N_(
            "Members check in once a day in the member portal (a day of the shop's calendar). "
            "A streak is the number of days in a row; a day missed starts it again at 1."
        ),
        (
            Field("enabled", N_("Members can check in"), "bool"),
            Field("daily_points", N_("Points each day"), suffix=N_("points")),
            Field(
                "streak_points",
                N_("Points by day of the streak"),
                "int_list",
                N_(
                    "Optional, instead of the same points every day: 5, 5, 10, 20 gives 5 on "
                    "days 1 and 2, 10 on day 3 and 20 from day 4 on. Separate with commas."
                ),
            ),
            Field("daily_growth", N_("Growth each day"), suffix=N_("growth")),
        ),
    ),
    Section(
        N_("Milestones"),
        N_(
            "An extra reward on the day a streak reaches this many days (again with each new "
            "streak). Leave a row blank to remove it."
        ),
        (
            Rows(
                "milestones",
                N_("Milestones"),
                (
                    Field("day", N_("Day of the streak")),
                    Field("points", N_("Points"), "opt_int"),
                    Field("growth", N_("Growth"), "opt_int"),
                    Field("coupon_template_id", N_("Coupon"), "coupon"),
                ),
            ),
        ),
    ),
)

ACTIONS_FORM = (
    Section(
        N_("Rewarded actions"),
        N_(
            "Points, and growth if you like, for what members do besides buying: a review, "
            "following you on social media… Your app or website tells Patron each time, by "
            "the action's name. The member portal tells it two by itself: name an action "
            "birthday_given (a member gives their birthday) or profile_completed (a member "
            "completes their profile). Limits count the rewarded times per member; blank: no "
            "limit. Leave a row blank to remove it."
        ),
        (
            Rows(
                "actions",
                N_("Actions"),
                (
                    Field("label", N_("What the member did"), "text"),
                    Field("name", N_("Name your app sends"), "text"),
                    Field("points", N_("Points"), "opt_int"),
                    Field("growth", N_("Growth"), "opt_int"),
                    Field("cap_per_day", N_("Times a day"), "opt_int"),
                    Field("cap_per_week", N_("Times a week"), "opt_int"),
                    Field("cap_per_month", N_("Times a month"), "opt_int"),
                    Field("cap_ever", N_("Times in all"), "opt_int"),
                ),
            ),
        ),
    ),
)

FORMS: dict[Kind, tuple[Section, ...]] = {
    Kind.POINTS: POINTS_FORM,
    Kind.TIERS: TIERS_FORM,
    Kind.STORED_VALUE: STORED_VALUE_FORM,
    Kind.MEMBER_DAY: MEMBER_DAY_FORM,
    Kind.REFUND_POLICY: REFUND_POLICY_FORM,
    Kind.CHECK_IN: CHECK_IN_FORM,
    Kind.ACTIONS: ACTIONS_FORM,
}

TITLES: dict[Kind, str] = {
    Kind.POINTS: N_("Points"),
    Kind.TIERS: N_("Tiers"),
    Kind.STORED_VALUE: N_("Stored value"),
    Kind.MEMBER_DAY: N_("Member day"),
    Kind.REFUND_POLICY: N_("Refund policy"),
    Kind.CHECK_IN: N_("Daily check-in"),
    Kind.ACTIONS: N_("Rewarded actions"),
}

INTROS: dict[Kind, str] = {
    Kind.POINTS: N_(
        "Points earned on purchases, when they can be spent, when they expire, and "
        "how members pay with them."
    ),
    Kind.TIERS: N_("Membership tiers by growth, and what each tier gets."),
    Kind.STORED_VALUE: N_("Top-ups: bonus levels, which part is spent first, and refunds."),
    Kind.MEMBER_DAY: N_("A recurring day with a member discount and extra points."),
    Kind.REFUND_POLICY: N_("What a refund does to points the member has already spent."),
    Kind.CHECK_IN: N_("A daily check-in in the member portal: points each day and streak rewards."),
    Kind.ACTIONS: N_("Points and growth for reviews, follows and other things members do."),
}
