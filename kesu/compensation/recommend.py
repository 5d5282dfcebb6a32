"""The recommendation: the rule that applies, the amount, the reason (placeholder)."""

from __future__ import annotations
