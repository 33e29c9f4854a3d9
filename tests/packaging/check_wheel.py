"""Build Patron's wheel, install it (not editable) into a fresh virtual environment, serve it and
check that the pages, the static files and the API answer.

Run from the repository: ``.venv/bin/python -m tests.packaging.check_wheel`` (``.ci/run`` does, and
``tests/packaging/test_wheel.py`` calls :func:`check`). Standard library only.

The fresh environment gets the wheel and nothing else installed; Patron's dependencies come from
the environment running this check, through a ``.pth`` line naming its site-packages (so no
download beyond the build backend, and the check takes seconds). That site-packages may hold an
editable install of Patron; its import hook is not loaded (``.pth`` files in a directory named by
another ``.pth`` line are not read), and the check asserts that ``patron`` imports from the wheel.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OWNER_EMAIL = "owner@wheel.test"
OWNER_PASSWORD = "wheel-check-password"


class CheckFailed(AssertionError):
    """The wheel is missing a file, or a page or the API did not answer as expected."""


class BuildImpossible(CheckFailed):
    """pip could not fetch the build backend (no package index reachable): the wheel was not
    built, so nothing about it is known."""


NO_INDEX = ("No matching distribution found", "Could not find a version", "NewConnectionError")


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CheckFailed(
            f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


def source_copy(dest: Path) -> Path:
    """What a build reads, copied: a build in the repository itself would leave ``build/``
    there, whose stale files setuptools puts into later wheels."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "src", dest / "src", ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dest / name)
    return dest


