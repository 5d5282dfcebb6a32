"""Spike detection (the batch rule) is never silenced by an ordinary stopping rule."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.incidents.models import Incident, IncidentComplaint
from kesu.routing import engine
from kesu.routing.models import RoutingRule
from tests.flows import complaint, create, events, make_staff

TECH = {"eng_1": ("agent", "engineering"), "eng_2": ("agent", "engineering")}


def test_seven_identical_technical_complaints_in_two_minutes_open_an_incident(db, clock):
    """The seeded "技术问题 → 技术支持部" stops evaluation; the batch rule still runs."""
    make_staff(db, clock)
    make_staff(db, clock, TECH)
    ids = []
    for _ in range(7):
        ids.append(create(db, clock, category="产品质量/功能故障/无法开机", content="无法开机"))
        clock.advance(seconds=17)
    assert complaint(db, ids[0]).team.code == "engineering"  # the stopping rule still routes
    with db.session(write=False) as session:
        (incident,) = session.scalars(select(Incident))
        linked = set(session.scalars(select(IncidentComplaint.complaint_id)))
    assert incident.status == "open"
    assert linked == set(ids)
    kinds = [e.kind for e in events(db, ids[-1])]
    assert "incident_linked" in kinds


def test_a_stopping_rule_does_not_stop_a_later_spike_rule_added_by_an_admin(db, clock):
    """Even with a catch-all stopping rule first, an incident rule is evaluated."""
    with db.session() as session:
        session.add(
            RoutingRule(
                name="全部 → 客服",
                position=1,
                events=["created"],
                conditions={},
                actions=[{"type": "add_tag", "tag": "seen"}],
                stop=True,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    ids = [create(db, clock, category="服务态度/客服态度/推诿敷衍") for _ in range(6)]
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
    assert "seen" in complaint(db, ids[-1]).tags


def rule(rid: int, name: str, position: int, conditions, stop=False, actions=None, events=None):
    return RoutingRule(
        id=rid,
        name=name,
        position=position,
        is_active=True,
        events=events or ["created"],
        conditions=conditions,
        actions=actions or [{"type": "add_tag", "tag": "x"}],
        stop=stop,
    )


def test_shadowed_rules_are_found_only_when_the_stopping_rule_is_same_or_broader():
    billing = {"field": "category", "op": "under", "value": "账务"}
    rules = [
        rule(1, "账务 → 财务", 10, billing, stop=True),
        rule(
            2, "扣费异常 → 专员", 20, {"field": "category", "op": "under", "value": "账务/扣费异常"}
        ),
        rule(
            3, "账务且 VIP", 30, {"all": [billing, {"field": "tier", "op": "eq", "value": "vip"}]}
        ),
        rule(4, "物流", 40, {"field": "category", "op": "under", "value": "物流服务"}),
        rule(5, "账务也开事件", 50, billing, actions=[{"type": "open_incident"}]),
        rule(6, "账务（更新时）", 60, billing, events=["created", "updated"]),
    ]
    assert engine.shadowed(rules) == {2: "账务 → 财务", 3: "账务 → 财务"}


def test_the_seeded_rules_shadow_nothing(db):
    with db.session(write=False) as session:
        assert engine.shadowed(list(session.scalars(select(RoutingRule)))) == {}


def test_the_rules_page_warns_about_a_shadowed_rule(db, clock, signed_in):
    with db.session() as session:
        for position, name, stop, value in (
            (1, "账务 → 财务", True, "账务"),
            (2, "扣费 → 专员", False, "账务/扣费异常"),
        ):
            session.add(
                RoutingRule(
                    name=name,
                    position=position,
                    events=["created"],
                    conditions={"field": "category", "op": "under", "value": value},
                    actions=[{"type": "add_tag", "tag": "x"}],
                    stop=stop,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
    page_client = signed_in("root", role="admin", team=None)
    page = page_client.get("/admin/rules").text
    assert "永远不会触发：前面的规则「账务 → 财务」触发后停止" in page
    assert page.count("永远不会触发") == 1
    with db.session(write=False) as session:
        shadowed_id = session.scalar(
            select(RoutingRule.id).where(RoutingRule.name == "扣费 → 专员")
        )
    assert "永远不会触发" in page_client.get(f"/admin/rules/{shadowed_id}").text
