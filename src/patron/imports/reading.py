"""Streaming CSV records with their physical line numbers, and the value parsers formats share.

The file is read through the ``csv`` module over a text stream: one record in memory at a time,
whatever the file size. A byte counter under the text layer feeds the CLI's progress bar.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import IO

from babel.numbers import get_currency_precision

from patron.core.errors import InvalidInput, PatronError
from patron.members.normalize import normalize_email, normalize_phone

csv.field_size_limit(1 << 20)


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported (unreadable, wrong header): nothing was written."""

    code = "import_file_invalid"


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


def text_stream(binary: IO[bytes]) -> tuple[io.TextIOWrapper, CountingReader]:
    """UTF-8 text (a BOM, as Excel writes, is skipped) over a counted binary stream."""
    counter = CountingReader(binary)
    buffered = io.BufferedReader(counter, buffer_size=1 << 16)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline=""), counter


def rows(
    stream: IO[str], required: set[str], what: str
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and an iterator of ``(line, cells)``, cells padded to the header's width.

    Refuses a file whose header lacks ``required``. ``line`` is the physical line where the
    record starts (the header is line 1). The hot path of order imports reads these lists
    directly; :func:`records` adds a dict per record for the readers that prefer names.
    """
    reader = csv.reader(stream)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFileError(f"{what}: the file is empty") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{what}: not a readable CSV file ({exc})") from exc
    missing = sorted(required - set(header))
    if missing:
        raise ImportFileError(f"{what}: wrong header, missing column(s): {', '.join(missing)}")
    return header, _iterate(reader, len(header), what)


def records(stream: IO[str], required: set[str], what: str) -> tuple[list[str], Iterator[Record]]:
    """The header and an iterator of records. Refuses a file whose header lacks ``required``."""
    header, cells = rows(stream, required, what)
    return header, (Record(line, dict(zip(header, raw, strict=False)), raw) for line, raw in cells)


def _iterate(reader: Iterator[list[str]], width: int, what: str) -> Iterator[tuple[int, list[str]]]:
    previous_end = 1
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFileError(f"{what}: unreadable after line {previous_end} ({exc})") from exc
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
        raise RowError(f"{what}: not an amount: {value!r}")
    whole, _, frac = raw.partition(".")
    frac = frac.rstrip("0")
    if len(frac) > exponent:
        raise RowError(f"{what}: {value!r} has more than {exponent} decimals")
    sign = -1 if whole.startswith("-") else 1
    units = abs(int(whole)) * _SCALE[exponent] + (int(frac.ljust(exponent, "0")) if exponent else 0)
    return sign * units


def integer(value: str | None, what: str) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        raise RowError(f"{what}: not a whole number: {value!r}") from None


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
            raise RowError(f"{what}: not a date and time: {value!r}") from None
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
        raise RowError(f"{what}: not a date (YYYY-MM-DD): {value!r}") from None


_YES = {"yes", "true", "1", "y", "subscribed"}
_NO = {"no", "false", "0", "n", "", "unsubscribed", "not_subscribed"}


def flag(value: str | None, what: str) -> bool | None:
    raw = (value or "").strip().lower()
    if raw in _YES:
        return True
    if raw in _NO:
        return False if raw else None
    raise RowError(f"{what}: expected yes or no, not {value!r}")


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
        raise RowError(result.message)
    return result


def phone(value: str | None, region: str) -> str | None:
    """E.164; national numbers are read in ``region`` (the address's or the merchant's)."""
    raw = text(value)
    if raw is None:
        return None
    result = _phone(raw, region)
    if isinstance(result, PatronError):
        raise RowError(result.message)
    return result


def currency_exponent(currency: str) -> int:
    """Decimals of a currency's minor unit (CNY 2, JPY 0)."""
    return int(get_currency_precision(currency))


Parser = Callable[[Record], object]
