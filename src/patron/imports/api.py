"""/api/v1/imports and /api/v1/exports."""

from __future__ import annotations

import shutil
import tempfile
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from patron.core.http import SessionDep
from patron.imports.export import stream_csv
from patron.imports.runner import run_import
from patron.tenancy.auth import ManagerDep

router = APIRouter(prefix="/api/v1", tags=["imports"])
SPOOL_BYTES = 8 << 20  # larger uploads go to a temporary file on disk


class RejectOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    kind: str
    read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    members_created: int
    lines_written: int
    rejects: list[RejectOut]
    rejects_truncated: bool


@router.post("/imports/{kind}", response_model=ImportOut, operation_id="import_csv")
def import_csv(
    kind: Literal["customers", "orders"],
    session: SessionDep,
    principal: ManagerDep,
    file: Annotated[UploadFile, File(description="the CSV file")],
    format: Annotated[Literal["shopify", "generic", "auto"], Query()] = "generic",
) -> ImportOut:
    """Import a CSV synchronously; every rejected row is listed with its line (first 1,000).

    UTF-8 (with or without a BOM) and GB18030/GBK are read; ``auto`` takes the format from the
    header."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        shutil.copyfileobj(file.file, spool)
        spool.seek(0)
        result = run_import(session, principal.merchant_id, kind, spool, fmt=format)
    return ImportOut(
        kind=result.kind,
        **result.counts(),
        rejects=[RejectOut(line=r.line, reason=r.reason) for r in result.rejects],
        rejects_truncated=len(result.rejects) < result.rejected,
    )


def _csv_response(request: Request, which: str, merchant_id: int) -> StreamingResponse:
    return StreamingResponse(
        stream_csv(request.app.state.sessions, which, merchant_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{which}.csv"'},
    )


@router.get("/exports/members.csv", operation_id="export_members", response_class=StreamingResponse)
def export_members(request: Request, principal: ManagerDep) -> StreamingResponse:
    """All members in the generic members.csv format (streamed)."""
    return _csv_response(request, "members", principal.merchant_id)


@router.get("/exports/orders.csv", operation_id="export_orders", response_class=StreamingResponse)
def export_orders(request: Request, principal: ManagerDep) -> StreamingResponse:
    """All orders in the generic orders.csv format, one row per line (streamed)."""
    return _csv_response(request, "orders", principal.merchant_id)
