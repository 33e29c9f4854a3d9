"""Shared parts of the voice tests: images made with Pillow, and order lines of a member."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.orders.models import Order, OrderLine


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (40, 30), exif: bool = False) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 40, 40))
    if exif:
        data = Image.Exif()
        data[0x010F] = "SpyCam"  # Make
        data[0x8825] = {2: (31.0, 14.0, 0.0)}  # GPS
        image.save(out, fmt, exif=data.tobytes())
    else:
        image.save(out, fmt)
    return out.getvalue()


def lines_of(s: Session, member_id: int) -> list[OrderLine]:
    return list(
        s.scalars(
            select(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.member_id == member_id)
            .order_by(OrderLine.id)
        )
    )
