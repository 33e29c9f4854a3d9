"""``make screenshots``: every page of the dashboard and the member portal, in each language, as
the owner, a clerk and a member see it, as full-page PNGs under
``var/screenshots/<lang>/<role>/<page>.png``, with a gallery ``var/screenshots/index.html``.

    python -m patron.devtools.screenshots [--source var/patron.db] [--out var/screenshots]

It works on a scratch copy of ``--source`` (``var/patron.db``, what ``make run`` builds) when that
holds the demo shop, else on a small demo shop built for the run; it serves the copy with a real
server on a free port and drives Debian's Chromium through Playwright. It exits 1 when a page
answers 400 or more (a clerk refused a manager's page is expected, and listed) or redirects.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Browser, BrowserContext, sync_playwright
from playwright.sync_api import Page as PlaywrightPage
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from patron.app import create_app
from patron.core.config import Settings
from patron.core.db import make_engine, make_session_factory, transaction
from patron.core.errors import PatronError
from patron.core.migrate import upgrade
from patron.demo import catalogue
from patron.demo.cli import run_demo
from patron.demo.generate import DemoConfig
from patron.demo.write import find_demo, now_of
from patron.devtools.gallery import Gallery, Shot
from patron.devtools.pages import Page
from patron.devtools.serving import free_port, serving
from patron.devtools.stage import Stage, prepare_stage
from patron.i18n import LANGUAGES
from patron.portal.service import create_portal_link

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Who looks, on what screen: the owner at a desk, the clerk on a tablet, the member on a phone.
VIEWPORTS = {
    "owner": {"width": 1280, "height": 800},
    "clerk": {"width": 1024, "height": 768},
    "member": {"width": 390, "height": 844},
    "visitor": {"width": 1280, "height": 800},
}
BROWSER_LOCALE = {"en": "en-GB", "zh_Hans": "zh-CN"}
# Chromium draws a window at most this tall; a longer page is finished by the full-page shot.
MAX_HEIGHT = 16_000
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Camera:
    """One browser; a fresh context per role and language; every shot goes into the gallery."""

    def __init__(self, browser: Browser, base: str, out: Path, gallery: Gallery) -> None:
        self.browser, self.base, self.out, self.gallery = browser, base, out, gallery
        self.failures: list[str] = []

    def context(self, role: str, lang: str, viewport: str | None = None) -> BrowserContext:
        context = self.browser.new_context(
            viewport=VIEWPORTS[viewport or role],  # type: ignore[arg-type]
            locale=BROWSER_LOCALE[lang],
        )
        context.set_default_timeout(120_000)
        return context

    def shoot(
        self, context: BrowserContext, role: str, lang: str, page: Page, allowed: bool
    ) -> None:
        """Open ``page``; a PNG if it answered, a failure if it should have and did not."""
        tab = context.pages[0] if context.pages else context.new_page()
        started = time.perf_counter()
        response = tab.goto(self.base + page.path, wait_until="load")
        status = response.status if response is not None else 0
        url = urlparse(tab.url)
        landed = url.path + (f"?{url.query}" if url.query else "")
        shot = Shot(role, lang, page.name, page.path, status=status)
        refused = status >= 400 or landed != page.path
        if refused:
            shot.note = f"redirected to {landed}" if status < 400 else "refused"
            if allowed or status not in (403, 200):
                self.failures.append(f"{lang}/{role} {page.path}: {status} {shot.note}")
                shot.note += " (FAILED)"
            else:
                shot.note = "not for this role"
        else:
            folder = self.out / lang / role
            folder.mkdir(parents=True, exist_ok=True)
            self.whole_page(tab, folder / f"{page.name}.png")
            shot.file = f"{lang}/{role}/{page.name}.png"
        self.gallery.shots.append(shot)
        took = time.perf_counter() - started
        console.print(f"{lang:8} {role:8} {status:4} {took:5.1f} s  {page.path}  {shot.note}")

    @staticmethod
    def whole_page(tab: PlaywrightPage, path: Path) -> None:
        """The page as tall as its content: the window is stretched to the content first, so
        a sidebar as tall as the window and a bar fixed to its bottom sit where a reader who
        scrolled would see them (a plain full-page shot leaves them at the first screen)."""
        size = tab.viewport_size or {"width": 1280, "height": 800}
        tall = int(tab.evaluate("document.documentElement.scrollHeight"))
        tall = min(max(tall, size["height"]), MAX_HEIGHT)
        tab.set_viewport_size({"width": size["width"], "height": tall})
        tab.screenshot(path=str(path), full_page=True)
        tab.set_viewport_size(size)

    def switch_language(self, context: BrowserContext, lang: str) -> None:
        tab = context.pages[0]
        tab.locator(f"form.lang button[value='{lang}']").first.click()
        tab.wait_for_load_state("load")

    def staff(self, role: str, lang: str, email: str, password: str, stage: Stage) -> None:
        """Sign in as a dashboard user and visit every dashboard page."""
        context = self.context(role, lang)
        tab = context.new_page()
        tab.goto(self.base + "/login")
        tab.fill("input[name=email]", email)
        tab.fill("input[name=password]", password)
        with tab.expect_navigation():
            tab.locator("form:has(input[name=password]) [type=submit]").first.click()
        if urlparse(tab.url).path == "/login":
            raise SystemExit(f"could not sign in as {email}")
        self.switch_language(context, lang)
        for page in stage.dashboard:
            self.shoot(context, role, lang, page, allowed=stage.allowed(role, page.path))
        context.close()

    def member(self, lang: str, stage: Stage, sessions: sessionmaker[Session]) -> None:
        """Open a portal sign-in link (its page is the visitor's), then every portal page."""
        with transaction(sessions) as session:
            link = create_portal_link(
                session, stage.merchant_id, stage.member_id, settings=stage.settings
            )
        signin = urlparse(link.url).path
        context = self.context("member", lang)
        tab = context.new_page()
        tab.goto(self.base + signin)
        self.switch_language(context, lang)
        self.shoot(context, "visitor", lang, Page("portal", signin, signin, "portal-signin"), True)
        with tab.expect_navigation():
            tab.locator("form[action^='/portal/signin/'] button[type=submit]").click()
        for page in stage.portal:
            self.shoot(context, "member", lang, page, allowed=True)
        context.close()

    def visitor(self, lang: str) -> None:
        context = self.context("visitor", lang)
        context.new_page().goto(self.base + "/login")
        self.switch_language(context, lang)
        self.shoot(context, "visitor", lang, Page("dashboard", "/login", "/login", "login"), True)
        context.close()


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file that may be in use (WAL included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def build_database(url: str, source: Path | None, members: int, months: int) -> None:
    """The scratch database: a copy of ``source`` if it holds the demo shop, else a new demo."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        exists = find_demo(session, catalogue.MERCHANT_SLUG) is not None
    if not exists:
        console.print(f"building a demo shop of {members} members over {months} months …")
        cfg = DemoConfig(members=members, months=months, now=now_of(sessions))
        settings = Settings(database_url=url, worker_in_process=False)
        run_demo(sessions, settings, cfg, catalogue.MERCHANT_SLUG, if_empty=True)
    elif source is not None:
        console.print(f"using a copy of {source}")
    engine.dispose()


def clear(out: Path, langs: list[str]) -> None:
    """Remove the previous run's pictures (only what this tool writes)."""
    for lang in langs:
        shutil.rmtree(out / lang, ignore_errors=True)
    (out / "index.html").unlink(missing_ok=True)


def run(source: Path | None, out: Path, members: int, months: int) -> int:
    langs = list(LANGUAGES)
    with tempfile.TemporaryDirectory(prefix="patron-screenshots-") as work:
        db = Path(work) / "patron.db"
        use_source = source is not None and source.is_file()
        if use_source and source is not None:
            copy_database(source, db)
        url = f"sqlite:///{db}"
        build_database(url, source if use_source else None, members, months)
        port = free_port()
        settings = Settings(
            database_url=url,
            analytics_path=str(Path(work) / "analytics.duckdb"),
            worker_in_process=False,
            port=port,
            base_url=f"http://127.0.0.1:{port}",
        )
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        app = create_app(settings, engine=engine, run_worker=False)
        stage = prepare_stage(app, sessions, settings)
        clear(out, langs)
        gallery = Gallery(["owner", "clerk", "member", "visitor"], langs, notes=list(stage.notes))
        started = time.perf_counter()
        with serving(app, port) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            camera = Camera(browser, base, out, gallery)
            for lang in langs:
                camera.visitor(lang)
                camera.staff("owner", lang, stage.owner_email, stage.owner_password, stage)
                camera.staff("clerk", lang, stage.clerk_email, stage.clerk_password, stage)
                camera.member(lang, stage, sessions)
            browser.close()
        engine.dispose()
    gallery.notes += [f"FAILED {line}" for line in camera.failures]
    index = gallery.write(out)
    shots = sum(s.file is not None for s in gallery.shots)
    console.print(f"{shots} screenshots in {time.perf_counter() - started:.0f} s: {index}")
    for note in stage.notes:
        err.print(f"note: {note}")
    for failure in camera.failures:
        err.print(f"FAILED {failure}")
    return 1 if camera.failures else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m patron.devtools.screenshots", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=Path("var/patron.db"),
        help="a SQLite demo database to copy (default var/patron.db; a demo is built if absent)",
    )
    parser.add_argument("--out", type=Path, default=Path("var/screenshots"))
    parser.add_argument("--members", type=int, default=80, help="the built demo's members")
    parser.add_argument("--months", type=int, default=4, help="the built demo's months")
    args = parser.parse_args(argv)
    try:
        code = run(args.source, args.out, args.members, args.months)
    except PatronError as exc:
        err.print(f"error: {exc.message}")
        code = 1
    raise SystemExit(code)


if __name__ == "__main__":
    main()
