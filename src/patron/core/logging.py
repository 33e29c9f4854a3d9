"""Structured logging: one JSON object per line (or plain text for a terminal)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from patron.core.request_id import request_id

# uvicorn adds `color_message` (its message with terminal colour codes) to its records.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class PatronHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler Patron installs on the root logger (replaced, never doubled)."""

    _patron = True


def uvicorn_log_config(level: str = "INFO", json_lines: bool = True) -> dict[str, Any]:
    """``patron serve``'s logging for uvicorn (``log_config``): uvicorn's own loggers, the
    access log included, write through the same formatter as Patron's, in every server
    process, from the first line on."""
    formatter: dict[str, Any] = (
        {"()": "patron.core.logging.JsonFormatter"}
        if json_lines
        else {"format": "%(levelname)s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"patron": formatter},
        "handlers": {
            "stderr": {
                "class": "patron.core.logging.PatronHandler",
                "formatter": "patron",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            **{
                name: {"handlers": [], "level": level.upper(), "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # /ready reads the schema's revision with Alembic, which says so at INFO each time.
            "alembic.runtime.migration": {"level": "WARNING"},
        },
    }


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Install the root handler once; safe to call repeatedly."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_patron", False):
            root.removeHandler(handler)
    handler = PatronHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
