"""`kesu demo`: resolved complaints whose customers rated them, through the ordinary
lifecycle and the survey service: a good rating (the agent credited, the complaint
archived), a low one (reopened for 二次处理, the team lead notified) and one survey sent and
still open (its message in the outbox, its form on the tracking page)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.clock import Clock
from kesu.complaints import lifecycle, registration, service
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database
from kesu.surveys import service as surveys
from kesu.surveys.models import Survey

GOOD_WORDS = "处理很快，客服很耐心。"
LOW_WORDS = "等了一个多星期才有人来。"
_STEPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("investigating", {}),
    ("proposing", {"findings": "产品批次质量问题，已核实。"}),
    ("confirming", {"solution": "为客户免费更换新品，并补偿 50 元优惠券。"}),
    ("rectifying", {}),
    ("feedback", {"measures": "该批次全部抽检，供应商整改。"}),
    ("rating", {"result": "新品已寄出，优惠券已发放。"}),
)
_CASES: tuple[tuple[dict[str, str], str, str, dict[str, Any] | None], ...] = (
    (
        {"name": "孙丽", "email": "sun.li@example.com"},
        "email",
        "空气净化器滤网异味很重，用了两天头疼。",
        {
            "timeliness": 5,
            "solution": 5,
            "attitude": 5,
            "nps": 10,
            "comment": "处理很快，客服很耐心。",
        },
    ),
    (
        {"name": "赵强", "phone": "13600002222"},
        "web",
        "洗衣机脱水时剧烈晃动，售后上门三次没修好。",
        {
            "timeliness": 2,
            "solution": 3,
            "attitude": 4,
            "nps": 4,
            "comment": "等了一个多星期才有人来。",
        },
    ),
    (
        {"name": "钱芳", "email": "qian.fang@example.com"},
        "email",
        "收到的保温杯盖子漏水。",
        None,  # sent, waiting for the customer
    ),
)


def show(db: Database, clock: Clock) -> int:
    """Registers the demo's rated complaints; returns how many surveys it made."""
    made = 0
    with db.session() as session:
        agent = session.scalar(
            select(User).where(User.role == "agent", User.is_active).order_by(User.id)
        )
        for customer, channel, content, answer in _CASES:
            data = ComplaintCreate.model_validate(
                {"channel": channel, "customer": customer, "content": content}
            )
            complaint, _replayed = registration.create_complaint(
                session, clock, accounts.SYSTEM, data
            )
            if agent is not None:
                service.assign(
                    session,
                    clock,
                    accounts.SYSTEM,
                    complaint,
                    version=complaint.version,
                    team=None,
                    assignee=agent,
                    reason="演示",
                )
            for stage, outputs in _STEPS:
                lifecycle.transition(
                    session, clock, accounts.SYSTEM, complaint, stage, None, outputs
                )
            survey = session.scalar(
                select(Survey)
                .where(Survey.complaint_id == complaint.id)
                .order_by(Survey.round.desc())
            )
            if survey is None:
                continue
            made += 1
            surveys.act(session, clock, survey, clock.now())  # due now, as the worker would
            if answer is not None:
                surveys.answer(session, clock, survey, answer)
        session.commit()
    return made
