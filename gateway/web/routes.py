"""Serve the pages, their own static files and the allowlisted npm bundles.

Pages are plain HTML files that load ES modules; the data comes from the gateway's API, so the HTML
is the same for every user and needs no templating. The Content-Security-Policy keeps every request
on this origin: a page that tried to reach a CDN would fail in the browser, not silently work online
and break on the intranet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from gateway.web.vendor import NODE_MODULES, VENDOR_FOLDERS, missing_folders

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
STATIC = HERE / "static"

# 'unsafe-inline' styles: bpmn-js, echarts and form-js set style attributes on the elements they draw.
# 'unsafe-eval' is not needed by any of the bundles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages are small and change with deployments; always revalidate.
    "Cache-Control": "no-cache",
}

# URL -> page file. Detail URLs share the list page's file: the module reads the id from the path.
PAGE_ROUTES: dict[str, str] = {
    "/screen": "screen.html",
    "/tasks": "tasks.html",
    "/tasks/{task_key}": "tasks.html",
    "/projects": "projects.html",
    "/projects/{project_code}": "project.html",
    "/problems": "problems.html",
    # Not /problems/{id}: the API serves RFC 9457 problem types at /problems/{slug}.
    "/problem/{problem_id}": "problem.html",
    "/modeler": "modeler.html",
    "/operate": "operate.html",
    "/operate/{instance_key}": "operate.html",
    "/portal": "index.html",
}


def _page_endpoint(file_name: str):  # type: ignore[no-untyped-def]
    path = PAGES / file_name

    async def page() -> HTMLResponse:
        try:
            body = path.read_text(encoding="utf-8")
        except FileNotFoundError as error:  # a page listed above but missing from the checkout
            raise HTTPException(status_code=404, detail=f"page {file_name} is missing") from error
        return HTMLResponse(body, headers=PAGE_HEADERS)

    page.__name__ = f"web_page_{file_name.removesuffix('.html')}"
    return page


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for url, file_name in PAGE_ROUTES.items():
        router.add_api_route(url, _page_endpoint(file_name), methods=["GET"], response_class=HTMLResponse)

    @router.get("/")
    async def web_root() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=307)

    return router


class _NoCacheStatic(StaticFiles):
    """StaticFiles (ETag, 304, HEAD, no path traversal) that asks browsers to revalidate each time."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def _vendor_missing_route(missing: list[str]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/vendor/{rest:path}")
    async def vendor_missing(rest: str) -> JSONResponse:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "front-end packages are not installed",
                "status": 503,
                "detail": f"node_modules lacks {', '.join(missing)}: run `make node` (npm ci) in the repository",
            },
            status_code=503,
            media_type="application/problem+json",
        )

    return router


def install_web(app: FastAPI, node_modules: Path = NODE_MODULES) -> None:
    """Add the pages, /static and the /vendor allowlist to the gateway's app."""
    app.include_router(build_router())
    app.mount("/static", _NoCacheStatic(directory=STATIC), name="web-static")
    missing = missing_folders(node_modules)
    for name, folder in VENDOR_FOLDERS.items():
        if name not in missing:
            app.mount(f"/vendor/{name}", _NoCacheStatic(directory=node_modules / folder), name=f"vendor-{name}")
    if missing:
        app.include_router(_vendor_missing_route(missing))
