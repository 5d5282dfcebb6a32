"""Approval chains: thresholds and roles as data, fast claims, joint review (placeholder)."""

from __future__ import annotations
