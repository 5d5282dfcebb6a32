"""Exports: rows, masking, formula neutralisation, background jobs (placeholder)."""

from __future__ import annotations
