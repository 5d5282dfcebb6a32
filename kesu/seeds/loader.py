"""Loads the default configuration (from the TOML files beside this module) into an empty DB."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.accounts.models import Team
from kesu.clock import Clock
from kesu.complaints.models import Stage
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.models import Category, FormField

SEED_DIR = Path(__file__).parent


def read_seed(name: str) -> dict[str, Any]:
    with (SEED_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


def load_defaults(session: Session, clock: Clock) -> list[str]:
    """Seeds each kind of configuration whose table is still empty; returns what it seeded."""
    seeded = []
    if not session.scalar(select(func.count()).select_from(Stage)):
        _seed_stages(session)
        seeded.append("stages")
    if not session.scalar(select(func.count()).select_from(Team)):
        _seed_teams(session, clock)
        seeded.append("teams")
    if not session.scalar(select(func.count()).select_from(Category)):
        _seed_categories(session, clock)
        seeded.append("categories")
    if not session.scalar(select(func.count()).select_from(FormField)):
        _seed_form_fields(session)
        seeded.append("form_fields")
    seeded += _seed_other_domains(session, clock)
    session.flush()
    config_cache.clear()
    return seeded


def _seed_other_domains(session: Session, clock: Clock) -> list[str]:
    """SLA calendars and policies, routing rules, triage lexicons and keyword rules: each
    domain seeds its own tables."""
    from kesu.compensation import standards as compensation_standards
    from kesu.knowledge import service as knowledge
    from kesu.routing import seeds as routing_seeds
    from kesu.sla import seeds as sla_seeds
    from kesu.triage import lexicons, rules

    return (
        sla_seeds.load(session, clock)
        + routing_seeds.load(session, clock)
        + lexicons.seed(session, clock)
        + rules.seed(session, clock)
        + knowledge.seed(session, clock)
        + compensation_standards.seed(session, clock)
    )


def _seed_stages(session: Session) -> None:
    for position, row in enumerate(read_seed("stages.toml")["stage"], start=1):
        session.add(
            Stage(
                code=row["code"],
                name=row["name"],
                name_en=row.get("name_en", ""),
                public_name=row.get("public_name", row["name"]),
                position=position * 10,
                category=row["category"],
                allowed_roles=row.get("allowed_roles", []),
                time_limit_minutes=row.get("time_limit_minutes"),
                required_outputs=row.get("required_outputs", []),
                back_to=row.get("back_to", []),
            )
        )


def _seed_teams(session: Session, clock: Clock) -> None:
    for row in read_seed("teams.toml")["team"]:
        session.add(
            Team(
                code=row["code"],
                name=row["name"],
                name_en=row.get("name_en", ""),
                created_at=clock.now(),
            )
        )


def _seed_categories(session: Session, clock: Clock) -> None:
    def add(node: Any, parent: Category | None, inherited: dict[str, Any], sort: int) -> None:
        if isinstance(node, str):
            node = {"name": node}
        settings = {
            "team": node.get("team", inherited.get("team")),
            "severity": node.get("severity", inherited.get("severity")),
        }
        category = Category(
            parent=parent,
            level=parent.level + 1 if parent else 1,
            name=node["name"],
            name_en=node.get("name_en", ""),
            path=f"{parent.path}/{node['name']}" if parent else node["name"],
            default_severity=settings["severity"],
            team_code=settings["team"],
            sort=sort,
            created_at=clock.now(),
        )
        session.add(category)
        for index, child in enumerate(node.get("children", [])):
            add(child, category, settings, index)

    for index, root in enumerate(read_seed("categories.toml")["category"]):
        add(root, None, {}, index)


def _seed_form_fields(session: Session) -> None:
    for index, row in enumerate(read_seed("form_fields.toml").get("field", [])):
        session.add(
            FormField(
                code=row["code"],
                label=row["label"],
                label_en=row.get("label_en", ""),
                field_type=row.get("field_type", "text"),
                options=row.get("options", []),
                required=row.get("required", False),
                sort=index,
            )
        )
