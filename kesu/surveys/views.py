"""Routes (filled in by the capability's work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