def build_wheel(out: Path) -> Path:
    """``pip wheel --no-deps`` of the sources (the build backend comes from the registry or
    pip's cache, as ``pip install .`` would take it)."""
    source = source_copy(out.parent / "source")
    try:
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)])
    except CheckFailed as exc:
        if any(sign in str(exc) for sign in NO_INDEX):
            raise BuildImpossible(f"cannot fetch the build backend: {exc}") from exc
        raise
    wheels = sorted(out.glob("patron-*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"expected one wheel in {out}, found {wheels}")
    return wheels[0]


def data_files_in_source() -> set[str]:
    """Every file under ``src/patron`` that is not Python source, as a path inside the wheel.

    Taken from git when the repository is a git checkout (so stray local files do not count),
    else from the directory."""
    src = REPO / "src"
    try:
        listed = subprocess.run(
            ["git", "ls-files", "src/patron"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
        paths = [REPO / p for p in listed]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in (src / "patron").rglob("*") if p.is_file()]
    return {
        p.relative_to(src).as_posix()
        for p in paths
        if p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts and p.exists()
    }


def check_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    missing = sorted(data_files_in_source() - names)
    if missing:
        raise CheckFailed(f"files missing from the wheel: {missing}")


def make_venv(root: Path, wheel: Path) -> Path:
    """A fresh venv holding only the wheel; dependencies read from this interpreter's
    site-packages. Returns the venv's ``bin`` directory."""
    base = getattr(sys, "_base_executable", sys.executable)
    venv = root / "venv"
    run([base, "-m", "venv", "--without-pip", str(venv)])
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_patron_check_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)])
    where = run([str(python), "-c", "import patron; print(patron.__file__)"], cwd=root).strip()
    if not where.startswith(str(venv)):
        raise CheckFailed(f"patron imports from {where}, not from the installed wheel")
    return bin_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(bin_dir: Path, env: dict[str, str], cwd: Path) -> Iterator[str]:
    port = free_port()
    log = (cwd / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(bin_dir / "patron"), "serve", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise CheckFailed(
                        f"patron serve did not start: {exc}\n{(cwd / 'serve.log').read_text()}"
                    ) from exc
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(
    opener: urllib.request.OpenerDirector,
    url: str,
    *,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


def expect(what: str, got: int, wanted: int, body: str = "") -> None:
    if got != wanted:
        raise CheckFailed(f"{what}: HTTP {got}, expected {wanted}\n{body[:2000]}")


def probe(base: str, api_key: str) -> list[str]:
    """The requests an operator's first minute makes; returns one line per check passed."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    done: list[str] = []

    status, _, page = fetch(opener, f"{base}/login")
    expect("GET /login", status, 200, page)
    icon = re.search(r'href="(/static/[^"]*favicon[^"]*)"', page)
    if icon is None:
        raise CheckFailed("the sign-in page links no favicon")
    for asset in [icon.group(1), *re.findall(r'href="(/static/[^"]+\.css[^"]*)"', page)]:
        status, _, body = fetch(opener, base + asset)
        expect(f"GET {asset}", status, 200, body)
    done.append("dashboard sign-in page and its static files: 200")

    status, _, page = fetch(opener, f"{base}/login", headers={"Accept-Language": "zh-CN"})
    expect("GET /login in Chinese", status, 200, page)
    if "登录" not in page:
        raise CheckFailed("the sign-in page in Chinese is not translated")
    done.append("sign-in page in Chinese: 200, translated")

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if csrf is None:
        raise CheckFailed("the sign-in form has no CSRF token")
    form = {"csrf_token": csrf.group(1), "email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    form["next"] = "/dashboard"
    status, _, body = fetch(opener, f"{base}/login", data=form)
    expect("POST /login", status, 303, body)
    status, _, page = fetch(opener, f"{base}/dashboard")
    expect("GET /dashboard signed in", status, 200, page)
    done.append("owner signs in, dashboard overview: 200")

    status, _, page = fetch(opener, f"{base}/portal/signin/not-a-real-link")
    if status >= 500 or "<html" not in page.lower():
        raise CheckFailed(f"GET /portal/signin/…: HTTP {status}\n{page[:2000]}")
    done.append(f"portal sign-in page with a bad link: {status}, a page")

    status, _, body = fetch(opener, f"{base}/api/v1/members")
    expect("GET /api/v1/members without a key", status, 401, body)
    status, _, body = fetch(
        opener, f"{base}/api/v1/members", headers={"Authorization": f"Bearer {api_key}"}
    )
    expect("GET /api/v1/members with a key", status, 200, body)
    status, _, body = fetch(opener, f"{base}/openapi.json")
    expect("GET /openapi.json", status, 200, body)
    done.append("API: 401 without a key, 200 with one, OpenAPI 200")
    return done


def check(workdir: Path) -> list[str]:
    """The whole check in ``workdir``; raises :class:`CheckFailed`."""
    wheel = build_wheel(workdir / "dist")
    check_contents(wheel)
    lines = [f"built {wheel.name}; every data file under src/patron is in it"]
    bin_dir = make_venv(workdir, wheel)
    lines.append("installed into a fresh venv; patron imports from the wheel")
    run_dir = workdir / "run"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env.update(
        PATRON_DATABASE_URL=f"sqlite:///{run_dir / 'patron.db'}",
        PATRON_ANALYTICS_PATH=str(run_dir / "analytics.duckdb"),
        PATRON_WORKER_IN_PROCESS="false",
        PATRON_LOG_LEVEL="WARNING",
        PYTHONPATH="",
    )
    patron = str(bin_dir / "patron")
    run([patron, "migrate"], env=env, cwd=run_dir)
    owner = ["--owner-email", OWNER_EMAIL, "--owner-password", OWNER_PASSWORD]
    create = [patron, "merchant", "create", "--name", "Wheel Tea", "--slug", "wheel", *owner]
    run(create, env=env, cwd=run_dir)
    api_key = run([patron, "apikey", "create", "--merchant", "wheel"], env=env, cwd=run_dir)
    api_key = api_key.strip().splitlines()[-1].strip()
    with serving(bin_dir, env, run_dir) as base:
        lines += probe(base, api_key)
    return lines


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="patron-wheel-") as tmp:
        try:
            lines = check(Path(tmp))
        except CheckFailed as exc:
            print(f"wheel check FAILED: {exc}", file=sys.stderr)
            return 1
    for line in lines:
        print(f"wheel check: {line}")
    print(f"wheel check passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
