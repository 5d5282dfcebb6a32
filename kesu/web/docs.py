"""OpenAPI docs served from the swagger-ui-bundle package: no CDN (intranet deployments)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from kesu.accounts.permissions import PUBLIC


def install(app: FastAPI) -> None:
    assets = Path(swagger_ui_bundle.swagger_ui_path)
    app.mount("/api/docs-assets", StaticFiles(directory=assets), name="swagger-assets")

    @app.get("/api/docs", include_in_schema=False, dependencies=[PUBLIC])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="kesu API",
            swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs-assets/swagger-ui.css",
            swagger_favicon_url="/api/docs-assets/favicon-32x32.png",
        )
