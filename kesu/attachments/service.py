"""Storing and reading attachments (the rules; no HTTP)."""

from __future__ import annotations
