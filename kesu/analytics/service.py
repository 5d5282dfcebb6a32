"""KPIs and series, computed from the rollups (placeholder)."""

from __future__ import annotations
