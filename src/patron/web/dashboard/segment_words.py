"""The segment builder's vocabulary: every rule field's label, help and how its value is asked
for, and every condition in words that fit the value ("at least", "within the last … days",
"is one of"). Codes (``total_spent_minor``, ``gte``) stay in the stored rules and never reach
the screen (ADR 0610). Strings are English msgids translated where they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from patron.i18n import N_
from patron.i18n.labels import humanise

PROFILE = N_("Profile")
PURCHASES = N_("Purchases")
LOYALTY = N_("Loyalty")
COUPONS = N_("Coupons")
MESSAGES = N_("Messages")
PREDICTIONS = N_("Predictions")
GROUPS = (PROFILE, PURCHASES, LOYALTY, COUPONS, MESSAGES, PREDICTIONS)

NUMBER_OPS = ("gte", "lte", "gt", "lt", "eq", "ne", "between")
PICK_OPS = ("eq", "ne", "in", "not_in")
DAYS_AGO_OPS = ("lte", "gt", "gte", "lt", "between")
DATE_OPS = ("before", "after", "on", "between")


@dataclass(frozen=True)
class FieldWords:
    """How the builder shows one field.

    ``widget`` says how the value is entered: text, choice, tag, count, number, money, percent,
    days, date, yes_no, none, or a field of several parts (bought, window_count, window_money,
    preference, consent, rfm_score). ``ops`` are the conditions offered, in order; ``words``
    names their wording (:data:`OP_WORDS`); ``choices`` names the list values come from.
    """

    label: str
    help: str
    group: str
    widget: str
    ops: tuple[str, ...]
    words: str = "compare"
    choices: str = ""


def _f(*args: str, ops: tuple[str, ...], words: str = "compare", choices: str = "") -> FieldWords:
    label, help_text, group, widget = args
    return FieldWords(label, help_text, group, widget, ops, words, choices)


# fmt: off
FIELD_WORDS: dict[str, FieldWords] = {
    "everyone": _f(
        N_("Every member"), N_("All members, with no condition."), PROFILE, "none",
        ops=("eq",), words="none",
    ),
    "first_name": _f(
        N_("First name"), N_("The member's given name."), PROFILE, "text", ops=PICK_OPS
    ),
    "last_name": _f(
        N_("Last name"), N_("The member's family name."), PROFILE, "text", ops=PICK_OPS
    ),
    "gender": _f(
        N_("Gender"), N_("As the member gave it."), PROFILE, "choice", ops=PICK_OPS,
        choices="gender",
    ),
    "locale": _f(
        N_("Language"), N_("The language the member reads messages in."), PROFILE, "choice",
        ops=PICK_OPS, choices="language",
    ),
    "funnel_stage": _f(
        N_("Stage"), N_("How far along the member is: user, customer, member or fan."), PROFILE,
        "choice", ops=PICK_OPS, choices="stage",
    ),
    "source": _f(
        N_("Joined through"),
        N_("Where the member's profile came from: sign-up, the till, an import…"),
        PROFILE, "choice", ops=PICK_OPS, choices="source",
    ),
    "home_store_id": _f(
        N_("Home store"), N_("The store the member belongs to."), PROFILE, "choice", ops=PICK_OPS,
        choices="store",
    ),
    "city": _f(
        N_("City"), N_("The city in the member's address."), PROFILE, "text", ops=PICK_OPS,
        choices="city",
    ),
    "registered": _f(
        N_("Registered member"), N_("Joined the loyalty program, not only bought."), PROFILE,
        "yes_no", ops=("eq",), words="is",
    ),
    "registered_days_ago": _f(
        N_("Joined"), N_("Days since the member joined the loyalty program."), PROFILE, "days",
        ops=DAYS_AGO_OPS, words="days_ago",
    ),
    "registered_date": _f(
        N_("Join date"), N_("The day the member joined, in your calendar."), PROFILE, "date",
        ops=DATE_OPS, words="date",
    ),
    "birthday_within_days": _f(
        N_("Birthday"), N_("Members whose birthday falls in the coming days."), PROFILE, "days",
        ops=("lte",), words="days_ahead",
    ),
    "tag": _f(
        N_("Tag"), N_("A tag you, a journey or an import gave the member."), PROFILE, "tag",
        ops=("has", "has_not"), words="tag", choices="tag",
    ),
    "preference": _f(
        N_("Preference"), N_("A category, style or colour the member said they like."), PROFILE,
        "preference", ops=("has", "has_not"), words="likes", choices="pref_kind",
    ),
    "orders_count": _f(
        N_("Number of purchases"), N_("All the member's purchases so far."), PURCHASES, "count",
        ops=NUMBER_OPS,
    ),
    "total_spent_minor": _f(
        N_("Total spent"), N_("Everything the member has paid, less refunds."), PURCHASES, "money",
        ops=NUMBER_OPS,
    ),
    "last_order_days_ago": _f(
        N_("Last purchase"), N_("Days since the member last bought."), PURCHASES, "days",
        ops=DAYS_AGO_OPS, words="days_ago",
    ),
    "last_order_date": _f(
        N_("Last purchase date"), N_("The day of the member's last purchase, in your calendar."),
        PURCHASES, "date", ops=DATE_OPS, words="date",
    ),
    "first_order_days_ago": _f(
        N_("First purchase"), N_("Days since the member first bought."), PURCHASES, "days",
        ops=DAYS_AGO_OPS, words="days_ago",
    ),
    "first_order_date": _f(
        N_("First purchase date"), N_("The day of the member's first purchase, in your calendar."),
        PURCHASES, "date", ops=DATE_OPS, words="date",
    ),
    "no_order_for_days": _f(
        N_("No purchase"), N_("Has not bought in the last days, or never bought."), PURCHASES,
        "days", ops=("gte",), words="days_without",
    ),
    "orders_within_days": _f(
        N_("Purchases in a period"), N_("How many times the member bought in the last days."),
        PURCHASES, "window_count", ops=NUMBER_OPS,
    ),
    "spend_within_days": _f(
        N_("Spent in a period"), N_("What the member paid in the last days, less refunds."),
        PURCHASES, "window_money", ops=NUMBER_OPS,
    ),
    "bought_category": _f(
        N_("Bought from category"), N_("The member bought something in this category."),
        PURCHASES, "bought", ops=("ever", "within_days"), words="bought", choices="category",
    ),
    "bought_sku": _f(
        N_("Bought product"), N_("The member bought this product."), PURCHASES, "bought",
        ops=("ever", "within_days"), words="bought", choices="product",
    ),
    "tier": _f(
        N_("Tier"), N_("The member's tier now."), LOYALTY, "choice", ops=PICK_OPS, choices="tier"
    ),
    "points_balance": _f(
        N_("Points balance"), N_("Points the member can spend now."), LOYALTY, "count",
        ops=NUMBER_OPS,
    ),
    "pending_points": _f(
        N_("Points on hold"), N_("Points earned but not yet spendable (return window)."), LOYALTY,
        "count", ops=NUMBER_OPS,
    ),
    "growth": _f(
        N_("Growth value"), N_("What tiers are worked out from."), LOYALTY, "count", ops=NUMBER_OPS
    ),
    "stored_value_balance": _f(
        N_("Stored value balance"), N_("The top-up balance, bonus included."), LOYALTY, "money",
        ops=NUMBER_OPS,
    ),
    "engagement_score": _f(
        N_("Engagement score"), N_("Rises as the member visits the portal and opens messages."),
        LOYALTY, "count", ops=NUMBER_OPS,
    ),
    "has_coupon": _f(
        N_("Holds a coupon"), N_("An unused coupon of this kind that has not expired."), COUPONS,
        "choice", ops=("has", "has_not"), words="holds", choices="coupon",
    ),
    "coupon_expiring_within_days": _f(
        N_("Coupon expiring"), N_("Holds an unused coupon that expires in the coming days."),
        COUPONS, "days", ops=("lte",), words="days_ahead",
    ),
    "has_contact": _f(
        N_("Can be reached by"), N_("The member has a phone number or an email address."),
        MESSAGES, "choice", ops=("eq",), words="has", choices="contact",
    ),
    "consent": _f(
        N_("Consent to messages"),
        N_("The member agreed to messages on this channel about this topic."),
        MESSAGES, "consent", ops=("granted", "not_granted"), words="agreed", choices="channel",
    ),
    "p_alive": _f(
        N_("Chance still active"),
        N_("Predicted chance that the customer still buys from you, from their purchase pattern."),
        PREDICTIONS, "percent", ops=NUMBER_OPS,
    ),
    "expected_purchases": _f(
        N_("Expected purchases (90 days)"), N_("Predicted purchases in the next 90 days."),
        PREDICTIONS, "number", ops=NUMBER_OPS,
    ),
    "predicted_clv": _f(
        N_("Predicted value (12 months)"), N_("Predicted spend over the next 12 months."),
        PREDICTIONS, "money", ops=NUMBER_OPS,
    ),
    "rfm_segment": _f(
        N_("Customer group"),
        N_("Grouped by how recently, how often and how much the member buys."),
        PREDICTIONS, "choice", ops=PICK_OPS, choices="rfm",
    ),
    "rfm_score": _f(
        N_("Purchase score"), N_("A score from 1 to 5 for how recently, how often or how much."),
        PREDICTIONS, "rfm_score", ops=NUMBER_OPS, choices="rfm_letter",
    ),
}
# fmt: on

# The parts of a several-part field's value: (part holding the choice, part holding the number).
VALUE_KEYS = {
    "bought_category": "category",
    "bought_sku": "sku",
    "orders_within_days": "count",
    "spend_within_days": "amount",
}

# Condition wording by family: (what the condition list shows, the sentence that describes a
# rule). Sentences take %(field)s, %(value)s, %(low)s and %(high)s, %(n)s (days).
_COMPARE = {
    "eq": (N_("is"), N_("%(field)s is %(value)s")),
    "ne": (N_("is not"), N_("%(field)s is not %(value)s")),
    "gt": (N_("more than"), N_("%(field)s more than %(value)s")),
    "gte": (N_("at least"), N_("%(field)s at least %(value)s")),
    "lt": (N_("less than"), N_("%(field)s less than %(value)s")),
    "lte": (N_("at most"), N_("%(field)s at most %(value)s")),
    "between": (N_("between"), N_("%(field)s between %(low)s and %(high)s")),
    "in": (N_("is one of"), N_("%(field)s is one of %(value)s")),
    "not_in": (N_("is none of"), N_("%(field)s is none of %(value)s")),
}
OP_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "compare": _COMPARE,
    "days_ago": {
        "lte": (N_("within the last … days"), N_("%(field)s within the last %(n)s days")),
        "gt": (N_("more than … days ago"), N_("%(field)s more than %(n)s days ago")),
        "gte": (N_("at least … days ago"), N_("%(field)s at least %(n)s days ago")),
        "lt": (N_("less than … days ago"), N_("%(field)s less than %(n)s days ago")),
        "between": (
            N_("between … and … days ago"),
            N_("%(field)s between %(low)s and %(high)s days ago"),
        ),
    },
    "days_ahead": {
        "lte": (N_("within the next … days"), N_("%(field)s within the next %(n)s days")),
    },
    "days_without": {"gte": (N_("for at least … days"), N_("%(field)s for at least %(n)s days"))},
    "date": {
        "before": (N_("before"), N_("%(field)s before %(value)s")),
        "after": (N_("after"), N_("%(field)s after %(value)s")),
        "on": (N_("on"), N_("%(field)s on %(value)s")),
        "between": (N_("between"), N_("%(field)s between %(low)s and %(high)s")),
    },
    "tag": {
        "has": (N_("has"), N_("Has the tag %(value)s")),
        "has_not": (N_("does not have"), N_("Does not have the tag %(value)s")),
    },
    "is": {"eq": (N_("is"), N_("%(field)s: %(value)s"))},
    "none": {"eq": (N_("no condition"), N_("Every member"))},
    "bought": {
        "ever": (N_("ever"), N_("%(field)s %(value)s, ever")),
        "within_days": (
            N_("within the last … days"),
            N_("%(field)s %(value)s within the last %(n)s days"),
        ),
    },
    "likes": {
        "has": (N_("likes"), N_("Likes %(value)s (%(kind)s)")),
        "has_not": (N_("does not like"), N_("Does not like %(value)s (%(kind)s)")),
    },
    "agreed": {
        "granted": (N_("has agreed"), N_("Agreed to %(topic)s messages by %(channel)s")),
        "not_granted": (
            N_("has not agreed"),
            N_("Has not agreed to %(topic)s messages by %(channel)s"),
        ),
    },
    "holds": {
        "has": (N_("holds"), N_("Holds an unused coupon %(value)s")),
        "has_not": (N_("does not hold"), N_("Does not hold an unused coupon %(value)s")),
    },
    "has": {"eq": (N_("has"), N_("Has %(value)s"))},
}
# The field's label in a sentence when the rule looks at a period: "Purchases in the last 30 days".
WINDOW_LABELS = {
    "orders_within_days": N_("Purchases in the last %(n)s days"),
    "spend_within_days": N_("Spent in the last %(n)s days"),
}

# Fixed choice lists (value, label msgid); the merchant's own lists are read from the database.
FIXED_CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "gender": (
        ("female", N_("Female")),
        ("male", N_("Male")),
        ("other", N_("Other")),
        ("unknown", N_("Not given")),
    ),
    "stage": (
        ("user", N_("User")),
        ("customer", N_("Customer")),
        ("member", N_("Member")),
        ("fan", N_("Fan")),
    ),
    "contact": (("phone", N_("a phone number")), ("email", N_("an email address"))),
    "pref_kind": (
        ("categories", N_("category")),
        ("styles", N_("style")),
        ("colours", N_("colour")),
    ),
    "rfm_letter": (
        ("r", N_("Recency score")),
        ("f", N_("Frequency score")),
        ("m", N_("Spend score")),
    ),
    "channel": (
        ("email", N_("Email")),
        ("sms", N_("SMS")),
        ("whatsapp", N_("WhatsApp")),
        ("wechat", N_("WeChat")),
        ("in_app", N_("In-app")),
    ),
    "rfm": (
        ("champions", N_("Champions")),
        ("loyal", N_("Loyal")),
        ("potential_loyalist", N_("Potential loyalists")),
        ("new", N_("New")),
        ("promising", N_("Promising")),
        ("need_attention", N_("Need attention")),
        ("about_to_sleep", N_("About to sleep")),
        ("cant_lose", N_("Can't lose them")),
        ("at_risk", N_("At risk")),
        ("hibernating", N_("Hibernating")),
        ("lost", N_("Lost")),
    ),
    "yes_no": (("yes", N_("Yes")), ("no", N_("No"))),
}
# Choice lists whose values are ids (numbers in the stored rule).
ID_CHOICES = frozenset({"store", "coupon"})


def words_for(name: str) -> FieldWords:
    """The field's words; a field added by a plugin without words gets its name humanised."""
    known = FIELD_WORDS.get(name)
    if known is not None:
        return known
    return FieldWords(humanise(name), "", PROFILE, "text", (), "compare")


def op_words(family: str, op: str) -> tuple[str, str]:
    """(condition label, sentence) for ``op``; an operator with no words is humanised."""
    found = OP_WORDS.get(family, {}).get(op) or _COMPARE.get(op)
    if found is not None:
        return found
    return humanise(op), "%(field)s " + humanise(op).lower() + " %(value)s"
