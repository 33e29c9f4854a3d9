"""CSV that a spreadsheet opens as data, never as formulas.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (CSV injection: ``=HYPERLINK(…)``,
``@SUM(…)``, DDE payloads). Every CSV Patron writes goes through :func:`csv_writer`, which puts
a ``'`` before such a cell; spreadsheets show the text as it was, and Patron's importer strips
the ``'`` again, so an export still re-imports. A plain negative number (``-12.50``) is no
formula and is left alone (docs/decisions/0665-csv-formula-cells.md).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NEGATIVE_NUMBER = re.compile(r"^-\d+(\.\d+)?$")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will show it: text that could run as a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if _NEGATIVE_NUMBER.match(value):
            return value
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` with every cell passed through :func:`safe_cell`."""

    def __init__(self, out: IO[str], **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: IO[str], **fmtparams: Any) -> SafeWriter:
    """A CSV writer that neutralises formula cells (use it for every CSV Patron writes)."""
    return SafeWriter(out, **fmtparams)
