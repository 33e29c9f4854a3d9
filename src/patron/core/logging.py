"""Structured logging: one JSON object per line (or plain text for a terminal)."""

from __future__ import annotations

import json
import logging
import re
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


# Paths whose last part is a secret that signs someone in or acts for them: a member's portal
# sign-in link, a one-click unsubscribe, a staff password reset. Never written to a log.
_SECRET_PATHS = re.compile(r"(/portal/signin/|/u/|/password-reset/)[^/?\s\"]+")
_SECRET_QUERY = re.compile(r"([?&](?:token|key|sig|signature)=)[^&\s\"]+", re.IGNORECASE)
# What a database error carries about the row: PostgreSQL's "DETAIL:  Key (email)=(…)" line and
# SQLAlchemy's "[parameters: …]" (engines also run with hide_parameters); emails anywhere.
_DB_DETAIL = re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE)
_DB_PARAMETERS = re.compile(r"\[parameters: .*?\]\n?", re.DOTALL)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact_path(text: str) -> str:
    """``text`` with sign-in, unsubscribe and reset tokens replaced by ``…``."""
    return _SECRET_QUERY.sub(r"\1…", _SECRET_PATHS.sub(r"\1…", text))


def redact_database_text(text: str) -> str:
    """A database error's text without the row's values (members' emails, ids)."""
    text = _DB_PARAMETERS.sub("[parameters hidden]\n", text)
    text = _DB_DETAIL.sub(r"\1 (hidden)", text)
    return _EMAIL.sub("<email>", text)


class AccessLogRedaction(logging.Filter):
    """Rewrites a uvicorn record (the access log's path argument, the error log's traceback)
    without secrets or database values, whichever handler then formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_database_text(_PLAIN.formatException(record.exc_info))
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True


_PLAIN = logging.Formatter()


class RedactingFormatter(logging.Formatter):
    """Plain lines; exception text goes through :func:`redact_database_text`."""

    def formatException(self, ei: Any) -> str:
        return redact_database_text(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        return redact_path(super().format(record))


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
            entry["exc"] = redact_database_text(self.formatException(record.exc_info))
        entry["msg"] = redact_path(redact_database_text(entry["msg"]))
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
        JsonFormatter() if json_lines else RedactingFormatter("%(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    for name in ("uvicorn.access", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        if not any(isinstance(f, AccessLogRedaction) for f in uvicorn_logger.filters):
            uvicorn_logger.addFilter(AccessLogRedaction())
