"""`kesu demo`: the compensation standards alive. The seed (version 1) is loaded with the
defaults; here an admin's edit publishes version 2 (logistics delays: at least 10 yuan), and
three complaints with order values reach 方案制定, so their pages show the recommendation
card (a full refund or replacement, a cash compensation, a case-by-case billing error)."""

from __future__ import annotations

from sqlalchemy import select

from kesu.accounts import service as accounts
from kesu.accounts.models import User
from kesu.clock import Clock
from kesu.compensation import standards
from kesu.complaints import lifecycle, registration
from kesu.complaints.schemas import ComplaintCreate
from kesu.db import Database

_CASES: tuple[tuple[dict[str, str], str, str, str], ...] = (
    (
        {"name": "周敏", "phone": "13700003333", "tier": "standard"},
        "产品质量/功能故障/无法开机",
        "新买的扫地机器人充满电也无法开机，要求退货。",
        "1299.00",
    ),
    (
        {"name": "吴刚", "phone": "13700004444", "tier": "vip"},
        "物流服务/配送延误/超时未送达",
        "承诺次日达的订单五天了还没送到，物流信息一直不更新。",
        "458.00",
    ),
    (
        {"name": "郑洁", "email": "zheng.jie@example.com", "tier": "standard"},
        "账务/扣费异常/重复扣费",
        "同一笔会员费被扣了两次，客服说会退但一直没到账。",
        "198.00",
    ),
)
_FINDINGS = "已核实客户反映属实。"


def show(db: Database, clock: Clock) -> int:
    """Publishes version 2 (once) and registers the complaints; returns how many."""
    with db.session() as session:
        version = standards.current_version(session)
        if version.number == 1:
            admin = session.scalar(
                select(User).where(User.role == "admin", User.is_active).order_by(User.id)
            )
            rows = []
            for rule in standards.rules_of(session, version):
                amount_rule = dict(rule.amount_rule)
                if rule.name == "物流延误：现金补偿":
                    amount_rule["min"] = "10.00"
                rows.append(
                    standards.validate_rule(
                        {
                            "name": rule.name,
                            "name_en": rule.name_en,
                            "conditions": rule.conditions,
                            "methods": rule.methods,
                            "amount_rule": amount_rule,
                        },
                        f"rules[{rule.position - 1}]",
                    )
                )
            actor = accounts.Actor.of(admin) if admin is not None else accounts.SYSTEM
            standards.publish(
                session,
                clock,
                actor,
                rows,
                base_version=1,
                note="演示：物流延误的最低现金补偿提高到 10 元",
            )
        for customer, category, content, order_value in _CASES:
            data = ComplaintCreate.model_validate(
                {
                    "channel": "phone",
                    "customer": customer,
                    "content": content,
                    "category": category,
                    "order_value": order_value,
                }
            )
            complaint, _replayed = registration.create_complaint(
                session, clock, accounts.SYSTEM, data
            )
            system = accounts.SYSTEM
            lifecycle.transition(session, clock, system, complaint, "investigating", None, {})
            findings = {"findings": _FINDINGS}
            lifecycle.transition(session, clock, system, complaint, "proposing", None, findings)
        session.commit()
    return len(_CASES)
