"""API shapes of the member portal."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PortalLinkOut(BaseModel):
    """A single-use sign-in link for the member portal."""

    url: str
    expires_at: datetime
