"""Review photos: the type read from the content (not the name or the declared type), the size
capped, and the image re-encoded, which drops its metadata (EXIF, GPS, comments)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from patron.core.errors import InvalidInput

# Pillow's format name → (stored extension, content type).
ACCEPTED = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    extension: str
    content_type: str
    width: int
    height: int


def _magic(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def clean_photo(data: bytes, max_bytes: int) -> CleanPhoto:
    """The photo re-encoded without metadata; ``photo_too_large`` / ``photo_type`` otherwise."""
    if len(data) > max_bytes:
        raise InvalidInput("the photo is too large", code="photo_too_large")
    kind = _magic(data)
    if kind is None:
        raise InvalidInput("photos are JPEG, PNG or WebP", code="photo_type")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise InvalidInput("the photo is too large", code="photo_too_large")
                image.load()
                out = io.BytesIO()
                if kind == "JPEG":
                    image.convert("RGB").save(out, "JPEG", quality=88)
                elif kind == "PNG":
                    keep = (
                        image
                        if image.mode in {"RGB", "RGBA", "L", "LA", "P"}
                        else image.convert("RGBA")
                    )
                    keep.save(out, "PNG", optimize=True)
                else:
                    image.save(out, "WEBP", quality=88)
                width, height = image.width, image.height
    except (
        UnidentifiedImageError,
        OSError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        SyntaxError,
    ) as exc:
        raise InvalidInput("photos are JPEG, PNG or WebP", code="photo_type") from exc
    extension, content_type = ACCEPTED[kind]
    return CleanPhoto(out.getvalue(), extension, content_type, width, height)
