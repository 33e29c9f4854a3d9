"""FastAPI dependencies: who is calling, and may they?"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from patron.core.errors import Forbidden, Unauthorized
from patron.core.http import SessionDep
from patron.tenancy.models import Role
from patron.tenancy.service import Principal, principal_for_key

# Documents the key in OpenAPI (security scheme ``apiKey``); the refusal stays ours (401 in the
# error envelope), so it does not raise by itself.
api_key_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key: `Authorization: Bearer pk_…` (see docs/api.md).",
)


def current_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_scheme)],
) -> Principal:
    """The API key in ``Authorization: Bearer <key>``."""
    raw = credentials.credentials.strip() if credentials is not None else ""
    if not raw:
        raise Unauthorized(
            "send an API key as 'Authorization: Bearer <key>'", code="missing_api_key"
        )
    return principal_for_key(session, raw)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through principals of ``role`` or higher."""

    def check(principal: PrincipalDep) -> Principal:
        if not principal.can(role):
            raise Forbidden(f"this needs the {role.value} role", code="insufficient_role")
        return principal

    return check


ClerkDep = Annotated[Principal, Depends(require(Role.CLERK))]
ManagerDep = Annotated[Principal, Depends(require(Role.MANAGER))]
OwnerDep = Annotated[Principal, Depends(require(Role.OWNER))]
