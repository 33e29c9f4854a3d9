"""Running one import: header check, streaming reader, batches through the BulkWriter, report.

Nothing is held per file: records stream from the CSV, orders are grouped as they pass, batches
of ``BATCH_SIZE`` records are written and let go; rejects are written to the report as they
happen. Memory is therefore flat in file size (measured in tests/imports/test_streaming.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import IO, Literal, TypeVar

from sqlalchemy.orm import Session

from patron.core.events import emit
from patron.imports import generic, shopify
from patron.imports.bulk import BulkWriter
from patron.imports.context import ImportContext
from patron.imports.reading import ImportFileError, records, rows, text_stream
from patron.imports.rows import ImportResult, MemberRow, OrderRow, Reject

Kind = Literal["customers", "orders"]
Format = Literal["shopify", "generic"]
BATCH_SIZE = 2000
T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _member_rows(
    stream: IO[str], fmt: Format, ctx: ImportContext, result: ImportResult
) -> Iterator[MemberRow]:
    if fmt == "generic":
        _header, recs = records(stream, generic.MEMBER_REQUIRED, "members.csv")
        return generic.read_members(recs, ctx, result)
    header, recs = records(stream, set(), "Shopify customer export")
    layout = shopify.customer_layout(header)
    if layout is None:
        raise ImportFileError(
            "Shopify customer export: wrong header, expected the columns of Shopify's customer"
            f" export (e.g. {', '.join(sorted(shopify.CUSTOMERS_CURRENT))})"
        )
    return shopify.read_customers(recs, ctx, result, layout)


def _order_rows(
    stream: IO[str], fmt: Format, ctx: ImportContext, result: ImportResult
) -> Iterator[OrderRow]:
    if fmt == "generic":
        header, cells = rows(stream, generic.ORDER_REQUIRED, "orders.csv")
        return generic.read_orders(header, cells, ctx, result)
    _header, recs = records(stream, shopify.ORDERS_REQUIRED, "Shopify order export")
    return shopify.read_orders(recs, ctx, result)


def reject_writer(out: IO[str]) -> Callable[[Reject], None]:
    """A report of rejects (line, reason, record) written as they happen."""
    writer = csv.writer(out)
    writer.writerow(["line", "reason", "record"])

    def write(item: Reject) -> None:
        writer.writerow([item.line, item.reason, item.record])

    return write


def run_import(
    session: Session,
    merchant_id: int,
    kind: Kind,
    binary: IO[bytes],
    *,
    fmt: Format = "generic",
    namespace: str | None = None,
    rejects: IO[str] | None = None,
    commit_each_batch: bool = False,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import a customers or orders CSV for a merchant.

    Raises :class:`ImportFileError` (nothing written) if the file cannot be read or its header
    is not the format's. Otherwise every record is either written, found unchanged, or reported
    in the result's rejects (and in ``rejects``, a CSV report) with its line and reason.
    With ``commit_each_batch`` (the CLI) each batch is committed as it is written, so a long
    import interrupted half-way can simply be run again: what was written is found unchanged.
    """
    ctx = ImportContext.load(session, merchant_id, namespace or _default_namespace(fmt))
    stream, counter = text_stream(binary)
    result = ImportResult("members" if kind == "customers" else "orders")
    if rejects is not None:
        result.on_reject = reject_writer(rejects)
    writer = BulkWriter(session, merchant_id, ctx.namespace)
    if kind == "customers":
        for members in batched(_member_rows(stream, fmt, ctx, result), batch_size):
            writer.write_members(members, result)
            _after_batch(session, commit_each_batch, progress, counter.bytes_read)
    else:
        for orders in batched(_order_rows(stream, fmt, ctx, result), batch_size):
            writer.write_orders(orders, result)
            _after_batch(session, commit_each_batch, progress, counter.bytes_read)
    emit(
        session,
        merchant_id,
        "import.completed",
        {"kind": kind, "format": fmt, **result.counts()},
    )
    session.flush()
    if progress is not None:
        progress(counter.bytes_read)
    return result


def _after_batch(
    session: Session, commit: bool, progress: Callable[[int], None] | None, done: int
) -> None:
    if commit:
        session.commit()
    if progress is not None:
        progress(done)


def _default_namespace(fmt: Format) -> str:
    return shopify.NAMESPACE if fmt == "shopify" else "import"
