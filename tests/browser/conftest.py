"""Browser tests: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the real
platform started by ``web_platform``.

Every page of a test runs behind a router that lets requests to this machine through and fails the test
for any other host: the pages must work on an intranet without internet. Each test leaves a screenshot
in test-output/browser/ and fails on an uncaught JavaScript error.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.platform import ROOT, WebPlatform
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, OUTPUT, Guard, platform_with_users


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (CI does)")
    if not (ROOT / "node_modules" / "bpmn-js" / "dist").is_dir():
        pytest.fail("node_modules is missing: run `make node` (npm ci) before the browser tests")
    return CHROMIUM


@pytest.fixture(scope="session")
def web_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebPlatform]:
    """One platform for the browser tests of a session; each test makes its own data."""
    with platform_with_users(tmp_path_factory.mktemp("web-platform")) as platform:
        yield platform


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


@pytest.fixture
def guard() -> Guard:
    return Guard()


@pytest.fixture
def context(browser: Browser, guard: Guard, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    viewport = getattr(request, "param", None) or {"width": 1600, "height": 1000}
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.route("**/*", guard.route)
    context.set_default_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext, guard: Guard, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = context.new_page()
    page.on("pageerror", lambda error: guard.errors.append(str(error)))
    # A bundle that needs eval or an outside origin shows up as a CSP violation on the console.
    page.on("console", lambda message: guard.errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    yield page
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(OUTPUT / f"{_slug(request.node.name)}.png"), full_page=True)
    except Exception as error:  # a crashed page still lets the assertions below speak
        print(f"screenshot failed: {error}")
    assert not guard.foreign, f"the page requested hosts other than this machine: {guard.foreign}"
    assert not guard.errors, f"uncaught JavaScript errors: {guard.errors}"
