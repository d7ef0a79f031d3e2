"""The web module without a browser: every asset a page names is served from this repository or an
allowlisted npm folder, nothing else of node_modules is reachable, pages carry a same-origin CSP, and every
text key the pages use exists in both languages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.web import mount
from gateway.web.routes import PAGE_ROUTES, PAGES, STATIC
from gateway.web.vendor import NODE_MODULES, VENDOR_FOLDERS

ASSET = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"')
I18N = STATIC / "i18n"


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    mount(app)
    return TestClient(app)


def page_files() -> list[Path]:
    return sorted(PAGES.glob("*.html"))


@pytest.mark.parametrize("page", page_files(), ids=lambda p: p.name)
def test_every_asset_of_a_page_is_local_and_served(client: TestClient, page: Path) -> None:
    assets = ASSET.findall(page.read_text(encoding="utf-8"))
    assert assets, f"{page.name} loads nothing?"
    for url in assets:
        assert url.startswith(("/static/", "/vendor/")), f"{page.name} loads {url} from elsewhere"
        response = client.get(url)
        assert response.status_code == 200, f"{page.name}: {url} answered {response.status_code}"
        assert len(response.content) > 0


def test_pages_are_served_with_a_same_origin_policy(client: TestClient) -> None:
    for url in PAGE_ROUTES:
        concrete = re.sub(r"\{[^}]+\}", "X-1", url)
        response = client.get(concrete)
        assert response.status_code == 200, concrete
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "script-src 'self'" in policy
        assert "http" not in policy  # no external origin is allowed anywhere
    assert client.get("/", follow_redirects=False).headers["location"] == "/portal"


@pytest.mark.parametrize("url", [
    "/vendor/echarts/../package.json",
    "/vendor/echarts/%2e%2e/%2e%2e/zbctl/package.json",
    "/vendor/zbctl/package.json",
    "/vendor/bpmn-js/../../package.json",
    "/static/../routes.py",
    "/static/%2e%2e/routes.py",
])
def test_nothing_outside_the_allowlist_is_reachable(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404, f"{url} answered {response.status_code}"


def test_the_allowlisted_folders_exist_and_hold_the_city_map(client: TestClient) -> None:
    for name, folder in VENDOR_FOLDERS.items():
        assert (NODE_MODULES / folder).is_dir(), f"{name}: node_modules/{folder} is missing (run make node)"
    geo = client.get("/vendor/china-map/320800.json").json()
    names = {f["properties"]["adcode"]: f["properties"]["name"] for f in geo["features"]}
    assert names == {320803: "淮安区", 320804: "淮阴区", 320812: "清江浦区", 320813: "洪泽区", 320826: "涟水县",
                     320830: "盱眙县", 320831: "金湖县"}


def test_missing_packages_answer_a_clear_problem(tmp_path: Path) -> None:
    app = FastAPI()
    mount(app, node_modules=tmp_path / "node_modules")
    response = TestClient(app).get("/vendor/echarts/echarts.min.js")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "make node" in response.json()["detail"]
    assert TestClient(app).get("/screen").status_code == 200  # the pages themselves still load


# --- i18n ---------------------------------------------------------------------------------------

# Keys built from API values: the families whose members the dictionaries must hold.
FAMILIES = {
    "stage": ["signed", "filing", "land", "planning", "construction_permit", "started", "completed",
              "in_production", "cancelled"],
    "light": ["red", "green"],
    "problem_status": ["open", "assigned", "reported", "sent_back", "closed"],
    "origin": ["warning", "investor", "unit"],
    "unit_role": ["assistant", "approval"],
    "unit_status": ["assigned", "reported", "sent_back", "done"],
    "instance_state": ["active", "completed", "terminated"],
    "source": ["gonggai", "tuzhi"],
}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in (STATIC / "js").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        keys.update(re.findall(r"\bt\('([a-z_]+\.[a-z0-9_.]+)'", text))
        keys.update(re.findall(r"\bkey: '([a-z_]+\.[a-z0-9_]+)'", text))
        # lists of header keys: ['problem.unit', 'problem.unit_role', ...].map((key) => ...)
        for block in re.findall(r"\[([^\]]*)\]\s*\.map\(\(key\)", text):
            keys.update(re.findall(r"'([a-z_]+\.[a-z0-9_]+)'", block))
    for path in page_files():
        text = path.read_text(encoding="utf-8")
        keys.update(re.findall(r'data-i18n="([^"]+)"', text))
        for attrs in re.findall(r'data-i18n-attr="([^"]+)"', text):
            keys.update(pair.split(":", 1)[1].strip() for pair in attrs.split(";") if ":" in pair)
    for family, members in FAMILIES.items():
        keys.update(f"{family}.{member}" for member in members)
    return keys


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_key_the_pages_use_is_translated(language: str) -> None:
    dictionary = json.loads((I18N / f"{language}.json").read_text(encoding="utf-8"))
    missing = sorted(k for k in used_keys() if not dictionary.get(k))
    assert not missing, f"{language}.json lacks {missing}"


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    zh = json.loads((I18N / "zh-CN.json").read_text(encoding="utf-8"))
    en = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en), f"only Chinese: {sorted(set(zh) - set(en))}; only English: {sorted(set(en) - set(zh))}"
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key
