"""Tables of this domain (placeholder)."""

from __future__ import annotations

from kesu.db import Base

__all__ = ["Base"]
