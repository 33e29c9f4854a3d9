"""Running one import: encoding, header, streaming reader, batches through the BulkWriter.

Nothing is held per file: records stream from the CSV, orders are grouped as they pass, batches
of ``BATCH_SIZE`` records are written and let go; rejects go to the report as they happen.
Memory is therefore flat in file size (measured in tests/imports/test_streaming.py).

The CLI, the API and the dashboard's background imports all come through :func:`run_import`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import IO, Literal, TypeVar

from sqlalchemy.orm import Session

from patron.core.events import emit
from patron.imports import generic, shopify
from patron.imports.bulk import BulkWriter
from patron.imports.context import ImportContext
from patron.imports.reading import (
    CountingReader,
    ImportFileError,
    read_header,
    records,
    require,
    rows,
    sniff_encoding,
    text_stream,
)
from patron.imports.report import RejectsReport
from patron.imports.rows import ImportResult, MemberRow, OrderRow, Reason

Kind = Literal["customers", "orders"]
Format = Literal["shopify", "generic"]
FormatChoice = Literal["shopify", "generic", "auto"]
BATCH_SIZE = 2000
T = TypeVar("T")
R = TypeVar("R", MemberRow, OrderRow)
# Called after each batch is written (before its commit): the result so far, bytes read.
AfterBatch = Callable[[ImportResult, int], None]

# How messages name a file of each format (translated on the dashboard).
_WHAT: dict[tuple[Kind, Format], str] = {
    ("customers", "generic"): Reason("members.csv"),
    ("customers", "shopify"): Reason("Shopify customer export"),
    ("orders", "generic"): Reason("orders.csv"),
    ("orders", "shopify"): Reason("Shopify order export"),
}
_NEITHER = {
    "customers": Reason(
        "the header is neither Shopify's customer export nor Patron's members.csv: see the"
        " columns of an export of members"
    ),
    "orders": Reason(
        "the header is neither Shopify's order export nor Patron's orders.csv: see the columns"
        " of an export of orders"
    ),
}


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def detect_format(kind: Kind, header: list[str]) -> Format | None:
    """Which format a header is: Shopify's export or Patron's generic one (None: neither)."""
    columns = set(header)
    if kind == "customers":
        if shopify.customer_layout(header) is not None:
            return "shopify"
        return "generic" if "external_id" in columns or "email" in columns else None
    if columns >= shopify.ORDERS_REQUIRED:
        return "shopify"
    return "generic" if "order_id" in columns else None


def check_header(kind: Kind, fmt: FormatChoice, header: list[str]) -> Format:
    """The format of a file with this header, or :class:`ImportFileError` (nothing written)."""
    chosen = detect_format(kind, header) if fmt == "auto" else fmt
    if chosen is None:
        raise ImportFileError(_NEITHER[kind])
    what = _WHAT[kind, chosen]
    if kind == "orders":
        require(
            header, generic.ORDER_REQUIRED if chosen == "generic" else shopify.ORDERS_REQUIRED, what
        )
    elif chosen == "generic":
        require(header, generic.MEMBER_REQUIRED, what)
    elif shopify.customer_layout(header) is None:
        raise ImportFileError(
            Reason(
                "Shopify customer export: wrong header, expected the columns of Shopify's"
                " customer export (e.g. %(columns)s)",
                columns=", ".join(sorted(shopify.CUSTOMERS_CURRENT)),
            )
        )
    return chosen


@dataclass(frozen=True)
class FileCheck:
    """What :func:`check_file` found: the file can be imported in this encoding and format."""

    encoding: str
    format: Format
    header: list[str]


def check_file(binary: IO[bytes], kind: Kind, fmt: FormatChoice, what: str) -> FileCheck:
    """Read the whole file once (its encoding) and its header (its format), writing nothing.

    Leaves ``binary`` at its start. Raises :class:`ImportFileError` with the reason."""
    encoding = sniff_encoding(binary, what)
    binary.seek(0)
    stream, _counter = text_stream(binary, encoding)
    header, _reader = read_header(stream, what)
    chosen = check_header(kind, fmt, header)
    stream.detach()
    binary.seek(0)
    return FileCheck(encoding, chosen, header)


def _member_rows(
    header: list[str],
    reader: Iterator[list[str]],
    fmt: Format,
    ctx: ImportContext,
    result: ImportResult,
) -> Iterator[MemberRow]:
    what = _WHAT["customers", fmt]
    if fmt == "generic":
        return generic.read_members(records(header, reader, what), ctx, result)
    layout = shopify.customer_layout(header) or "current"
    return shopify.read_customers(records(header, reader, what), ctx, result, layout)


def _order_rows(
    header: list[str],
    reader: Iterator[list[str]],
    fmt: Format,
    ctx: ImportContext,
    result: ImportResult,
) -> Iterator[OrderRow]:
    what = _WHAT["orders", fmt]
    if fmt == "generic":
        return generic.read_orders(header, rows(header, reader, what), ctx, result)
    return shopify.read_orders(records(header, reader, what), ctx, result)


def _resumed(items: Iterator[R], result: ImportResult) -> Iterator[R]:
    """Rows after the checkpoint of a resumed import (earlier ones are written already)."""
    for item in items:
        if item.line > result.skip_through:
            yield item


def _open(
    binary: IO[bytes], kind: Kind, fmt: FormatChoice, encoding: str | None
) -> tuple[CountingReader, list[str], Iterator[list[str]], Format]:
    """The file's byte counter, header, csv reader after the header, and format."""
    if encoding is None:
        encoding = sniff_encoding(binary)
        binary.seek(0)
    stream, counter = text_stream(binary, encoding)
    header, reader = read_header(stream, _WHAT[kind, "generic" if fmt == "auto" else fmt])
    return counter, header, reader, check_header(kind, fmt, header)


