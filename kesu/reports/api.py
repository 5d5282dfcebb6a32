"""JSON routes: monthly and quarterly reports (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["reports"])
