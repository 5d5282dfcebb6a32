"""JSON routes: KPIs, series, business volumes, targets (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["analytics"])
