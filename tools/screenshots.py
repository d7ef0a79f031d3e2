"""Screenshots of every page for the README: ``.venv/bin/python tools/screenshots.py``.

Starts the whole platform on free ports in a temporary directory (Redis, engine with a controlled clock,
workers, gateway), deploys bpmn/, seeds the demo city (``python -m services.demo seed``), moves the engine
clock so that red lights, problems, tasks and yellow flags exist, then drives headless Chromium
(/usr/bin/chromium) through each page at 1920×1080 and at a phone's 390×844. Pictures go to
docs/screenshots/ (``--out`` to change). Everything stops at the end; nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, Route, sync_playwright  # noqa: E402

from tests.browser.platform import PASSWORD, WebPlatform, bpmn_models  # noqa: E402

DAY_MS = 86_400_000
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = {"desktop": {"width": 1920, "height": 1080}, "phone": {"width": 390, "height": 844}}


def log(message: str) -> None:
    print(message, flush=True)


def seed(platform: WebPlatform, projects: int) -> None:
    for username, roles, units, name in (("shot-admin", ("admin",), (), "管理员"),
                                         ("shot-designer", ("process_designer",), (), "流程设计员"),
                                         ("shot-leader", ("leader",), (), "市领导")):
        platform.adduser(username, *roles, units=units, display_name=name)
    # Through the gateway, which keeps the resources: the inbox serves task forms from them.
    models = bpmn_models()
    with platform.client("shot-admin") as admin:
        platform.deploy(admin, *models)
    log(f"  deployed {len(models)} models from bpmn/")
    result = subprocess.run([sys.executable, "-m", "services.demo", "seed", "--projects", str(projects)], cwd=ROOT,
                            env=platform.env(), capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"services.demo seed failed:\n{result.stdout}\n{result.stderr}")
    log(f"  {result.stdout.strip().splitlines()[-1] if result.stdout.strip() else 'seeded'}")


FRESH = [("320812", "淮安智能制造产业园"), ("320830", "盱眙凹土新材料项目"), ("320826", "涟水食品产业园"),
         ("320803", "淮安区新能源电池项目"), ("320804", "淮阴区物流中心"), ("320813", "洪泽湖生态旅游项目")]



def sign_fresh_projects(platform: WebPlatform) -> None:
    """Projects signed today stall 90 days from now, so the last months show red lights of their own."""
    today = platform.today()
    with platform.client("shot-admin") as admin:
        for index, (county, name) in enumerate(FRESH):
            admin.post("/api/projects", json={
                "project_code": f"2026-{county}-34-03-8{index:05d}", "name": name, "county_code": county,
                "industry": "manufacturing", "amount_cny": (index + 2) * 150_000_000, "signed_at": today,
                "investor": {"company": f"{name}投资有限公司", "contact_name": "王经理"}})


def open_tasks(admin: httpx.Client, element_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in range(1, 20):
        answer = admin.get("/api/tasks", params={"view": "all", "size": 200, "page": page}).json()
        found += [t for t in answer["items"] if t["element_id"] == element_id]
        if page >= answer["pages"]:
            break
    return found


def handle_some(platform: WebPlatform, share: float) -> None:
    """The units resolve a share of their work orders and the office confirms them."""
    with platform.client("shot-admin") as admin:
        tasks = open_tasks(admin, "resolve")
        for task in tasks[: int(len(tasks) * share)]:
            admin.post(f"/api/tasks/{task['job_key']}/complete",
                       json={"variables": {"resolution": "已现场协调，相关手续已办结。"}})
        time.sleep(3)
        for task in open_tasks(admin, "confirm"):
            admin.post(f"/api/tasks/{task['job_key']}/complete",
                       json={"variables": {"decision": "confirm", "confirmComment": "确认办结"}})
        time.sleep(2)


def age_the_city(platform: WebPlatform) -> None:
    """Months pass: stalled projects turn red, problems are raised and assigned, some are resolved, flags go up."""
    sign_fresh_projects(platform)
    for share in (1.0, 0.8, 0.4):
        platform.clock_add(30 * DAY_MS)
        time.sleep(3)  # let the workers catch up with what the move made due
        handle_some(platform, share)
    platform.clock_add(DAY_MS)
    time.sleep(3)


def staff_with_tasks(platform: WebPlatform) -> tuple[str, int | None]:
    """A unit staff member of the unit with the most open tasks, with one task claimed."""
    with platform.client("shot-admin") as admin:
        tasks = admin.get("/api/tasks", params={"view": "all", "size": 200}).json()["items"]
        groups = Counter(g for t in tasks for g in t["candidate_groups"])
    if not groups:
        platform.adduser("shot-staff", "unit_staff", units=("office-city",), display_name="王科长")
        return "shot-staff", None
    unit = groups.most_common(1)[0][0]
    platform.adduser("shot-staff", "unit_staff", units=(unit,), display_name="王科长")
    with platform.client("shot-staff") as staff:
        open_tasks = staff.get("/api/tasks", params={"unassigned": "true"}).json()["items"]
        for task in open_tasks[:2]:
            staff.post(f"/api/tasks/{task['job_key']}/claim")
        return "shot-staff", open_tasks[0]["job_key"] if open_tasks else None


def first(platform: WebPlatform, path: str, **params: Any) -> dict[str, Any] | None:
    with platform.client("shot-admin") as admin:
        items = admin.get(path, params={"size": 1, **params}).json()["items"]
    return items[0] if items else None


def local_only(route: Route) -> None:
    host = urlsplit(route.request.url).hostname or ""
    if route.request.url.startswith(("data:", "blob:")) or host in {"127.0.0.1", "localhost", "::1"}:
        route.continue_()
    else:
        log(f"  blocked a request to {route.request.url}")
        route.abort("blockedbyclient")


def sign_in(page: Page, base: str, user: str) -> None:
    page.goto(f"{base}/portal")
    page.evaluate("() => localStorage.clear()")
    page.goto(f"{base}/tasks")
    page.fill("#login-username", user)
    page.fill("#login-password", PASSWORD)
    page.click("#login-dialog button[type=submit]")
    page.wait_for_selector("#login-dialog", state="detached")


# Steps some pages take before their picture: the modeler opens the life-cycle model.
PREPARE = {
    "modeler": """() => {
        const select = document.getElementById('process-select');
        const option = [...select.options].find((o) => o.textContent.startsWith('project-lifecycle'));
        if (option) { select.value = option.value; select.dispatchEvent(new Event('change')); }
    }""",
}


def shoot(platform: WebPlatform, out: Path, shots: list[tuple[str, str, str, str]], chromium: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for size_name, viewport in SIZES.items():
                signed_in: dict[str, Any] = {}
                for name, user, path, ready in shots:
                    if user not in signed_in:
                        context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                                      device_scale_factor=1)
                        context.route("**/*", local_only)
                        sign_in(context.new_page(), platform.base_url, user)
                        signed_in[user] = context
                    page = signed_in[user].new_page()
                    page.goto(platform.base_url + path)
                    page.wait_for_selector(ready, timeout=60_000)
                    if name in PREPARE:
                        page.wait_for_timeout(1000)
                        page.evaluate(PREPARE[name])
                    page.wait_for_timeout(2500)  # charts and diagrams finish their entry animation
                    target = out / f"{name}-{size_name}.png"
                    page.screenshot(path=str(target))
                    log(f"  {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
                    page.close()
                for context in signed_in.values():
                    context.close()
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--projects", type=int, default=120, help="demo projects to seed (default 120)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qly-shots-") as tmp:
        platform = WebPlatform(Path(tmp))
        log("Starting the platform…")
        platform.start()
        try:
            log("Seeding the demo city…")
            seed(platform, args.projects)
            log("Moving the engine clock three months; units resolve part of their work orders…")
            age_the_city(platform)
            staff, task_key = staff_with_tasks(platform)
            red = first(platform, "/api/projects", light="red") or first(platform, "/api/projects")
            problem = first(platform, "/api/problems")
            lifecycle = first(platform, "/api/processes/instances", bpmn_process_id="project-lifecycle",
                              state="active")
            shots = [
                ("portal", "shot-leader", "/portal", ".cards"),
                ("screen", "shot-leader", "/screen", "html[data-ready=true]"),
                ("tasks", staff, f"/tasks/{task_key}" if task_key else "/tasks",
                 "#task-form .fjs-container" if task_key else "#task-list li"),
                ("projects", "shot-leader", "/projects", "#project-rows tr[data-project-code]"),
                ("problems", "shot-leader", "/problems", "#problem-rows tr"),
                ("modeler", "shot-designer", "/modeler", "#canvas .djs-container"),
                ("operate", "shot-admin", f"/operate/{lifecycle['key']}" if lifecycle else "/operate",
                 "#instance-diagram .djs-container" if lifecycle else "#instance-list li"),
            ]
            if red:
                shots.insert(4, ("project", "shot-admin", f"/projects/{red['project_code']}", "#project-diagram .djs-container"))
            if problem:
                shots.insert(6, ("problem", "shot-leader", f"/problem/{problem['id']}", "#history-heading"))
            log("Taking screenshots…")
            shoot(platform, args.out, shots, args.chromium)
        except BaseException:
            log(platform.logs())
            raise
        finally:
            platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
