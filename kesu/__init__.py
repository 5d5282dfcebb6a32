"""kesu 客诉 — customer complaint management."""

__version__ = "0.1.0"
