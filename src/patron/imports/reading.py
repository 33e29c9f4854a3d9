"""Streaming CSV records with their physical line numbers, and the value parsers formats share.

The file is read through the ``csv`` module over a text stream: one record in memory at a time,
whatever the file size. A byte counter under the text layer feeds the progress bars.

One reader for the CLI, the API and the dashboard: :func:`sniff_encoding` decides, before
anything is written, whether the bytes are UTF-8 (a BOM is fine) or GB18030 — the superset of
GBK that Excel on a Chinese Windows writes when it saves "CSV" — and refuses anything else
with one clear line (docs/decisions/0662-import-encodings.md).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import IO

from babel.numbers import get_currency_precision

from patron.core.errors import InvalidInput, PatronError
from patron.imports.rows import Reason
from patron.members.normalize import normalize_email, normalize_phone

csv.field_size_limit(1 << 20)


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported (unreadable, wrong header): nothing was written.

    ``reason`` is the message as a :class:`Reason`, for the dashboard to show translated."""

    code = "import_file_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(str(reason))
        self.reason = (
            reason if isinstance(reason, Reason) else Reason("%(message)s", message=reason)
        )


class RowError(Exception):
    """One record is refused; ``reason`` is shown to the merchant with the line number."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read through it (progress = bytes / size)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n


@dataclass(slots=True)
class Record:
    line: int  # physical line where the record starts (the header is line 1)
    values: dict[str, str]
    raw: list[str]


ENCODINGS = {"utf-8": "UTF-8", "gb18030": "GB18030 (GBK)"}  # how the dashboard names them
_SNIFF_BLOCK = 1 << 20
_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def sniff_encoding(binary: IO[bytes], what: str = "the file") -> str:
    """``"utf-8"`` or ``"gb18030"``: the encoding the whole of ``binary`` reads in, UTF-8 first.

    Reads the stream to its end and leaves it there (seek back before importing). Refuses with
    :class:`ImportFileError` a workbook, UTF-16/32 text, and bytes that are neither encoding,
    naming the line of the first unreadable bytes: a file is never imported half-garbled.
    """
    head = binary.read(_SNIFF_BLOCK)
    if head.startswith(b"PK\x03\x04"):
        raise ImportFileError(
            Reason(
                "%(what)s is an Excel workbook, not a CSV file: in Excel, choose Save As, "
                "CSV UTF-8",
                what=what,
            )
        )
    if not head.startswith(codecs.BOM_UTF8):
        for bom, name in _BOMS.items():
            if head.startswith(bom):
                raise ImportFileError(
                    Reason(
                        "%(what)s is %(encoding)s text; save it as CSV UTF-8 and try again",
                        what=what,
                        encoding=name,
                    )
                )
    alive = {name: codecs.getincrementaldecoder(name)() for name in ENCODINGS}
    failed_at: dict[str, int] = {}
    lines_before = 0
    block = head
    while True:
        final = not block
        for name, decoder in list(alive.items()):
            try:
                decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                start = max(0, min(exc.start, len(block)))
                failed_at[name] = lines_before + block.count(b"\n", 0, start) + 1
                del alive[name]
        if not alive:
            raise ImportFileError(
                Reason(
                    "%(what)s is neither UTF-8 nor GB18030 (GBK) text: unreadable characters on"
                    " line %(line)s. Save it as CSV UTF-8 and try again",
                    what=what,
                    line=max(failed_at.values()),
                )
            )
        if final:
            return "utf-8" if "utf-8" in alive else "gb18030"
        lines_before += block.count(b"\n")
        block = binary.read(_SNIFF_BLOCK)


def text_stream(
    binary: IO[bytes], encoding: str = "utf-8"
) -> tuple[io.TextIOWrapper, CountingReader]:
    """Text in ``encoding`` (a UTF-8 BOM, as Excel writes, is skipped) over a counted stream."""
    counter = CountingReader(binary)
    buffered = io.BufferedReader(counter, buffer_size=1 << 16)
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    return io.TextIOWrapper(buffered, encoding=codec, newline=""), counter


def read_header(stream: Iterable[str], what: str) -> tuple[list[str], Iterator[list[str]]]:
    """The header row (trimmed) and the csv reader positioned after it."""
    reader = csv.reader(stream)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise ImportFileError(Reason("%(what)s: the file is empty", what=what)) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportFileError(
            Reason("%(what)s: not a readable CSV file (%(detail)s)", what=what, detail=str(exc))
        ) from exc
    return header, reader


def require(header: list[str], required: set[str], what: str) -> None:
    """Refuse a header that lacks ``required`` columns."""
    missing = sorted(required - set(header))
    if missing:
        raise ImportFileError(
            Reason(
                "%(what)s: wrong header, missing column(s): %(columns)s",
                what=what,
                columns=", ".join(missing),
            )
        )


def rows(
    header: list[str], reader: Iterator[list[str]], what: str
) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of each record after the header, cells padded to the header's width.

    ``line`` is the physical line where the record starts (the header is line 1). The hot path
    of order imports reads these lists directly; :func:`records` adds a dict per record for the
    readers that prefer names.
    """
    return _iterate(reader, len(header), what)


def records(header: list[str], reader: Iterator[list[str]], what: str) -> Iterator[Record]:
    """An iterator of records (cells by column name) after the header."""
    return (
        Record(line, dict(zip(header, raw, strict=False)), raw)
        for line, raw in rows(header, reader, what)
    )


