"""Message templates: sandboxed Jinja2, one variant per locale, checked when saved.

A template may only use the variables in :data:`SCHEMA` (and only their declared attributes);
anything else is refused with 422 ``unknown_template_variable`` when the template is saved, so
a typo never reaches a member. HTML fields are autoescaped; text fields are not.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from patron.core.errors import InvalidInput
from patron.core.languages import OFFERED, normalise_locale
from patron.engagement import tokens

LOCALES = OFFERED
SCHEMA: dict[str, frozenset[str]] = {
    "member": frozenset(
        {
            "id",
            "first_name",
            "last_name",
            "display_name",
            "greeting_name",
            "email",
            "phone",
            "birthday",
            "locale",
            "funnel_stage",
        }
    ),
    "merchant": frozenset({"name", "slug", "currency"}),
    "tier": frozenset({"name", "level"}),
    "balance": frozenset({"points", "stored_value", "points_expiring", "points_expiring_at"}),
    "coupon": frozenset({"code", "title", "value", "expires_at"}),
    "product": frozenset({"name", "sku", "price", "category", "url"}),
    "links": frozenset({"unsubscribe", "portal", "shop", "product", "coupon", "review"}),
}
# Fields each channel's variant must have; lists and dicts hold template strings too.
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "html", "text"),
    "sms": ("body",),
    "in_app": ("title", "body"),
    "whatsapp": ("template_name", "language", "parameters"),
    "wechat": ("template_id", "data"),
}
HTML_FIELDS = frozenset({"html"})

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Any:
    return (_html_env if html else _text_env).from_string(source)


def _attribute_paths(ast: nodes.Template) -> list[tuple[str, str]]:
    """(variable, attribute) pairs used as ``var.attr`` or ``var["attr"]``."""
    found: list[tuple[str, str]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not isinstance(target, nodes.Name) or target.ctx != "load":
            continue
        if isinstance(node, nodes.Getattr):
            found.append((target.name, node.attr))
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                found.append((target.name, key.value))
    return found


def check_source(source: str, where: str) -> None:
    """Refuse syntax errors, unknown variables and unknown attributes (422)."""
    try:
        ast = _text_env.parse(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(
            f"{where}: {exc.message} (line {exc.lineno})", code="invalid_template"
        ) from exc
    unknown = sorted(meta.find_undeclared_variables(ast) - SCHEMA.keys())
    if unknown:
        raise InvalidInput(
            f"{where}: unknown variable '{unknown[0]}'",
            code="unknown_template_variable",
            details={"field": where, "variables": unknown, "allowed": sorted(SCHEMA)},
        )
    for name, attr in _attribute_paths(ast):
        if name in SCHEMA and attr not in SCHEMA[name]:
            raise InvalidInput(
                f"{where}: unknown variable '{name}.{attr}'",
                code="unknown_template_variable",
                details={
                    "field": where,
                    "variables": [f"{name}.{attr}"],
                    "allowed": sorted(SCHEMA[name]),
                },
            )


def _sources(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _sources(v, f"{where}[{i}]")]
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _sources(v, f"{where}.{k}")]
    raise InvalidInput(f"{where}: must be text", code="invalid_template")


def validate_variants(channel: str, variants: dict[str, Any]) -> None:
    """Check a template's variants for ``channel`` before it is saved."""
    fields = CHANNEL_FIELDS.get(channel)
    if fields is None:
        raise InvalidInput(f"unknown channel '{channel}'", code="unknown_channel")
    if not variants:
        raise InvalidInput("a template needs at least one locale variant", code="invalid_template")
    for locale, variant in variants.items():
        if locale not in LOCALES:
            raise InvalidInput(
                f"unsupported locale '{locale}'",
                code="unsupported_locale",
                details={"allowed": list(LOCALES)},
            )
        if not isinstance(variant, dict):
            raise InvalidInput(f"{locale}: a variant is an object", code="invalid_template")
        missing = [f for f in fields if f not in variant]
        if missing:
            raise InvalidInput(
                f"{locale}: missing field '{missing[0]}' for {channel}",
                code="invalid_template",
                details={"missing": missing},
            )
        for where, source in _sources(variant, locale):
            check_source(source, where)


def choose_locale(
    variants: dict[str, Any], member_language: str | None, merchant_locale: str | None
) -> str:
    """The member's language (:func:`patron.members.language.member_language`: given, else
    inferred from phone or address, else the merchant's), else the merchant's, else English,
    else whatever variant exists."""
    for candidate in (normalise_locale(member_language), normalise_locale(merchant_locale), "en"):
        if candidate and candidate in variants:
            return candidate
    return next(iter(variants))


def _render(value: Any, variables: dict[str, Any], html: bool) -> Any:
    if isinstance(value, str):
        return _compiled(value, html).render(variables)
    if isinstance(value, list):
        return [_render(v, variables, html) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, variables, html) for k, v in value.items()}
    return value


def render_variant(variant: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """Render every field of one variant; raises :class:`RenderFailed` on a missing value."""
    try:
        return {k: _render(v, variables, k in HTML_FIELDS) for k, v in variant.items()}
    except TemplateError as exc:
        raise RenderFailed(str(exc)) from exc


class RenderFailed(Exception):
    """A saved template met data it could not render (e.g. a coupon that was not given)."""


_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def add_tracking(html: str, message_id: int, base_url: str, secret_key: str, keep: str) -> str:
    """Route links through the click redirect and add the open pixel (not the ``keep`` link)."""

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(3).replace("&amp;", "&")
        if target == keep:
            return match.group(0)
        tracked = tokens.click_url(base_url, secret_key, message_id, target)
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

    tracked = _LINK.sub(rewrite, html)
    pixel = (
        f'<img src="{tokens.open_url(base_url, secret_key, message_id)}" width="1" height="1" '
        'alt="" style="display:none">'
    )
    if "</body>" in tracked:
        return tracked.replace("</body>", pixel + "</body>", 1)
    return tracked + pixel
