"""Start-up cost: ``patron`` and ``patron serve`` load no heavy module until a command or a
request needs it (ADR 0010)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

from patron.cli import COMMANDS
from patron.core.commands import load

HEAVY = ("pandas", "scipy", "ibis", "duckdb", "pyarrow", "numpy", "sqlglot")


def loaded_after(code: str) -> list[str]:
    """The top-level modules in ``sys.modules`` after running ``code`` in a fresh Python."""
    tops = "sorted({m.split('.')[0] for m in sys.modules})"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({tops}))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", ["patron.cli", "patron.app", "patron.worker"])
def test_importing_the_cli_the_app_or_the_worker_loads_no_heavy_module(module: str) -> None:
    assert [m for m in loaded_after(f"import {module}") if m in HEAVY] == []


def test_help_loads_neither_sqlalchemy_nor_any_command() -> None:
    code = (
        "from patron.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code"
    )
    loaded = loaded_after(code)
    assert [m for m in loaded if m in (*HEAVY, "sqlalchemy", "fastapi", "uvicorn")] == []


def test_the_listed_help_is_each_commands_own() -> None:
    for spec in COMMANDS:
        command = load(spec)
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert (spec.name, spec.help) == (spec.name, own)


def test_version() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "patron.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, f"patron {version('patron')}\n", "")
