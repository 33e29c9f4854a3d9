"""Imports as durable background work: upload now, import in the worker, watch the progress.

A job is created with its file (checked first: readable encoding, a header of the chosen
format; a refused file stores nothing). The worker claims it with a lease, runs the import
through :func:`patron.imports.runner.run_import` and commits each batch together with the
job's counts, the batch's rejects and the checkpoint — the last line the batch accounts for.
A worker that dies leaves a lease that runs out; the next claim resumes after the checkpoint,
so no row is lost or written twice and the counts stay those of one run (ADR 0666). The file
is deleted when the job ends; its rejects stay for the report.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import IO, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.claim import claim_due
from patron.core.clock import utcnow
from patron.core.config import Settings
from patron.core.db import transaction
from patron.core.errors import InvalidInput, NotFound
from patron.imports.models import ImportFileChunk, ImportJob, ImportReject, JobStatus
from patron.imports.reading import ImportFileError
from patron.imports.rows import ImportResult, Reason, Reject
from patron.imports.runner import BATCH_SIZE, FormatChoice, Kind, check_file, run_import

log = logging.getLogger("patron.imports")
CHUNK_BYTES = 1 << 20
MAX_ATTEMPTS = 5
COUNTS = ("created", "updated", "unchanged", "rejected", "members_created", "lines_written")


class UploadTooLarge(InvalidInput):
    """The file is bigger than the setting allows; nothing was stored."""

    code = "import_file_too_large"


def create_job(
    session: Session,
    merchant_id: int,
    *,
    kind: Kind,
    fmt: FormatChoice,
    filename: str,
    upload: IO[bytes],
    max_bytes: int,
    staff_id: int | None = None,
) -> ImportJob:
    """Check an uploaded file and queue its import. ``upload`` must be seekable.

    Raises :class:`UploadTooLarge` or :class:`ImportFileError` before anything is written.
    """
    upload.seek(0, io.SEEK_END)
    size = upload.tell()
    upload.seek(0)
    if size > max_bytes:
        raise UploadTooLarge(
            Reason(
                "the file is %(size)s MB; the most an upload may be is %(limit)s MB",
                size=_megabytes(size),
                limit=_megabytes(max_bytes),
            )
        )
    checked = check_file(upload, kind, fmt, filename)
    job = ImportJob(
        merchant_id=merchant_id,
        kind=kind,
        format=checked.format,
        encoding=checked.encoding,
        filename=filename[:255],
        size_bytes=size,
        status=JobStatus.QUEUED.value,
        created_by=staff_id,
        created_at=utcnow(session),
        attempts=0,
        bytes_read=0,
        checkpoint_line=0,
        rows_read=0,
        header=checked.header,
        **dict.fromkeys(COUNTS, 0),
    )
    session.add(job)
    session.flush()
    seq = 0
    while block := upload.read(CHUNK_BYTES):
        chunk = ImportFileChunk(job_id=job.id, seq=seq, merchant_id=merchant_id, data=block)
        session.add(chunk)
        session.flush()
        session.expunge(chunk)  # one chunk in memory at a time
        seq += 1
    return job


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.1f}".removesuffix(".0")


def get_job(session: Session, merchant_id: int, job_id: int) -> ImportJob:
    """One of the merchant's import jobs (404 for another merchant's)."""
    job = session.get(ImportJob, job_id)
    if job is None or job.merchant_id != merchant_id:
        raise NotFound("no such import", code="import_not_found")
    return job


def recent_jobs(session: Session, merchant_id: int, limit: int = 20) -> list[ImportJob]:
    """The merchant's latest imports, newest first."""
    return list(
        session.scalars(
            select(ImportJob)
            .where(ImportJob.merchant_id == merchant_id)
            .order_by(ImportJob.id.desc())
            .limit(limit)
        )
    )


def job_rejects(session: Session, merchant_id: int, job_id: int) -> Iterator[ImportReject]:
    """The rows a job refused, in file order (streamed in pages)."""
    after = (-1, 0)
    while True:
        page = list(
            session.scalars(
                select(ImportReject)
                .where(
                    ImportReject.merchant_id == merchant_id,
                    ImportReject.job_id == job_id,
                    (ImportReject.line > after[0])
                    | ((ImportReject.line == after[0]) & (ImportReject.id > after[1])),
                )
                .order_by(ImportReject.line, ImportReject.id)
                .limit(500)
            )
        )
        if not page:
            return
        yield from page
        after = (page[-1].line, page[-1].id)


class ChunkReader(io.RawIOBase):
    """The stored upload as a binary stream, one chunk from the database at a time."""

    def __init__(self, session: Session, job_id: int) -> None:
        self.session = session
        self.job_id = job_id
        self.seq = 0
        self.block = b""
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.offset >= len(self.block):
            data = self.session.scalar(
                select(ImportFileChunk.data).where(
                    ImportFileChunk.job_id == self.job_id, ImportFileChunk.seq == self.seq
                )
            )
            if data is None:
                return 0
            self.block, self.offset, self.seq = bytes(data), 0, self.seq + 1
        n = min(len(buffer), len(self.block) - self.offset)
        buffer[:n] = self.block[self.offset : self.offset + n]
        self.offset += n
        return n


