"""Every setting is read the same way: from ``PATRON_*`` variables, else from ``./.env``.

The message pipeline's ``PATRON_MESSAGES_*`` settings used to be read from the environment only: a
``.env`` line for them was silently ignored while the core settings beside it took effect.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from patron.core.config import Settings
from patron.engagement.config import MessageSettings

SRC = Path(__file__).resolve().parents[2] / "src" / "patron"

DOTENV = """\
# a real .env file, as docs/configuration.md describes it
PATRON_PORT=8123
PATRON_WEBHOOK_MAX_ATTEMPTS=3
PATRON_MESSAGES_BATCH_SIZE=17
PATRON_MESSAGES_LEASE_SECONDS=9.5
PATRON_MESSAGES_MAX_ATTEMPTS=2
"""


@pytest.fixture
def in_dir_with_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("PATRON_")]:
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(DOTENV, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_core_and_message_settings_both_read_dotenv(in_dir_with_dotenv: Path) -> None:
    core = Settings()
    messages = MessageSettings()
    assert (core.port, core.webhook_max_attempts) == (8123, 3)
    assert (messages.batch_size, messages.lease_seconds, messages.max_attempts) == (17, 9.5, 2)
    # untouched settings keep their defaults
    assert messages.retry_base_seconds == 30.0


def test_environment_wins_over_dotenv_for_every_group(
    in_dir_with_dotenv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_PORT", "9001")
    monkeypatch.setenv("PATRON_MESSAGES_BATCH_SIZE", "33")
    assert Settings().port == 9001
    assert MessageSettings().batch_size == 33
    assert MessageSettings().lease_seconds == 9.5  # the rest still from .env


def test_no_dotenv_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("PATRON_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert MessageSettings().batch_size == 200
    assert Settings().port == 8000


def test_every_settings_class_shares_the_one_reader() -> None:
    """A new group of settings must derive from ``PatronSettings`` (one env/.env reader), not
    from pydantic-settings' ``BaseSettings`` directly."""
    direct = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "config.py" or path.parent.name != "core"
        if re.search(r"\(\s*BaseSettings\s*\)", path.read_text(encoding="utf-8"))
    ]
    assert direct == []
