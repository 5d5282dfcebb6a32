"""Connects the domains: which listeners hear complaint events. Called once, on first event."""

from __future__ import annotations


def install() -> None:
    """Subscribes each domain's listeners to ``kesu.complaints.events``.

    Nothing is subscribed yet; routing, SLA clocks and notifications will register here.
    """
