"""Pages: the standards matrix (admin), the recommendation card (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kesu.web.i18n import locale_dependency

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
