"""The README's first API call, run as written (bash and curl) against the demo shop that
``make run`` builds, on a real server: both answers are the ones the README documents."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from patron.app import create_app
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory
from patron.core.migrate import upgrade
from patron.demo.cli import run_demo
from patron.demo.generate import DemoConfig
from tests.conftest import START, need_service
from tests.live import live_server

README = Path(__file__).resolve().parents[1] / "README.md"
# `make run`'s demo size (Makefile: DEMO_MEMBERS, DEMO_MONTHS): the same people, phones and
# catalogue. Bulk-written (--fast): the README's calls need the members and the products only.
MAKE_RUN = DemoConfig(members=300, seed=42, months=12, now=START)


def first_api_call() -> str:
    """The shell block under the README's "A first API call" heading."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A first API call") :]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def answers(output: str) -> list[Any]:
    """The JSON documents curl printed one after another (``curl -s`` adds no newline)."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(output):
        if output[at].isspace():
            at += 1
            continue
        doc, at = decoder.raw_decode(output, at)
        docs.append(doc)
    return docs


def test_the_readme_first_api_call_works_as_written(tmp_path: Path) -> None:
    need_service(None if shutil.which("curl") and shutil.which("bash") else "curl and bash")
    block = first_api_call()
    # The documented results are in the block's comments: the test holds the README to them.
    assert "one member, 张婷, +8615510638436" in block
    assert '"total_minor":19600' in block

    url = f"sqlite:///{tmp_path / 'patron.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, worker_in_process=False)
    sessions = make_session_factory(engine)
    run_demo(sessions, settings, MAKE_RUN, "demo", if_empty=False, show_progress=False, fast=True)

    app = create_app(settings, engine=engine, run_worker=False)
    with live_server(app) as base:
        script = block.replace(".venv/bin/patron", f"{shlex.quote(sys.executable)} -m patron.cli")
        script = script.replace("http://127.0.0.1:8000", base)
        env = {**os.environ, "PATRON_DATABASE_URL": url, "PATRON_LOG_JSON": "false"}
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    engine.dispose()
    assert run.returncode == 0, run.stderr
    found, order = answers(run.stdout)

    (member,) = found["items"]
    assert (member["phone"], member["first_name"], member["last_name"]) == (
        "+8615510638436",
        "婷",
        "张",
    )
    assert (order["member_id"], order["external_id"], order["total_minor"]) == (
        member["id"],
        "POS-1",
        19600,
    )
    assert [(x["sku"], x["quantity"], x["total_minor"]) for x in order["lines"]] == [
        ("LJ-50G", 2, 19600)
    ]
