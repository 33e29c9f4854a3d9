"""Hand-made SVG charts: lines, bars, histograms, a heatmap, a funnel and a forest plot.

Charts are drawn on the server as inline SVG (ADR 0690): they need no script, so they render
under the dashboard's self-only Content-Security-Policy, print, and travel inside the
self-contained HTML report unchanged. Colours are SVG presentation attributes (not ``style``
attributes, which the CSP forbids); text takes the page's font. Every chart has a ``<title>``
and ``role="img"`` so screen readers announce it; the CSV link beside it gives the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#4338ca", "#0f9d77", "#e08a00", "#d0366b", "#3b8bd9", "#7a5af8", "#6b7385")
INK, MUTED, GRID, SOFT = "#14171f", "#6b7385", "#e5e7ee", "#eef0ff"
Fmt = Callable[[float], str]
W, H = 640, 260  # default canvas; the SVG scales to its container (viewBox)
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 16, 40


@dataclass(frozen=True)
class Series:
    """One line (or bar group) of a chart; ``None`` values leave a gap."""

    name: str
    values: Sequence[float | None]


def plain(v: float) -> str:
    """A number with thousands separators; one decimal when it is not whole."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def percent(v: float) -> str:
    return f"{v * 100:.0f}%" if abs(v * 100 - round(v * 100)) < 0.05 else f"{v * 100:.1f}%"


