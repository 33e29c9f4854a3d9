"""FastAPI dependencies: who is calling, and may they?"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from patron.core.errors import Forbidden, Unauthorized
from patron.core.http import SessionDep
from patron.tenancy.models import Role
from patron.tenancy.service import Principal, principal_for_key


def current_principal(request: Request, session: SessionDep) -> Principal:
    """The API key in ``Authorization: Bearer <key>``."""
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized(
            "send an API key as 'Authorization: Bearer <key>'", code="missing_api_key"
        )
    return principal_for_key(session, raw.strip())


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
