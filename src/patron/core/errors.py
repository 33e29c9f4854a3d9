"""One error family. Every error leaves the API as
``{"error": {"code": ..., "message": ..., "details": ...}}`` with the class's status code."""

from __future__ import annotations

from typing import Any


class PatronError(Exception):
    """Base of every business error. ``code`` is stable and machine-readable."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status_code = status
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(PatronError):
    status_code = 422
    code = "invalid_input"


class NotFound(PatronError):
    status_code = 404
    code = "not_found"


class Conflict(PatronError):
    status_code = 409
    code = "conflict"


class Unauthorized(PatronError):
    status_code = 401
    code = "unauthorized"


class Forbidden(PatronError):
    status_code = 403
    code = "forbidden"


class TooManyAttempts(PatronError):
    status_code = 429
    code = "too_many_attempts"


class BusinessRuleViolation(PatronError):
    """A well-formed request that the rules refuse (insufficient points, refund too large…)."""

    status_code = 422
    code = "rule_violation"


class DatabaseUnavailable(PatronError):
    """The database cannot be reached, opened or used (no schema yet): nothing was done."""

    status_code = 503
    code = "database_unavailable"
