"""Import and export in the dashboard (managers and owners).

Upload a customers or orders CSV (Shopify's export or Patron's own format, or told from the
header): the file is checked at once — size, encoding, header — and queued; the worker imports
it in batches (:mod:`patron.imports.jobs`) while the import's page refreshes itself (a
``<meta http-equiv="refresh">``: no script needed) with rows read, created, updated and refused.
Refused rows download as a CSV report in the reader's language; members and orders download as
CSV files that re-import. Every CSV from here starts with a UTF-8 byte order mark, so Excel on
a Chinese Windows opens it as UTF-8 (ADR 0665).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from patron.core.csv_safe import csv_writer
from patron.core.http import SessionDep, SettingsDep
from patron.i18n import N_, translations_for
from patron.imports import jobs
from patron.imports.export import stream_csv
from patron.imports.models import ImportJob, JobStatus
from patron.imports.reading import ENCODINGS, ImportFileError
from patron.imports.report import report_rows
from patron.imports.rows import Reason, reason_text
from patron.tenancy.models import Role
from patron.web.auth import ManagerPageDep
from patron.web.nav import NavItem
from patron.web.rendering import render, resolve_locale

router = APIRouter()
NAV = [
    NavItem(
        "imports",
        N_("Import and export"),
        "/imports",
        icon="download",
        order=85,
        min_role=Role.MANAGER,
    )
]
REFRESH_SECONDS = 2
SHOWN_REJECTS = 20

KINDS = {"customers": N_("Customers"), "orders": N_("Orders")}
FORMATS = {
    "auto": N_("Tell from the header"),
    "shopify": N_("Shopify export"),
    "generic": N_("Patron's CSV format"),
}
STATUSES = {
    JobStatus.QUEUED.value: N_("Waiting to start"),
    JobStatus.RUNNING.value: N_("Importing"),
    JobStatus.DONE.value: N_("Done"),
    JobStatus.FAILED.value: N_("Refused"),
}


def _gettext(request: Request) -> Callable[[str], str]:
    return translations_for(resolve_locale(request)).gettext


def _page(
    request: Request,
    session: SessionDep,
    merchant_id: int,
    settings: Any,
    *,
    error: str | None = None,
    chosen: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "jobs": jobs.recent_jobs(session, merchant_id),
        "kinds": KINDS,
        "formats": FORMATS,
        "statuses": STATUSES,
        "limit_mb": settings.import_max_upload_mb,
        "error": error,
        "chosen": chosen or {"kind": "customers", "format": "auto"},
    }
    return render(request, "dashboard/imports/index.html", context, status=status)


@router.get("/imports")
def imports_page(
    request: Request, session: SessionDep, staff: ManagerPageDep, settings: SettingsDep
) -> Response:
    """The upload form, the latest imports and the export downloads."""
    return _page(request, session, staff.merchant_id, settings)


@router.post("/imports")
def upload(
    request: Request,
    session: SessionDep,
    staff: ManagerPageDep,
    settings: SettingsDep,
    kind: Annotated[Literal["customers", "orders"], Form()],
    format: Annotated[Literal["auto", "shopify", "generic"], Form()],
    file: Annotated[UploadFile, File()],
) -> Response:
    """Check the file and queue its import; a refused file is explained and nothing stored."""
    try:
        job = jobs.create_job(
            session,
            staff.merchant_id,
            kind=kind,
            fmt=format,
            filename=file.filename or "upload.csv",
            upload=file.file,
            max_bytes=settings.import_max_upload_mb << 20,
            staff_id=staff.user.id,
        )
    except (ImportFileError, jobs.UploadTooLarge) as exc:
        reason = exc.reason if isinstance(exc, ImportFileError) else exc.message
        session.rollback()
        return _page(
            request,
            session,
            staff.merchant_id,
            settings,
            error=_reason(request, reason),
            chosen={"kind": kind, "format": format},
            status=422,
        )
    return RedirectResponse(f"/imports/{job.id}", status_code=303)


def _reason(request: Request, reason: str) -> str:
    if isinstance(reason, Reason):
        return reason_text(reason.doc(), _gettext(request))
    return reason


def _progress(job: ImportJob) -> dict[str, Any]:
    """Share of the file read, and the rows the whole file will have (estimated while running)."""
    done = job.status in (JobStatus.DONE.value, JobStatus.FAILED.value)
    share = 1.0 if job.status == JobStatus.DONE.value else job.bytes_read / max(job.size_bytes, 1)
    estimate = None
    if not done and job.bytes_read and job.rows_read:
        estimate = max(job.rows_read, round(job.rows_read * job.size_bytes / job.bytes_read))
    return {"percent": min(100, int(share * 100)), "estimate": estimate, "finished": done}


@router.get("/imports/{job_id}")
def job_page(request: Request, job_id: int, session: SessionDep, staff: ManagerPageDep) -> Response:
    """One import: its progress while it runs (the page refreshes itself), then the result."""
    job = jobs.get_job(session, staff.merchant_id, job_id)
    gettext = _gettext(request)
    shown = []
    for item in jobs.job_rejects(session, staff.merchant_id, job.id):
        shown.append({"line": item.line, "reason": reason_text(item.reason, gettext)})
        if len(shown) >= SHOWN_REJECTS:
            break
    context = {
        "job": job,
        "kinds": KINDS,
        "formats": FORMATS,
        "statuses": STATUSES,
        "encoding": ENCODINGS.get(job.encoding, job.encoding),
        "progress": _progress(job),
        "rejects": shown,
        "error": reason_text(job.error, gettext) if job.error else None,
        "refresh": REFRESH_SECONDS if job.status in (JobStatus.QUEUED, JobStatus.RUNNING) else None,
    }
    return render(request, "dashboard/imports/job.html", context)


def _report(
    factory: sessionmaker[Session],
    gettext: Callable[[str], str],
    merchant_id: int,
    job_id: int,
    header: list[str],
) -> Iterator[str]:
    """The report as CSV chunks, read in a session of its own (it streams after the request's
    session has closed)."""
    out = io.StringIO()
    writer = csv_writer(out)
    out.write("\ufeff")
    writer.writerow([gettext("Line"), gettext("Reason"), *header])
    yield _take(out)
    session = factory()
    try:
        for item in jobs.job_rejects(session, merchant_id, job_id):
            reason = reason_text(item.reason, gettext)
            rows = [(int(line), list(cells)) for line, cells in item.rows]
            writer.writerows(report_rows(header, item.line, reason, rows))
            yield _take(out)
    finally:
        session.rollback()
        session.close()


@router.get("/imports/{job_id}/rejects.csv")
def rejects_report(
    request: Request, job_id: int, session: SessionDep, staff: ManagerPageDep
) -> Response:
    """The refused rows: line, reason (in the reader's language), then the file's own cells."""
    job = jobs.get_job(session, staff.merchant_id, job_id)
    stem = job.filename.rsplit(".", 1)[0] or "import"
    chunks = _report(
        request.app.state.read_sessions,
        _gettext(request),
        staff.merchant_id,
        job.id,
        list(job.header or []),
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_ascii(stem)}-rejects.csv"'},
    )


def _take(out: io.StringIO) -> str:
    """What the writer wrote since the last take (the buffer never holds more than a row)."""
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


def _ascii(name: str) -> str:
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in name)
    return kept.strip("-") or "import"


def _download(request: Request, which: str, merchant_id: int) -> Response:
    return StreamingResponse(
        stream_csv(request.app.state.read_sessions, which, merchant_id, bom=True),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{which}.csv"'},
    )


@router.get("/exports/members.csv")
def export_members(request: Request, staff: ManagerPageDep) -> Response:
    """Every member in Patron's members.csv format (re-imports), streamed."""
    return _download(request, "members", staff.merchant_id)


@router.get("/exports/orders.csv")
def export_orders(request: Request, staff: ManagerPageDep) -> Response:
    """Every order in Patron's orders.csv format, one row per line (re-imports), streamed."""
    return _download(request, "orders", staff.merchant_id)
