"""Reports: gathering the figures, Excel and PDF, schedules (placeholder)."""

from __future__ import annotations
