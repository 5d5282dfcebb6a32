"""Compensation requests and their decisions (placeholder)."""

from __future__ import annotations