def run_import(
    session: Session,
    merchant_id: int,
    kind: Kind,
    binary: IO[bytes],
    *,
    fmt: FormatChoice = "generic",
    namespace: str | None = None,
    rejects: IO[str] | None = None,
    commit_each_batch: bool = False,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    encoding: str | None = None,
    result: ImportResult | None = None,
    after_batch: AfterBatch | None = None,
) -> ImportResult:
    """Import a customers or orders CSV for a merchant.

    Raises :class:`ImportFileError` (nothing written) if the file cannot be read — an encoding
    other than UTF-8 or GB18030, a header that is not the format's. Otherwise every record is
    written, found unchanged, or reported in the result's rejects (and in ``rejects``, the CSV
    report of :mod:`patron.imports.report`) with its line and reason.

    ``encoding`` is sniffed from ``binary`` (which must then be seekable) unless given.
    ``fmt="auto"`` takes the format from the header. With ``commit_each_batch`` (the CLI, the
    dashboard's worker) each batch is committed as it is written; ``result`` carries on from a
    checkpoint (its counts, and ``skip_through``: records up to that line are written already).
    """
    counter, header, reader, chosen = _open(binary, kind, fmt, encoding)
    result = result or ImportResult("members" if kind == "customers" else "orders")
    result.header = header
    if rejects is not None:
        report = RejectsReport(rejects)
        report.header = header
        result.on_reject = report.write
    ctx = ImportContext.load(session, merchant_id, namespace or _default_namespace(chosen))
    writer = BulkWriter(session, merchant_id, ctx.namespace)

    def done(last_line: int) -> None:
        result.last_line = max(result.last_line, last_line)
        if after_batch is not None:
            after_batch(result, counter.bytes_read)
        if commit_each_batch:
            session.commit()
        if progress is not None:
            progress(counter.bytes_read)

    if kind == "customers":
        members = _member_rows(header, reader, chosen, ctx, result)
        for batch in batched(_resumed(members, result), batch_size):
            writer.write_members(batch, result)
            done(batch[-1].line)
    else:
        orders = _order_rows(header, reader, chosen, ctx, result)
        for batch_of_orders in batched(_resumed(orders, result), batch_size):
            writer.write_orders(batch_of_orders, result)
            done(batch_of_orders[-1].line)
    emit(
        session,
        merchant_id,
        "import.completed",
        {"kind": kind, "format": chosen, **result.counts()},
    )
    session.flush()
    if after_batch is not None:
        after_batch(result, counter.bytes_read)
    if progress is not None:
        progress(counter.bytes_read)
    return result


def _default_namespace(fmt: Format) -> str:
    return shopify.NAMESPACE if fmt == "shopify" else "import"
