"""Pages: export progress and downloads (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kesu.web.i18n import locale_dependency

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
