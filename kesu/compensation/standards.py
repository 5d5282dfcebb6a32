"""The standards matrix: versions, rules, the seed data file (placeholder)."""

from __future__ import annotations
