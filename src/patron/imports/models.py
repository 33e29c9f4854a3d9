"""Imports run from the dashboard: the job, the uploaded file, and the rows it refused.

The file is kept in the database (``import_file_chunks``, 1 MiB a row) from the upload until
the job ends: every process that may run the job — the worker thread of ``patron serve`` or a
``patron worker`` on another machine — reads the one database (ADR 0666).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.db import Base, BigId, JsonDoc, UTCDateTime
from patron.core.tenant_keys import MerchantScoped, merchant_fk


class JobStatus(StrEnum):
    QUEUED = "queued"  # uploaded, waiting for the worker
    RUNNING = "running"  # a worker holds its lease (resumed from the checkpoint if it dies)
    DONE = "done"
    FAILED = "failed"  # the file as a whole was refused; nothing past the error was written


class ImportJob(MerchantScoped, Base):
    """One uploaded file and how far its import has come (counts as of the last batch)."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        merchant_fk("created_by", "staff_users", ondelete="SET NULL"),
        Index("ix_import_jobs_merchant", "merchant_id", "id"),
        Index("ix_import_jobs_due", "status", "id"),
    )

    kind: Mapped[str] = mapped_column(String(16))  # customers | orders
    format: Mapped[str] = mapped_column(String(16))  # shopify | generic (read from the header)
    encoding: Mapped[str] = mapped_column(String(16))  # utf-8 | gb18030
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    created_by: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Progress, committed with each batch: what was written up to ``checkpoint_line``.
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint_line: Mapped[int] = mapped_column(Integer, default=0)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    members_created: Mapped[int] = mapped_column(Integer, default=0)
    lines_written: Mapped[int] = mapped_column(Integer, default=0)
    header: Mapped[list[str] | None] = mapped_column(JsonDoc, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)  # a Reason doc


class ImportFileChunk(Base):
    """A piece of an uploaded file, deleted when its job ends (keyed by job, seq and merchant)."""

    __tablename__ = "import_file_chunks"
    __table_args__ = (merchant_fk("job_id", "import_jobs", ondelete="CASCADE"),)

    job_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportReject(MerchantScoped, Base):
    """A record the job refused: its line, the reason (a Reason doc) and the file's cells."""

    __tablename__ = "import_rejects"
    __table_args__ = (
        merchant_fk("job_id", "import_jobs", ondelete="CASCADE"),
        Index("ix_import_rejects_job", "merchant_id", "job_id", "line"),
    )

    job_id: Mapped[int] = mapped_column(BigId)
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    rows: Mapped[list[Any]] = mapped_column(JsonDoc)  # [[line, [cells…]], …]
