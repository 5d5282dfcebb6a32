"""JSON routes: the ledger, budgets, the paid callback (placeholder)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["compensation"])
