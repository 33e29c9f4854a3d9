"""The report of refused rows: one CSV row per line of the file that was not imported.

Columns: the line number, the reason, then the file's own columns with the cells as they were
read, so the merchant can fix the rows in the report and import them again (after deleting the
first two columns). A refused order lists every one of its lines. The same shape is written by
``patron import`` (``--rejects``) and downloaded from the dashboard; cells are neutralised
(:mod:`patron.core.csv_safe`) like every CSV Patron writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from patron.core.csv_safe import csv_writer
from patron.imports.rows import Reject, SourceRows

REPORT_COLUMNS = ("line", "reason")


def report_rows(header: list[str], line: int, reason: str, rows: SourceRows) -> Iterator[list[Any]]:
    """The report's rows for one refused record (one per source line; cut to the header)."""
    if not rows:
        yield [line, reason]
        return
    width = len(header)
    for source_line, cells in rows:
        yield [source_line, reason, *cells[:width]]


class RejectsReport:
    """Writes the report as rejects happen (``on_reject`` of an import's result)."""

    def __init__(
        self,
        out: IO[str],
        columns: Iterable[str] = REPORT_COLUMNS,
        reason_text: Callable[[Reject], str] = lambda item: str(item.reason),
    ) -> None:
        self.writer = csv_writer(out)
        self.columns = list(columns)
        self.reason_text = reason_text
        self.header: list[str] = []
        self.started = False

    def write(self, item: Reject) -> None:
        if not self.started:
            self.writer.writerow([*self.columns, *self.header])
            self.started = True
        self.writer.writerows(
            report_rows(self.header, item.line, self.reason_text(item), item.rows)
        )
