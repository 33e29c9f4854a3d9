"""Printable join QR codes: the code of a join link with the store's name under it (SVG, PNG).

segno draws the code; the name is set under it as SVG text, or with Pillow on the PNG in a font
that has the name's script (``PATRON_QR_LABEL_FONT``, else the first of :data:`FONTS` found).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import segno
from PIL import Image, ImageDraw, ImageFont

# Fonts tried for the PNG's label: CJK first (a Chinese store name), then a Latin one.
FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
SCALE = 10
LABEL_HEIGHT = 64


def qr_svg(url: str, label: str) -> str:
    """The code as SVG with ``label`` centred under it."""
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=SCALE, border=4, xmldecl=False, svgns=True, svgclass=None)
    inner = out.getvalue().decode()
    width, height = qr.symbol_size(scale=SCALE, border=4)
    total = height + LABEL_HEIGHT
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
        f'viewBox="0 0 {width} {total}"><rect width="{width}" height="{total}" fill="#fff"/>'
        f"{inner}"
        f'<text x="{width // 2}" y="{height + LABEL_HEIGHT // 2}" text-anchor="middle" '
        f'font-family="sans-serif" font-size="28">{escape(label)}</text></svg>'
    )


@lru_cache(maxsize=32)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in (path, *FONTS):
        if candidate and Path(candidate).is_file():
            try:
                return ImageFont.truetype(candidate, size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)


def qr_png(url: str, label: str, font_path: str = "") -> bytes:
    """The code as PNG with ``label`` centred under it."""
    qr = segno.make(url, error="m")
    raw = io.BytesIO()
    qr.save(raw, kind="png", scale=SCALE, border=4)
    code = Image.open(io.BytesIO(raw.getvalue())).convert("RGB")
    canvas = Image.new("RGB", (code.width, code.height + LABEL_HEIGHT), "white")
    canvas.paste(code, (0, 0))
    draw = ImageDraw.Draw(canvas)
    size = 28
    font = _font(font_path, size)
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    while right - left > code.width - 20 and size > 10:  # a long name gets a smaller font
        size -= 2
        font = _font(font_path, size)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    x = (code.width - (right - left)) // 2
    y = code.height + (LABEL_HEIGHT - (bottom - top)) // 2 - top
    draw.text((x, y), label, fill="black", font=font)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()
