"""The caller look-up of the agent's entry form: who has this phone number, and what did they
complain about before.

A customer is found by the phone on their record or by the phone a complaint of theirs gave
(its contact snapshot), by prefix once 7 digits are typed, and shown only when the caller may
see at least one of their complaints (the rule of ``customers.service``); their complaints are
the newest few in the caller's scope. Contact details are masked for roles without
``contact.view``; an unmasked answer is audited like any other contact read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.models import User
from kesu.accounts.roles import ALL_DATA_ROLES, Role
from kesu.complaints.access import scope_filter
from kesu.complaints.models import Complaint, Customer
from kesu.complaints.queries import stage_names
from kesu.errors import InvalidInput
from kesu.privacy.masking import mask_email, mask_phone
from kesu.privacy.service import shown_text
from kesu.search.query import PHONE, PHONE_PREFIX_MIN, starts_with
from kesu.web.i18n import gettext as _
from kesu.web.templating import loc

CUSTOMERS_SHOWN = 5
COMPLAINTS_SHOWN = 5
CANDIDATES = 20  # customers read per look-up before the scope check keeps CUSTOMERS_SHOWN


def phone_digits(phone: str) -> str:
    """The digits of a typed phone number (``+86 138-0013-8000`` → ``8613800138000``), or a
    422 naming ``phone`` when it is not one or is too short to look up."""
    text = phone.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not PHONE.fullmatch(text) or not PHONE_PREFIX_MIN <= len(digits) <= 20:
        raise InvalidInput(
            _("请输入至少 %(n)s 位数字的电话号码") % {"n": PHONE_PREFIX_MIN}, field="phone"
        )
    return digits


def _digits(phone: str | None) -> str:
    return "".join(ch for ch in phone or "" if ch.isdigit())


def lookup_by_phone(session: Session, user: User, phone: str, masked: bool) -> dict[str, Any]:
    digits = phone_digits(phone)
    forms = [digits] + ([digits[2:]] if digits.startswith("86") and len(digits) == 13 else [])
    ids: list[int] = []
    for form in forms:
        for stmt in (
            select(Customer.id)
            .where(starts_with(session, Customer.phone, form))
            .order_by(Customer.phone)
            .limit(CANDIDATES),
            select(Complaint.customer_id)
            .where(starts_with(session, Complaint.contact_phone, form))
            .order_by(Complaint.contact_phone)
            .limit(CANDIDATES),
        ):
            ids.extend(i for i in session.scalars(stmt) if i not in ids)
    everything = Role(user.role) in ALL_DATA_ROLES
    stages = stage_names(session)
    customers: list[dict[str, Any]] = []
    for customer_id in ids:
        if len(customers) == CUSTOMERS_SHOWN:
            break
        customer = session.get(Customer, customer_id)
        if customer is None:  # pragma: no cover - merged away between the two reads
            continue
        theirs = select(Complaint).where(Complaint.customer_id == customer_id)
        if not everything:
            theirs = theirs.where(scope_filter(user))
        recent = list(
            session.scalars(theirs.order_by(Complaint.id.desc()).limit(COMPLAINTS_SHOWN + 1))
        )
        if not recent and not everything:
            continue  # a customer with nothing in the caller's scope is not shown
        customers.append(_customer_out(customer, recent, stages, masked, digits))
    return {"phone": digits, "customers": customers}


def _customer_out(
    customer: Customer,
    recent: list[Complaint],
    stages: dict[str, Any],
    masked: bool,
    digits: str,
) -> dict[str, Any]:
    def stage_name(code: str) -> str:
        stage = stages.get(code)
        return loc(stage) if stage is not None else code

    shown = recent[:COMPLAINTS_SHOWN]
    phone = customer.phone
    if shown and shown[0].contact_phone and not _digits(phone).startswith(digits):
        phone = shown[0].contact_phone  # found by what a complaint of theirs said
    return {
        "id": customer.id,
        "name": customer.name,
        "phone": mask_phone(phone) if masked else phone,
        "email": mask_email(customer.email) if masked else customer.email,
        "tier": customer.tier,
        "exact": _digits(phone) in (digits, digits[2:]),
        "complaints": [
            {
                "id": c.id,
                "number": c.number,
                "title": shown_text(c.title, masked),
                "stage": c.stage,
                "stage_name": stage_name(c.stage),
                "is_open": c.is_open,
                "received_at": c.received_at,
                "url": f"/complaints/{c.number}",
            }
            for c in shown
        ],
        "more": len(recent) > COMPLAINTS_SHOWN,
    }
