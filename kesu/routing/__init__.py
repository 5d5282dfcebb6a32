"""Routing: rules (conditions → actions) and assignment strategies."""
