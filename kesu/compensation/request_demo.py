"""`kesu demo`: compensation requests through the ordinary services: one waiting in the
customer-service team lead's queue (lead_service), a fast claim approved by rule, one
approved by the team lead and the manager (on the ledger), one rejected with a reason, and a
joint review half-way (the quality lead agreed; logistics and finance still to decide)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.clock import Clock
from kesu.compensation import service
from kesu.complaints import lifecycle, registration
from kesu.complaints import service as complaints
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database

AGENT = "agent_service_1"
# (customer, content, category, order value, method, amount, reason, then: who decides what)
CASES: tuple[tuple[str, str, str, str, str, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "周敏",
        "新买的电饭煲通电后无法加热，指示灯一直闪。",
        "产品质量/功能故障/无法开机",
        "459.00",
        "refund",
        "459.00",
        "",
        (),  # waits for lead_service
    ),
    (
        "吴磊",
        "订单承诺两天送达，五天了还没收到。",
        "物流服务/配送延误/超时未送达",
        "399.90",
        "cash",
        "20.00",
        "",
        (),  # a fast claim: approved at once by rule
    ),
    (
        "郑洁",
        "买的扫地机器人用了一周就无法充电。",
        "产品质量/功能故障/无法开机",
        "1299.00",
        "refund",
        "1299.00",
        "",
        (("lead_service", "approve", ""), ("manager", "approve", "同意全额退款")),
    ),
    (
        "王刚",
        "快递晚到一天，要求赔偿 800 元。",
        "物流服务/配送延误/超时未送达",
        "199.00",
        "cash",
        "800.00",
        "客户情绪激动，要求高额补偿",
        (("lead_service", "reject", "超出物流延误标准，按标准补偿 10 元现金"),),
    ),
    (
        "冯雪",
        "热水器漏电导致家中电器损坏，要求赔偿损失。",
        "产品质量/功能故障/无法开机",
        "3999.00",
        "cash",
        "15000.00",
        "漏电造成家电损坏，按实际损失赔偿",
        (("lead_quality", "approve", "质检确认漏电"),),  # logistics and finance still to decide
    ),
)


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _complaint(session: Session, clock: Clock, case: tuple[Any, ...]) -> Complaint | None:
    name, content, category, order_value = case[:4]
    data = ComplaintCreate.model_validate(
        {
            "channel": "phone",
            "customer": {"name": name, "phone": "13500001234"},
            "content": content,
            "category": category,
            "order_value": order_value,
        }
    )
    complaint, _ = registration.create_complaint(session, clock, accounts.SYSTEM, data)
    agent = _user(session, AGENT)
    if agent is None:
        return None
    complaints.assign(
        session,
        clock,
        accounts.SYSTEM,
        complaint,
        version=complaint.version,
        team=agent.team,
        assignee=agent,
        reason="演示",
    )
    actor = accounts.Actor.of(agent)
    lifecycle.transition(session, clock, actor, complaint, "investigating", None, {})
    lifecycle.transition(
        session, clock, actor, complaint, "proposing", None, {"findings": "已核实客户反映的情况"}
    )
    return complaint


def show(db: Database, clock: Clock) -> int:
    """Makes the requests; returns how many."""
    made = 0
    with db.session() as session:
        for case in CASES:
            complaint = _complaint(session, clock, case)
            agent = _user(session, AGENT)
            if complaint is None or agent is None:
                continue
            method, amount, reason, decisions = case[4:]
            req = service.request(
                session, clock, accounts.Actor.of(agent), complaint, method, amount, reason
            )
            session.flush()
            for username, decision, why in decisions:
                approver = _user(session, username)
                if approver is not None:
                    service.decide(session, clock, approver, req.id, decision, why)
                    session.flush()
            made += 1
    return made
