"""Demo repeats (``kesu demo``): a few customers who complain again about the same thing, so
the 重复投诉 badge, the link and the repeat rate show something on a new installation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from kesu.accounts import service as accounts
from kesu.clock import Clock
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate

# (first complaint, the repeat a few days later): our own sentences.
PAIRS = (
    (
        "扫地机器人 R7 用了三天就无法开机，按电源键没反应",
        "扫地机器人 R7 还是开不了机，上次反映的问题没人处理",
    ),
    ("退货后 199 元的退款一直没到账", "又来问退款，199 元退款还是没到账，已经等了很久"),
    ("快递显示已签收但我没收到电饭煲 C2", "电饭煲 C2 没收到却显示已签收，第二次反映了"),
)


def make(session: Session, clock: Clock) -> list[Complaint]:
    """Registers each pair through the ordinary registration; returns the repeats."""
    now = clock.now()
    made = []
    for index, (first, again) in enumerate(PAIRS):
        customer = {"name": "回头客" + "甲乙丙"[index], "phone": f"1380000{index:04d}"}
        for text, received in ((first, now - timedelta(days=4 + index)), (again, now)):
            data = ComplaintCreate.model_validate(
                {"channel": "phone", "content": text, "received_at": received, "customer": customer}
            )
            complaint, _ = registration.create_complaint(session, clock, accounts.SYSTEM, data)
        made.append(complaint)
    return made
