"""Merging two members: the merged member's reviews and after-sales cases follow to the kept one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patron.core.merge_hooks import STAGE_ROWS, register_merge_hook
from patron.members.merge import repoint
from patron.voice.models import Review, ServiceCase


def merge_voice(session: Session, merchant_id: int, keep_id: int, gone_id: int) -> None:
    repoint(session, Review, merchant_id, keep_id, gone_id)
    repoint(session, ServiceCase, merchant_id, keep_id, gone_id)


register_merge_hook(merge_voice, STAGE_ROWS)
