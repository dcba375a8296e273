"""The dashboard's web app: the page, its static files, the JSON API and a health check."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import NotFoundError
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from canyu.settings import Settings
from canyu_runtime import elastic
from canyu_runtime.elastic import client
from canyu_runtime.private import without_credentials
from dashboard import admin, api, items
from dashboard.auth import COOKIE, is_reader
from dashboard.security import HEADERS, BoundedBodies, MaskTokens, SecurityHeaders

HERE = Path(__file__).resolve().parent
CHARTS = HERE / "node_modules" / "chart.js" / "dist"

REFUSED_PAGE = """<!doctype html><meta charset="utf-8"><title>canyu: token needed</title>
<p>This dashboard needs its token: open the address that <code>canyu dashboard</code> (or <code>canyu up</code>)
printed, which ends in <code>?token=…</code>.</p>"""


def create_app(settings: Settings) -> FastAPI:
    if settings.dashboard.token is None or settings.dashboard.admin_token is None:
        raise ValueError("the dashboard needs both tokens; see dashboard.auth.with_tokens")
    if not (CHARTS / "chart.umd.min.js").is_file():
        raise RuntimeError(f"the chart library is not installed in {HERE}: run `npm ci --prefix dashboard`")

    es = client(settings, request_timeout=10)

    access_log, mask = logging.getLogger("uvicorn.access"), MaskTokens()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        access_log.addFilter(mask)  # here, because uvicorn sets up its loggers before the app starts
        yield
        access_log.removeFilter(mask)
        es.close()

    app = FastAPI(
        title="canyu dashboard",
        version="1",
        description="Social listening, live. Read routes take the read-only (or admin) token as a bearer token; "
        "subscription and item routes take the admin token. The page accepts `?token=` once and keeps it in a cookie.",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load their scripts from a CDN; the spec alone needs none.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BoundedBodies)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: its headers go on BoundedBodies' refusals too
    app.state.settings = settings
    app.state.es = es
    app.include_router(api.router)
    app.include_router(admin.router)
    app.include_router(items.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/vendor/chart.js", StaticFiles(directory=CHARTS), name="charts")

    @app.exception_handler(EsConnectionError)
    async def elasticsearch_down(request: Request, exc: EsConnectionError) -> JSONResponse:
        where = without_credentials(settings.elasticsearch.url)
        return JSONResponse({"detail": f"cannot reach Elasticsearch at {where}"}, status_code=503)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette answers an unhandled error outside every middleware: the policy goes on here by hand.
        headers = {name.decode(): value.decode() for name, value in HEADERS}
        return JSONResponse({"detail": "internal error; the server's log has it"}, status_code=500, headers=headers)

    @app.exception_handler(NotFoundError)
    async def no_posts_index(request: Request, exc: NotFoundError) -> JSONResponse:
        detail = f"the index alias {settings.posts_alias} does not exist yet; run `canyu init` (or `canyu up`)"
        return JSONResponse({"detail": detail}, status_code=503)

    @app.get("/health", responses={503: {"description": "Elasticsearch does not answer, or does not serve"}})
    def health() -> dict[str, str]:
        """Alive, and Elasticsearch serves (``canyu_runtime.elastic.health``: the stack's check). Needs no token."""
        if elastic.health(es) is None:
            where = without_credentials(settings.elasticsearch.url)
            raise HTTPException(503, f"Elasticsearch at {where} does not answer, or its cluster is red")
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request, token: Annotated[str | None, Query()] = None) -> HTMLResponse:
        presented = token or request.cookies.get(COOKIE)
        if not is_reader(settings, presented):
            return HTMLResponse(REFUSED_PAGE, status_code=401)
        response = HTMLResponse((HERE / "static" / "index.html").read_text(encoding="utf-8"))
        response.set_cookie(COOKIE, presented, httponly=True, samesite="strict")
        return response

    return app