def nice_max(v: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``v`` (a round top for the y axis)."""
    if v <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(v))
    for step in (1, 2, 4, 6, 8, 10):  # quarters of these are round too
        if v <= step * base + 1e-12:
            return step * base
    return 10 * base


def _svg(title: str, body: list[str], width: int = W, height: int = H, cls: str = "") -> Markup:
    head = (
        f'<svg class="chart {cls}" viewBox="0 0 {width} {height}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" '
        f'font-size="12" font-family="inherit"><title>{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "middle", fill: str = MUTED, **kw: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in kw.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(s)}</text>"
    )


def _axes(top: float, fmt: Fmt, width: int, height: int) -> list[str]:
    """Horizontal grid lines at quarters of ``top`` with their labels."""
    out = []
    for i in range(5):
        y = height - PAD_B - (height - PAD_T - PAD_B) * i / 4
        out.append(
            f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        out.append(_text(PAD_L - 8, y + 4, fmt(top * i / 4), "end"))
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float], height: int) -> list[str]:
    step = max(1, math.ceil(len(labels) / 7))  # at most ~7 labels, never overlapping
    return [
        _text(x, height - PAD_B + 18, label)
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % step == 0 or i == len(labels) - 1
    ]


def _legend(series: Sequence[Series], width: int) -> list[str]:
    if len(series) < 2:
        return []
    out, x = [], PAD_L
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="2" width="10" height="10" rx="2" fill="{colour}"/>')
        out.append(_text(x + 14, 11, s.name, "start", INK))
        x += 24 + 7 * len(s.name)
    return out


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Fmt = plain,
    top: float | None = None,
    width: int = W,
    height: int = H,
) -> Markup:
    """Lines over periods (retention and repurchase over time, liability…)."""
    values = [v for s in series for v in s.values if v is not None]
    top = top if top is not None else nice_max(max(values, default=0.0))
    n = len(labels)
    inner_w, inner_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    xs = [PAD_L + (inner_w * (i + 0.5) / n) for i in range(n)]
    body = _axes(top, fmt, width, height) + _x_labels(labels, xs, height)
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        points: list[tuple[float, float, float]] = []
        for x, v in zip(xs, s.values, strict=True):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                points.append((x, -1, math.nan))
                continue
            points.append((x, height - PAD_B - inner_h * min(v / top, 1.0), v))
        path, pen = [], "M"
        for x, y, v in points:
            if math.isnan(v):
                pen = "M"
                continue
            path.append(f"{pen}{x:.1f},{y:.1f}")
            pen = "L"
        if path:
            body.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5" '
                'stroke-linejoin="round" stroke-linecap="round"/>'
            )
        for x, y, v in points:
            if not math.isnan(v):
                body.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" stroke="{colour}" '
                    f'stroke-width="2"><title>{escape(s.name)}: {escape(fmt(v))}</title></circle>'
                )
    return _svg(title, body + _legend(series, width), width, height, "line")


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Fmt = plain,
    width: int = W,
    height: int = H,
    highlight: Callable[[int], bool] | None = None,
) -> Markup:
    """Vertical bars, grouped when there are several series (histograms, counts per stage)."""
    values = [v or 0.0 for s in series for v in s.values]
    top = nice_max(max(values, default=0.0))
    n, k = len(labels), max(1, len(series))
    inner_w, inner_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    slot = inner_w / max(n, 1)
    bar = max(2.0, min(48.0, slot * 0.72 / k))
    xs = [PAD_L + slot * (i + 0.5) for i in range(n)]
    body = _axes(top, fmt, width, height) + _x_labels(labels, xs, height)
    for j, s in enumerate(series):
        for i, v in enumerate(s.values):
            v = v or 0.0
            h = inner_h * min(v / top, 1.0)
            x = xs[i] - bar * k / 2 + bar * j
            colour = PALETTE[j % len(PALETTE)]
            if highlight is not None and k == 1 and not highlight(i):
                colour = "#a5a1f0"
            body.append(
                f'<rect x="{x:.1f}" y="{height - PAD_B - h:.1f}" width="{bar - 1:.1f}" '
                f'height="{h:.1f}" rx="3" fill="{colour}"><title>{escape(labels[i])} · '
                f"{escape(s.name)}: {escape(fmt(v))}</title></rect>"
            )
    return _svg(title, body + _legend(series, width), width, height, "bars")


def hbar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    fmt: Fmt = plain,
    notes: Sequence[str] | None = None,
    width: int = W,
) -> Markup:
    """Horizontal bars with a label column: one row per category (RFM segments, funnel)."""
    row, label_w = 30, 170
    height = PAD_T + row * len(labels) + 8
    top = max(values, default=0.0) or 1.0
    room = width - label_w - 120
    body = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = PAD_T + i * row
        w = room * v / top
        body.append(_text(label_w - 10, y + 17, label, "end", INK))
        body.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{room}" height="{row - 10}" rx="4" '
            f'fill="{SOFT}"/>'
        )
        body.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 0):.1f}" height="{row - 10}" rx="4" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {escape(fmt(v))}</title></rect>'
        )
        note = f"{fmt(v)}" + (f" · {notes[i]}" if notes else "")
        body.append(_text(label_w + room + 8, y + 17, note, "start", INK))
    return _svg(title, body, width, height, "hbars")


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[int, int], float],
    fmt: Fmt = percent,
    notes: Sequence[str] = (),
    width: int = W,
) -> Markup:
    """A cohort grid: one row per cohort, one column per month since; colour = share."""
    label_w, note_w, cell_h = 90, 70, 26
    cols = max(1, len(columns))
    cell_w = (width - label_w - note_w - PAD_R) / cols
    height = 30 + cell_h * len(rows) + 6
    body = [_text(label_w + cell_w * (j + 0.5), 18, c) for j, c in enumerate(columns)]
    for i, r in enumerate(rows):
        y = 26 + i * cell_h
        body.append(_text(label_w - 8, y + 17, r, "end", INK))
        if i < len(notes):
            body.append(_text(width - PAD_R, y + 17, notes[i], "end"))
        for j in range(len(columns)):
            v = cells.get((i, j))
            if v is None:
                continue
            shade = _blend(v)
            ink = "#ffffff" if v >= 0.45 else INK
            x = label_w + j * cell_w
            body.append(
                f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" '
                f'height="{cell_h - 2}" rx="3" fill="{shade}"><title>{escape(r)} · '
                f"{escape(columns[j])}: {escape(fmt(v))}</title></rect>"
            )
            if cell_w >= 34:
                body.append(_text(x + cell_w / 2, y + 17, fmt(v), "middle", ink))
    return _svg(title, body, width, height, "heatmap")


def _blend(share: float) -> str:
    """White → brand indigo by share (0..1)."""
    share = max(0.0, min(1.0, share))
    lo, hi = (238, 240, 255), (67, 56, 202)
    r, g, b = (round(a + (z - a) * share**0.7) for a, z in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def pareto_chart(
    title: str, points: Sequence[tuple[float, float]], width: int = W, height: int = H
) -> Markup:
    """Cumulative revenue share (y) by share of customers, best first (x), against the line of
    perfect equality. ``points`` are ``(customer share, revenue share)`` pairs, ascending."""
    inner_w, inner_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    x0, y0 = PAD_L, height - PAD_B
    body = _axes(1.0, percent, width, height)
    ticks = [i / 10 for i in range(1, 11)]
    body += _x_labels([percent(t) for t in ticks], [x0 + inner_w * t for t in ticks], height)
    body.append(
        f'<line x1="{x0}" y1="{y0}" x2="{width - PAD_R}" y2="{PAD_T}" stroke="{MUTED}" '
        'stroke-dasharray="4 4"/>'
    )
    xy = [(x0 + inner_w * c, y0 - inner_h * s) for c, s in points]
    d = f"M{x0},{y0} " + " ".join(f"L{x:.1f},{y:.1f}" for x, y in xy)
    if xy:
        body.append(f'<path d="{d} L{xy[-1][0]:.1f},{y0} Z" fill="{SOFT}"/>')
    body.append(f'<path d="{d}" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5"/>')
    for (x, y), (c, s) in zip(xy, points, strict=True):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" stroke="{PALETTE[0]}" '
            f'stroke-width="2"><title>{percent(c)} → {percent(s)}</title></circle>'
        )
    return _svg(title, body, width, height, "pareto")


def forest_chart(
    title: str,
    labels: Sequence[str],
    rows: Sequence[tuple[float, float, float]],
    fmt: Fmt = percent,
    width: int = W,
) -> Markup:
    """Differences with 95% intervals (campaign uplift), a zero line for "no effect"."""
    row, label_w = 34, 190
    height = PAD_T + row * len(rows) + 24
    span = max([abs(v) for r in rows for v in r] + [1e-9]) * 1.1
    room = width - label_w - 100

    def sx(v: float) -> float:
        return label_w + room * (v + span) / (2 * span)

    body = [
        f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="{PAD_T - 6}" y2="{height - 20}" '
        f'stroke="{MUTED}" stroke-dasharray="3 3"/>',
        _text(sx(0), height - 6, fmt(0.0)),
    ]
    for i, (label, (d, lo, hi)) in enumerate(zip(labels, rows, strict=True)):
        y = PAD_T + i * row + row / 2
        colour = PALETTE[1] if lo > 0 else (PALETTE[3] if hi < 0 else PALETTE[6])
        body.append(_text(label_w - 10, y + 4, label, "end", INK))
        body.append(
            f'<line x1="{sx(lo):.1f}" x2="{sx(hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="3" stroke-linecap="round"/>'
        )
        body.append(f'<circle cx="{sx(d):.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>')
        body.append(_text(width - PAD_R, y + 4, f"{fmt(d)} [{fmt(lo)}, {fmt(hi)}]", "end", INK))
    return _svg(title, body, width, height, "forest")


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 32) -> Markup:
    """A tiny trend line for a KPI card (no axes)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if len(pts) < 2:
        return Markup("")
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    spread = (hi - lo) or 1.0
    n = max(len(values) - 1, 1)
    d = " ".join(
        f"{'M' if k == 0 else 'L'}{2 + (width - 4) * i / n:.1f},"
        f"{height - 3 - (height - 6) * (v - lo) / spread:.1f}"
        for k, (i, v) in enumerate(pts)
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" aria-hidden="true" '
        f'><path d="{d}" fill="none" stroke="{PALETTE[0]}" '
        'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>'
    )
