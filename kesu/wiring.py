"""Connects the domains: which listeners hear complaint events. Called once, on first event.

Order matters: triage runs first (it may set the category, raise the severity and flag risk),
then routing rules (they may assign the complaint or raise its
severity), then the SLA clocks are brought up to date (the policy may depend on what the rules
changed), then notifications that follow the event itself.
"""

from __future__ import annotations


def install() -> None:
    """Subscribes each domain's listeners to ``kesu.complaints.events``."""
    from kesu.complaints import events, repeats
    from kesu.notify import customer as customer_notify
    from kesu.notify import listeners as notify_listeners
    from kesu.routing import engine as routing_engine
    from kesu.search import index as search_index
    from kesu.sla import service as sla_service
    from kesu.surveys import service as surveys
    from kesu.triage import service as triage_service
    from kesu.triage import similar

    events.subscribe_preparer(triage_service.prepare)
    events.subscribe_preparer(repeats.prepare)  # the text compared for 重复投诉
    events.subscribe_preparer(search_index.prepare)  # the full-text index's words
    events.subscribe(triage_service.on_event)
    events.subscribe(routing_engine.on_event)
    events.subscribe(sla_service.on_event)
    events.subscribe(notify_listeners.on_event)
    events.subscribe(customer_notify.on_event)  # the customer told on their own channel
    events.subscribe(surveys.on_event)  # the satisfaction survey of each resolution
    events.subscribe(similar.on_event)  # the similar-case index of resolved complaints
