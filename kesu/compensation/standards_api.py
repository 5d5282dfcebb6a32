"""JSON routes: the compensation standards and the recommendation (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["compensation"])
