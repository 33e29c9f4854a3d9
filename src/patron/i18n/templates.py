"""The Jinja templates of the pages, in each language, without a request: the web pages render
through them (``patron.web.rendering``) and so does the HTML report of ``patron report``
(ADR 0920). The templates and static files stay in ``web/``."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from patron.i18n import LANGUAGES, translations_for
from patron.i18n.labels import consent_source_label, content_field, funnel_reason, source_label

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


@lru_cache(maxsize=256)
def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: browsers may cache assets for as long as they like."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


@lru_cache(maxsize=len(LANGUAGES))
def environment(code: str) -> Environment:
    """The Jinja environment for one language (templates are compiled once per language)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations_for(code), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        static_url=static_url,
        LANGUAGES=LANGUAGES,
        content_field=content_field,
        source_label=source_label,
        consent_source_label=consent_source_label,
        funnel_reason=funnel_reason,
    )
    return env
