"""Default routing rules (``kesu/seeds/routing_rules.toml``) for an empty database."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.routing import actions, conditions
from kesu.routing.models import RoutingRule
from kesu.seeds.loader import read_seed


def load(session: Session, clock: Clock) -> list[str]:
    if session.scalar(select(func.count()).select_from(RoutingRule)):
        return []
    now = clock.now()
    for row in read_seed("routing_rules.toml").get("rule", []):
        conditions.parse(row.get("conditions", {}))  # a broken seed fails loudly
        actions.parse(row.get("actions", []))
        session.add(
            RoutingRule(
                name=row["name"],
                description=row.get("description", ""),
                position=row.get("position", 100),
                is_active=row.get("is_active", True),
                events=row.get("events", ["created"]),
                conditions=row.get("conditions", {}),
                actions=row.get("actions", []),
                stop=row.get("stop", False),
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    return ["routing_rules"]
