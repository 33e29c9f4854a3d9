"""The text a person sees on a rendered page (what a screen shows, not the markup): text nodes
and option labels, without scripts, styles, ``<template>`` contents and attributes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

HIDDEN = {"script", "style", "template", "datalist", "head"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    """The page's visible words, one text node per line."""
    parser = _Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


def code_words(text: str, codes: set[str]) -> list[str]:
    """Which of ``codes`` appear in ``text`` as whole words (case-sensitive)."""
    return sorted(c for c in codes if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text))
