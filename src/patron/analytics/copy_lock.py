"""Processes take turns on the analytics copy; the threads of one process share it.

DuckDB lets one process at a time open a database file for writing, and its connections inside
that process share the database (ADR 0506). With ``patron serve --workers N`` (or a separate
``patron worker``) several processes sync, read and predict on the same file, and the second
one to open it got ``duckdb.IOException: Could not set lock on file``: the daily prediction run
failed on every tick while a page of another process read the copy.

So every use of the copy goes through :func:`copy_connection` (or holds :func:`hold_copy` around
several of them): the first user in a process takes an exclusive ``flock`` on ``<copy>.lock``,
later users of the same process join it, and the last one out releases it. Another process
waits for the lock up to the time its caller allows, then gets :class:`CopyBusy` — a page says
"being updated, try again in a moment", the worker tries again on its next round. An advisory
file lock is released by the kernel when its process dies, so a killed worker never leaves the
copy locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

POLL_SECONDS = 0.05
# How long the worker's sync and prediction wait for another process's turn to end.
BACKGROUND_WAIT_SECONDS = 300.0
# How long a page waits before it says the figures are being updated.
PAGE_WAIT_SECONDS = 2.0


class CopyBusy(duckdb.IOException):
    """Another process held the analytics copy for longer than the caller would wait.

    A ``duckdb.IOException``, so code that already answers DuckDB's own lock error (a page's
    "being updated by another program") answers this one the same way."""


class _ProcessShare:
    """One process's turn on one copy: a count of users and the file lock they share.

    One thread at a time polls for the file lock, without holding the condition, so a thread
    that would wait less (a page) is never held up behind one that would wait longer (a sync):
    it waits for the poller only up to its own deadline."""

    def __init__(self, path: str) -> None:
        self.lock_path = f"{path}.lock"
        self.cond = threading.Condition()
        self.users = 0
        self.fd: int | None = None
        self.taking = False

    def enter(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        with self.cond:
            while self.users == 0 and self.taking:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._busy()
                self.cond.wait(left)
            if self.users > 0:  # the process has its turn: join it
                self.users += 1
                return
            self.taking = True
        try:
            fd = self._take(deadline)
        finally:
            with self.cond:
                self.taking = False
                self.cond.notify_all()
        with self.cond:
            self.fd = fd
            self.users += 1

    def leave(self) -> None:
        with self.cond:
            self.users -= 1
            if self.users == 0 and self.fd is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                os.close(self.fd)
                self.fd = None

    def _busy(self) -> CopyBusy:
        return CopyBusy(f"the analytics copy {self.lock_path[:-5]} is in use by another process")

    def _take(self, deadline: float) -> int:
        Path(self.lock_path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise self._busy() from None
                time.sleep(POLL_SECONDS)


_shares: dict[str, _ProcessShare] = {}
_shares_lock = threading.Lock()


def _share(path: str) -> _ProcessShare:
    key = os.path.abspath(path)
    with _shares_lock:
        share = _shares.get(key)
        if share is None:
            share = _shares[key] = _ProcessShare(key)
        return share


@contextmanager
def hold_copy(path: str, wait_seconds: float = BACKGROUND_WAIT_SECONDS) -> Iterator[None]:
    """This process's turn on the copy at ``path`` for the duration of the block (threads of
    the process share it). Raises :class:`CopyBusy` when another process keeps it longer than
    ``wait_seconds``."""
    share = _share(path)
    share.enter(wait_seconds)
    try:
        yield
    finally:
        share.leave()


@contextmanager
def copy_connection(
    path: str, wait_seconds: float = BACKGROUND_WAIT_SECONDS, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection on the copy, opened during this process's turn and closed after."""
    with hold_copy(path, wait_seconds):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        duck = duckdb.connect(path, read_only=read_only)
        try:
            yield duck
        finally:
            duck.close()
