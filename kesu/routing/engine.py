"""Running the rules: on a complaint event, each active rule listening to it, in order.

Rules run inside the transaction of the change that triggered them and act through the
complaint services, so every assignment or edit is on the timeline like a person's, followed
by one ``rule_fired`` event naming the rule. Changes made by rules publish events too; those
do not trigger rules again (a flag on the session), so rules cannot loop.

A rule that opens an incident or escalates is an *oversight* rule (spike detection, risk words):
it is evaluated even after a stopping rule fired. "Stop" ends the ordinary routing, never the
watch on spikes and risk — otherwise "技术问题 → 技术支持部" would silence the batch rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import timeline
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.errors import KesuError
from kesu.routing import actions as act
from kesu.routing import conditions
from kesu.routing.effects import apply
from kesu.routing.facts import ComplaintFacts
from kesu.routing.models import RoutingRule
from kesu.taxonomy import cache as config_cache

_RUNNING = "kesu_rules_running"

# Timeline event kinds → the trigger names rules listen to.
TRIGGERS = {
    "created": "created",
    "updated": "updated",
    "stage_changed": "stage_changed",
    "assigned": "assigned",
    "reopened": "reopened",
    "customer_message": "customer_message",
    "customer_rejected": "customer_rejected",
    "sla_warning": "timer_fired",
    "sla_breach": "timer_fired",
    "sla_level2": "timer_fired",
    "sla_level3": "timer_fired",
    "stage_overdue": "timer_fired",
    "survey_answered": "survey_answered",
}
TRIGGER_NAMES = sorted(set(TRIGGERS.values()))


@dataclass(frozen=True)
class RuleSpec:
    id: int
    name: str
    position: int
    is_active: bool
    events: frozenset[str]
    condition: conditions.Condition
    actions: tuple[act.Action, ...]
    stop: bool

    @property
    def oversight(self) -> bool:
        """Opens incidents or escalates: never shadowed by an earlier stopping rule."""
        return any(isinstance(a, OVERSIGHT_ACTIONS) for a in self.actions)


OVERSIGHT_ACTIONS = (act.OpenIncident, act.Escalate)


def spec_of(row: RoutingRule) -> RuleSpec:
    return RuleSpec(
        id=row.id,
        name=row.name,
        position=row.position,
        is_active=row.is_active,
        events=frozenset(row.events),
        condition=conditions.parse(row.conditions),
        actions=act.parse(row.actions),
        stop=row.stop,
    )


def active_rules(session: Session) -> tuple[RuleSpec, ...]:
    def load() -> tuple[RuleSpec, ...]:
        rows = session.scalars(
            select(RoutingRule)
            .where(RoutingRule.is_active)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
        return tuple(spec_of(row) for row in rows)

    return config_cache.cached(session, "routing_rules", load)


def rules_running(session: Session) -> bool:
    return bool(session.info.get(_RUNNING))


def on_event(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    """The complaint event listener (see ``kesu.wiring``)."""
    trigger = TRIGGERS.get(event.kind)
    if trigger is None or rules_running(session):
        return
    rules = [r for r in active_rules(session) if trigger in r.events]
    if rules:
        run(session, clock, complaint, rules, trigger)


def run(
    session: Session, clock: Clock, complaint: Complaint, rules: list[RuleSpec], trigger: str
) -> list[int]:
    """Fires the matching rules in order; returns the ids of those that changed something."""
    session.info[_RUNNING] = True
    fired = []
    try:
        facts = ComplaintFacts(session, complaint, clock.now())
        stopped = False
        for rule in rules:
            if stopped and not rule.oversight:
                continue
            if not conditions.matches(rule.condition, facts):
                continue
            if _fire(session, clock, complaint, rule, trigger):
                fired.append(rule.id)
            stopped = stopped or rule.stop
        if fired:
            from kesu.sla.escalation import settle_pending_owners

            settle_pending_owners(session, clock, complaint)
    finally:
        session.info.pop(_RUNNING, None)
    return fired


def _fire(
    session: Session, clock: Clock, complaint: Complaint, rule: RuleSpec, trigger: str
) -> bool:
    actor = Actor("system", None, f"规则「{rule.name}」")
    done: list[str] = []
    for action in rule.actions:
        try:
            outcome = apply(session, clock, actor, complaint, action, rule.id, rule.name)
        except KesuError as exc:  # a rule must never break the change that triggered it
            outcome = f"{act.describe(action)}：失败（{exc.message}）"
        if outcome:
            done.append(outcome)
    if not done:
        return False  # nothing changed: not worth a line on the timeline
    timeline.record(
        session,
        clock,
        actor,
        complaint,
        "rule_fired",
        body=f"规则「{rule.name}」触发：" + "；".join(done),
        data={"rule_id": rule.id, "rule": rule.name, "trigger": trigger, "actions": done},
        audit={"rule_id": rule.id, "trigger": trigger, "actions": done},
    )
    return True


def dry_run(
    session: Session,
    complaint: Complaint,
    trigger: str,
    now: datetime,
    rules: list[RuleSpec] | None = None,
) -> list[dict[str, Any]]:
    """Which rules would fire on ``complaint`` for ``trigger`` now, without changing anything.

    Each rule is judged on the complaint as it is; in a real run a rule also sees what the
    rules before it changed (a severity raised by rule 1 can make rule 2 match).
    """
    facts = ComplaintFacts(session, complaint, now)
    report = []
    stopped_by: str | None = None
    for rule in rules if rules is not None else all_rules(session):
        listens = trigger in rule.events
        matched = rule.is_active and listens and conditions.matches(rule.condition, facts)
        report.append(
            {
                "id": rule.id,
                "name": rule.name,
                "position": rule.position,
                "is_active": rule.is_active,
                "listens": listens,
                "matches": matched and (stopped_by is None or rule.oversight),
                "stopped_by": stopped_by if matched and not rule.oversight else None,
                "oversight": rule.oversight,
                "actions": [act.describe(a) for a in rule.actions],
            }
        )
        if matched and rule.stop and stopped_by is None:
            stopped_by = rule.name
    return report


def all_rules(session: Session) -> list[RuleSpec]:
    rows = session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id))
    return [spec_of(row) for row in rows]


# ---- shadowing: a stopping rule that keeps a later rule from ever firing ------------------


def shadowed(rows: list[RoutingRule]) -> dict[int, str]:
    """``{rule id: name of the earlier stopping rule that shadows it}`` for the rules that can
    never fire: an earlier active rule with ``stop`` listens to all of its events and its
    condition holds whenever the later one's does (same or broader). Oversight rules are never
    shadowed (see ``RuleSpec.oversight``). Sound but incomplete: overlapping conditions that
    are neither are not reported."""
    found: dict[int, str] = {}
    ordered = sorted(rows, key=lambda r: (r.position, r.id))
    for index, later in enumerate(ordered):
        if not later.is_active or _is_oversight(later.actions):
            continue
        for earlier in ordered[:index]:
            if (
                earlier.is_active
                and earlier.stop
                and set(later.events) <= set(earlier.events)
                and implies(later.conditions, earlier.conditions)
            ):
                found[later.id] = earlier.name
                break
    return found


def _is_oversight(actions: list[Any]) -> bool:
    return any(
        isinstance(a, dict) and a.get("type") in ("open_incident", "escalate") for a in actions
    )


def implies(narrow: Any, broad: Any) -> bool:
    """Whether every complaint matching ``narrow`` also matches ``broad`` (structurally)."""
    if not broad or broad == {"all": []} or narrow == broad:
        return True
    if not isinstance(narrow, dict) or not isinstance(broad, dict):
        return False
    if "all" in broad:
        return all(implies(narrow, part) for part in broad["all"])
    if "any" in broad and any(implies(narrow, part) for part in broad["any"]):
        return True
    if "all" in narrow:
        return any(implies(part, broad) for part in narrow["all"])
    if "any" in narrow:
        return bool(narrow["any"]) and all(implies(part, broad) for part in narrow["any"])
    return _leaf_implies(narrow, broad)


def _values(raw: Any) -> list[str]:
    return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]


def _leaf_implies(narrow: dict[str, Any], broad: dict[str, Any]) -> bool:
    if narrow.get("field") != broad.get("field") or "field" not in narrow:
        return False
    n_op, b_op = narrow.get("op"), broad.get("op")
    mine, theirs = _values(narrow.get("value")), _values(broad.get("value"))
    if b_op == "under" and n_op in ("under", "eq", "in"):
        return all(any(v == b or v.startswith(f"{b}/") for b in theirs) for v in mine)
    if b_op == "in" and n_op in ("in", "eq"):
        return set(mine) <= set(theirs)
    if b_op == "contains_any" and n_op in ("contains_any", "contains"):
        return set(mine) <= set(theirs)
    if b_op == "not_empty":  # a value under, equal to or containing something is not empty
        return n_op in ("under", "eq", "in", "contains", "contains_any", "contains_all")
    return False
