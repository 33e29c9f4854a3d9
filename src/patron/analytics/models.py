"""Tables the analytics layer writes back into the operational database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Double, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class MemberPrediction(MerchantScoped, Base):
    """The latest predictions for one member (one row per member, replaced by each run), so
    segment rules and journeys can use them (e.g. win-back when ``p_alive`` falls low)."""

    __tablename__ = "member_predictions"
    __table_args__ = (
        merchant_fk("member_id", "members", ondelete="CASCADE"),
        UniqueConstraint("merchant_id", "member_id"),
        Index("ix_member_predictions_p_alive", "merchant_id", "p_alive"),
    )

    member_id: Mapped[int] = mapped_column(BigId)
    model: Mapped[str] = mapped_column(String(16))  # bgnbd | pnbd (+ Gamma-Gamma for spend)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    p_alive: Mapped[float] = mapped_column(Double)
    horizon_days: Mapped[int] = mapped_column(Integer)
    expected_purchases: Mapped[float] = mapped_column(Double)  # in the next horizon_days
    clv_months: Mapped[int] = mapped_column(Integer)
    discount_rate: Mapped[float] = mapped_column(Double)  # monthly
    expected_clv_minor: Mapped[int] = mapped_column(BigInteger)
    rfm_r: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rfm_f: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rfm_m: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rfm_segment: Mapped[str | None] = mapped_column(String(32), nullable=True)
