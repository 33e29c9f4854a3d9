"""The ``index.html`` of ``make screenshots``: each role's pages, one row per page, one column
per language, thumbnails linking to the full-page PNGs."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path


@dataclass
class Shot:
    """One page as one role saw it in one language: the PNG (relative to the gallery), or
    why there is none."""

    role: str
    lang: str
    name: str
    path: str
    file: str | None = None
    status: int = 0
    note: str = ""


@dataclass
class Gallery:
    roles: list[str]
    langs: list[str]
    shots: list[Shot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def html(self) -> str:
        """The whole page (inline CSS, no scripts)."""
        parts = [
            "<!doctype html><html lang='en'><meta charset='utf-8'>",
            "<title>Patron screenshots</title>",
            "<style>body{font:14px system-ui,sans-serif;margin:24px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}"
            "img{width:280px;border:1px solid #ccc}.bad{color:#b00020}.muted{color:#777}</style>",
            "<h1>Patron screenshots</h1>",
        ]
        parts += [f"<p class='bad'>{escape(note)}</p>" for note in self.notes]
        for role in self.roles:
            parts.append(self._role(role))
        return "\n".join(parts) + "\n"

    def _role(self, role: str) -> str:
        rows: dict[tuple[str, str], dict[str, Shot]] = {}
        for shot in self.shots:
            if shot.role == role:
                rows.setdefault((shot.name, shot.path), {})[shot.lang] = shot
        head = "".join(f"<th>{escape(lang)}</th>" for lang in self.langs)
        body = []
        for (name, path), by_lang in rows.items():
            cells = "".join(self._cell(by_lang.get(lang)) for lang in self.langs)
            body.append(
                f"<tr><td><b>{escape(name)}</b><br><code>{escape(path)}</code></td>{cells}</tr>"
            )
        return (
            f"<h2 id='{escape(role)}'>{escape(role)} ({len(rows)} pages)</h2>"
            f"<table><tr><th>page</th>{head}</tr>{''.join(body)}</table>"
        )

    @staticmethod
    def _cell(shot: Shot | None) -> str:
        if shot is None:
            return "<td class='muted'>—</td>"
        if shot.file is None:
            css = "bad" if shot.status >= 400 and shot.status != 403 else "muted"
            return f"<td class='{css}'>{shot.status or ''} {escape(shot.note)}</td>"
        src = escape(shot.file)
        return f"<td><a href='{src}'><img src='{src}' loading='lazy' alt=''></a></td>"

    def write(self, folder: Path) -> Path:
        target = folder / "index.html"
        target.write_text(self.html(), encoding="utf-8")
        return target
