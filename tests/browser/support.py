"""What the browser tests share besides fixtures: the users, the output folder, the request guard, login."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route

from tests.browser.platform import PASSWORD, ROOT, WebPlatform

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OUTPUT = ROOT / "test-output" / "browser"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

USERS = {
    "admin": (("admin",), (), "管理员"),
    "designer": (("process_designer",), (), "流程设计员"),
    "leader": (("leader",), (), "市领导"),
    "clerk": (("unit_staff",), ("web-unit",), "王科员"),
}


@contextmanager
def platform_with_users(directory: Path) -> Iterator[WebPlatform]:
    """A started platform in ``directory`` with the USERS made; the children's logs are printed when anything
    inside fails, and every child is stopped at the end."""
    platform = WebPlatform(directory)
    platform.start()
    try:
        for username, (roles, units, name) in USERS.items():
            platform.adduser(username, *roles, units=units, display_name=name)
        yield platform
    except BaseException:
        print(platform.logs())
        raise
    finally:
        platform.stop()


class Guard:
    """What a page tried that it must not: requests off this machine, uncaught errors."""

    def __init__(self) -> None:
        self.foreign: list[str] = []
        self.errors: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort("blockedbyclient")


def login(page: Page, platform: WebPlatform, path: str, username: str) -> None:
    """Open ``path`` and sign in through the page's own login dialog."""
    page.goto(platform.base_url + path)
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-dialog button[type=submit]")
    page.wait_for_selector("#login-dialog", state="detached")
