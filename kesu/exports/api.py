"""JSON routes: the workbench export (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["exports"])
