"""JSON routes: compensation requests and decisions (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["compensation"])