def _iterate(reader: Iterator[list[str]], width: int, what: str) -> Iterator[tuple[int, list[str]]]:
    previous_end = 1
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFileError(
                Reason(
                    "%(what)s: unreadable after line %(line)s (%(detail)s)",
                    what=what,
                    line=previous_end,
                    detail=str(exc),
                )
            ) from exc
        start = previous_end + 1
        previous_end = reader.line_num  # type: ignore[attr-defined]
        if not raw or (len(raw) == 1 and not raw[0].strip()):
            continue  # blank lines carry nothing to import
        if len(raw) < width:
            raw += [""] * (width - len(raw))
        yield start, raw


# -- values ---------------------------------------------------------------------------------


def text(value: str | None) -> str | None:
    """A trimmed cell, or None if empty. Shopify prefixes ids and phones with ' for Excel."""
    if value is None:
        return None
    value = value.strip().lstrip("'").strip()
    return value or None


_MONEY = re.compile(r"^-?\d+(\.\d+)?$")
_SCALE = [1, 10, 100, 1000, 10000]
_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def money(value: str | None, exponent: int, what: str) -> int:
    """``"1,234.50"`` → 123450 (minor units for ``exponent`` 2). Empty is 0. Refuses more
    decimals than the currency has: rounding somebody's money silently is not ours to do."""
    raw = (value or "").strip()
    if not raw:
        return 0
    if _GROUPED.match(raw):
        raw = raw.replace(",", "")
    elif not _MONEY.match(raw):
        raise RowError(
            Reason("%(column)s: not an amount: %(value)s", column=what, value=repr(value))
        )
    whole, _, frac = raw.partition(".")
    frac = frac.rstrip("0")
    if len(frac) > exponent:
        raise RowError(
            Reason(
                "%(column)s: %(value)s has more than %(decimals)s decimals",
                column=what,
                value=repr(value),
                decimals=exponent,
            )
        )
    sign = -1 if whole.startswith("-") else 1
    units = abs(int(whole)) * _SCALE[exponent] + (int(frac.ljust(exponent, "0")) if exponent else 0)
    return sign * units


def integer(value: str | None, what: str) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        raise RowError(
            Reason("%(column)s: not a whole number: %(value)s", column=what, value=repr(value))
        ) from None


def timestamp(value: str | None, zone: tzinfo, what: str) -> datetime | None:
    """ISO 8601 (``2025-06-01T10:00:00+08:00``) or Shopify's ``2025-06-01 10:00:00 +0800``;
    a time without offset is in the merchant's time zone. Stored in UTC."""
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        try:
            parsed = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            raise RowError(
                Reason("%(column)s: not a date and time: %(value)s", column=what, value=repr(value))
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def day(value: str | None, what: str) -> date | None:
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise RowError(
            Reason("%(column)s: not a date (YYYY-MM-DD): %(value)s", column=what, value=repr(value))
        ) from None


_YES = {"yes", "true", "1", "y", "subscribed"}
_NO = {"no", "false", "0", "n", "", "unsubscribed", "not_subscribed"}


def flag(value: str | None, what: str) -> bool | None:
    raw = (value or "").strip().lower()
    if raw in _YES:
        return True
    if raw in _NO:
        return False if raw else None
    raise RowError(
        Reason("%(column)s: expected yes or no, not %(value)s", column=what, value=repr(value))
    )


# The shape nearly every real address has: plain ASCII, dot-separated atoms, a real TLD.
# Such an address is valid and normalises to its lower case; the full validator (about 300 µs
# each, most of an order import's time) then only sees the unusual ones.
_PLAIN_EMAIL = re.compile(
    r"^[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24})$"
)
_SPECIAL_TLDS = {"test", "local", "localhost", "invalid", "example", "onion", "arpa", "internal"}


@lru_cache(maxsize=200_000)
def _email(raw: str) -> str | PatronError:
    lowered = raw.lower()
    plain = _PLAIN_EMAIL.match(lowered)
    local = lowered.partition("@")[0]
    if plain and plain.group(1) not in _SPECIAL_TLDS and len(lowered) <= 254 and len(local) <= 64:
        return lowered
    try:
        return normalize_email(raw)
    except PatronError as exc:
        return exc


@lru_cache(maxsize=200_000)
def _phone(raw: str, region: str) -> str | PatronError:
    try:
        return normalize_phone(raw, region)
    except PatronError as exc:
        return exc


def email(value: str | None) -> str | None:
    """A validated, lower-cased email (cached: order files repeat the same customers)."""
    raw = text(value)
    if raw is None:
        return None
    result = _email(raw)
    if isinstance(result, PatronError):
        raise RowError(Reason("not a valid email: %(value)s", value=repr(raw)))
    return result


def phone(value: str | None, region: str) -> str | None:
    """E.164; national numbers are read in ``region`` (the address's or the merchant's)."""
    raw = text(value)
    if raw is None:
        return None
    result = _phone(raw, region)
    if isinstance(result, PatronError):
        raise RowError(Reason("not a valid phone number: %(value)s", value=repr(raw)))
    return result


def currency_exponent(currency: str) -> int:
    """Decimals of a currency's minor unit (CNY 2, JPY 0)."""
    return int(get_currency_precision(currency))


Parser = Callable[[Record], object]