def claim_job(sessions: sessionmaker[Session], lease: timedelta) -> int | None:
    """Lease the oldest queued job, or a running one whose worker stopped; its id."""
    with transaction(sessions) as session:
        ids = claim_due(
            session,
            ImportJob,
            ImportJob.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value)),
            limit=1,
            lease=lease,
        )
        if not ids:
            return None
        job = session.get(ImportJob, ids[0])
        assert job is not None
        if job.attempts >= MAX_ATTEMPTS:
            # Its workers died again and again (out of memory, killed): stop trying.
            _end(session, job, JobStatus.FAILED, Reason("the import stopped unexpectedly"))
            return None
        job.status = JobStatus.RUNNING.value
        job.attempts += 1
        job.started_at = job.started_at or utcnow(session)
        return job.id


def run_job(
    sessions: sessionmaker[Session],
    job_id: int,
    *,
    batch_rows: int = BATCH_SIZE,
    lease: timedelta = timedelta(minutes=5),
) -> None:
    """Run (or resume) a claimed job to its end; the job records how it ended.

    Each batch of ``batch_rows`` records is committed with the job's progress and renews the
    claim for ``lease``."""
    try:
        with transaction(sessions) as session:
            _import(session, job_id, batch_rows, lease)
    except ImportFileError as exc:
        _finish(sessions, job_id, JobStatus.FAILED, exc.reason)
    except Exception:
        log.exception("import stopped", extra={"job_id": job_id})
        with transaction(sessions) as session:
            job = session.get(ImportJob, job_id)
            if job is not None and job.attempts >= MAX_ATTEMPTS:
                _end(session, job, JobStatus.FAILED, Reason("the import stopped unexpectedly"))
            elif job is not None:
                job.locked_until = utcnow(session)  # free for the next round: resume then


def _import(session: Session, job_id: int, batch_rows: int, lease: timedelta) -> None:
    job = session.get(ImportJob, job_id)
    if job is None or job.status != JobStatus.RUNNING.value:
        return
    result = ImportResult(
        "members" if job.kind == "customers" else "orders",
        read=job.rows_read,
        skip_through=job.checkpoint_line,
        last_line=job.checkpoint_line,
        **{name: getattr(job, name) for name in COUNTS},
    )
    pending: list[Reject] = []
    result.on_reject = pending.append
    merchant_id = job.merchant_id

    def save(progress: ImportResult, bytes_read: int) -> None:
        session.add_all(
            ImportReject(
                merchant_id=merchant_id,
                job_id=job_id,
                line=item.line,
                reason=item.reason.doc(),
                rows=[[line, cells[: len(progress.header)]] for line, cells in item.rows],
            )
            for item in pending
        )
        pending.clear()
        current = session.get(ImportJob, job_id)
        assert current is not None
        current.rows_read = progress.read
        for name in COUNTS:
            setattr(current, name, getattr(progress, name))
        current.checkpoint_line = progress.last_line
        current.bytes_read = max(current.bytes_read, bytes_read)
        current.locked_until = utcnow(session) + lease
        session.flush()

    kind: Kind = "customers" if job.kind == "customers" else "orders"
    run_import(
        session,
        merchant_id,
        kind,
        io.BufferedReader(ChunkReader(session, job_id), buffer_size=CHUNK_BYTES),
        fmt="shopify" if job.format == "shopify" else "generic",
        encoding=job.encoding,
        commit_each_batch=True,
        batch_size=batch_rows,
        result=result,
        after_batch=save,
    )
    current = session.get(ImportJob, job_id)
    assert current is not None
    current.bytes_read = current.size_bytes
    _end(session, current, JobStatus.DONE, None)


def _finish(
    sessions: sessionmaker[Session], job_id: int, status: JobStatus, reason: Reason | None
) -> None:
    with transaction(sessions) as session:
        job = session.get(ImportJob, job_id)
        if job is not None:
            _end(session, job, status, reason)


def _end(session: Session, job: ImportJob, status: JobStatus, reason: Reason | None) -> None:
    job.status = status.value
    job.error = reason.doc() if reason is not None else None
    job.finished_at = utcnow(session)
    job.locked_until = None
    session.execute(delete(ImportFileChunk).where(ImportFileChunk.job_id == job.id))


def run_imports_task(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Worker task ``imports.run``: one job to its end per round (0 when none is waiting)."""
    lease = timedelta(seconds=settings.import_lease_seconds)
    job_id = claim_job(sessions, lease)
    if job_id is None:
        return 0
    run_job(sessions, job_id, batch_rows=settings.import_batch_rows, lease=lease)
    return 1
