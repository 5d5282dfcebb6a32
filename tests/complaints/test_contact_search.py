"""Search by phone, email, name, order number and complaint number (``q``), and the caller
look-up of the entry form (``GET /api/v1/customers/lookup``): scope, masking, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.accounts.service import Actor
from kesu.complaints import registration
from kesu.complaints.models import Complaint, Customer
from kesu.complaints.schemas import ComplaintCreate
from kesu.search.query import shape_of


def _make(db: Any, clock: Any, **overrides: Any) -> Complaint:
    body: dict[str, Any] = {
        "channel": "phone",
        "content": "热水器不加热，师傅上门后还是不行",
        "order_no": "SO-20261101-7788",
        "customer": {"name": "赵敏", "phone": "13912345678", "email": "Zhao.Min@example.com"},
    }
    body.update(overrides)
    with db.session() as session:
        complaint, _ = registration.create_complaint(
            session, clock, Actor("customer", None, "客户"), ComplaintCreate.model_validate(body)
        )
        session.commit()
        return complaint


def _numbers(client: Any, headers: dict[str, str], q: str) -> list[str]:
    response = client.get("/api/v1/complaints", params={"q": q, "limit": 50}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


def _to_team(db: Any, number: str, team_code: str) -> None:
    from kesu.accounts.models import Team

    with db.session() as session:
        complaint = session.scalar(select(Complaint).where(Complaint.number == number))
        assert complaint is not None
        complaint.team_id = session.scalar(select(Team.id).where(Team.code == team_code))
        session.commit()


def test_shapes_of_q() -> None:
    assert shape_of("ts20261123-7").values == ("TS20261123-000007",)
    assert shape_of("TS20261123000007").kind == "number"
    assert shape_of("+86 139-1234-5678").values == ("8613912345678", "13912345678")
    assert shape_of("1391234").kind == "phone" and not shape_of("1391234").exact
    assert shape_of("139").kind == "text"  # too short for a phone prefix: free text as before
    assert shape_of("a@b.cn").kind == "email"
    assert shape_of("SO-20261101-7788").kind == "order"
    assert shape_of("X20").kind == "text"  # a product model, not an order number
    assert shape_of("赵敏").kind == "name" and shape_of("Zhao Min").kind == "name"
    assert shape_of("热水器 不加热").kind == "text"


def test_search_by_each_kind(client: Any, agent: dict[str, str], db: Any, clock: Any) -> None:
    mine = _make(db, clock)
    other = _make(
        db,
        clock,
        order_no="4455667788990",
        customer={"name": "钱进", "phone": "13700001111", "email": "qian@example.org"},
    )
    first = mine.number
    for q in (
        "13912345678",  # the whole phone
        "139 1234 5678",  # as people write it
        "+86 13912345678",
        "1391234",  # a prefix of 7 digits
        "Zhao.Min@example.com",
        "Zhao.Min@",  # an email prefix
        "赵敏",
        "SO-20261101-7788",
        "SO-20261101",  # an order number prefix
        first,
        first.lower(),
    ):
        assert _numbers(client, agent, q) == [first], q
    assert _numbers(client, agent, "4455667788990") == [other.number]  # an all-digit order no
    assert _numbers(client, agent, "44556677") == [other.number]
    assert _numbers(client, agent, "qian@example.org") == [other.number]
    assert _numbers(client, agent, "13800000000") == []
    # free text is kept for anything else
    assert _numbers(client, agent, "热水器") == [other.number, first]
    assert _numbers(client, agent, "不加热") == [other.number, first]  # a word, not a name


def test_search_finds_the_customer_record_and_the_complaint_snapshot(
    client: Any, agent: dict[str, str], db: Any, clock: Any
) -> None:
    """A second complaint linked by email but giving another phone is found by either phone."""
    first = _make(db, clock)
    second = _make(
        db,
        clock,
        customer={"name": "赵女士", "phone": "13600006666", "email": "Zhao.Min@example.com"},
    )
    with db.session(write=False) as session:
        assert session.get(Complaint, second.id).customer_id == first.customer_id  # type: ignore[union-attr]
    assert _numbers(client, agent, "13912345678") == [second.number, first.number]
    assert _numbers(client, agent, "13600006666") == [second.number]
    assert _numbers(client, agent, "赵女士") == [second.number]


def test_search_keeps_the_scope_and_pages_by_cursor(
    client: Any, agent: dict[str, str], admin: dict[str, str], db: Any, clock: Any
) -> None:
    made = [_make(db, clock).number for _ in range(5)]
    _to_team(db, made[1], "engineering")  # out of the service agent's scope
    _to_team(db, made[3], "service")
    seen = [n for n in reversed(made) if n != made[1]]
    assert _numbers(client, agent, "13912345678") == seen
    assert _numbers(client, admin, "13912345678") == list(reversed(made))
    assert _numbers(client, agent, made[1]) == []
    page = client.get("/api/v1/complaints", params={"q": "赵敏", "limit": 2}, headers=agent).json()
    rest = client.get(
        "/api/v1/complaints",
        params={"q": "赵敏", "limit": 2, "cursor": page["next_cursor"]},
        headers=agent,
    ).json()
    assert [i["number"] for i in page["items"] + rest["items"]] == seen[:4]


def test_a_name_known_only_outside_the_scope_is_searched_as_text(
    client: Any, agent: dict[str, str], db: Any, clock: Any
) -> None:
    hidden = _make(db, clock, customer={"name": "孙悦", "phone": "13500005555"})
    _to_team(db, hidden.number, "engineering")
    mention = _make(db, clock, content="上次孙悦帮我登记过，热水器还是坏的")
    assert _numbers(client, agent, "孙悦") == [mention.number]


def test_lists_mask_the_phone(client: Any, agent: dict[str, str], db: Any, clock: Any) -> None:
    _make(db, clock)
    [item] = client.get("/api/v1/complaints", params={"q": "13912345678"}, headers=agent).json()[
        "items"
    ]
    assert item["customer"]["phone"] == "139****5678"


# ---- the caller look-up ------------------------------------------------------------------


def _lookup(client: Any, headers: dict[str, str], phone: str) -> Any:
    return client.get("/api/v1/customers/lookup", params={"phone": phone}, headers=headers)


def test_lookup_shows_the_caller_and_their_complaints(
    client: Any, agent: dict[str, str], db: Any, clock: Any
) -> None:
    older = _make(db, clock)
    newer = _make(db, clock, content="热水器又坏了")
    response = _lookup(client, agent, "139-1234-5678")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phone"] == "13912345678"
    [customer] = body["customers"]
    assert customer["name"] == "赵敏" and customer["exact"] is True
    assert customer["phone"] == "13912345678"  # an agent in scope sees it (audited)
    assert [c["number"] for c in customer["complaints"]] == [newer.number, older.number]
    assert customer["complaints"][0]["url"] == f"/complaints/{newer.number}"
    assert customer["complaints"][0]["stage_name"]
    with db.session(write=False) as session:
        audits = session.scalars(
            select(AuditLog).where(AuditLog.action == "contact.view", AuditLog.entity == "customer")
        ).all()
        assert [a.entity_id for a in audits] == [str(customer["id"])]
    assert _lookup(client, agent, "1391234").json()["customers"][0]["exact"] is False
    assert _lookup(client, agent, "13800000000").json()["customers"] == []


def test_lookup_keeps_to_the_scope(
    client: Any, agent: dict[str, str], admin: dict[str, str], db: Any, clock: Any
) -> None:
    hidden = _make(db, clock)
    _to_team(db, hidden.number, "engineering")
    assert _lookup(client, agent, "13912345678").json()["customers"] == []
    [customer] = _lookup(client, admin, "13912345678").json()["customers"]
    assert [c["number"] for c in customer["complaints"]] == [hidden.number]
    shown = _make(db, clock, content="热水器又坏了")
    [customer] = _lookup(client, agent, "13912345678").json()["customers"]
    assert [c["number"] for c in customer["complaints"]] == [shown.number]


def test_lookup_masks_for_an_auditor(client: Any, make_user: Any, db: Any, clock: Any) -> None:
    _make(db, clock, content="热水器不加热，回电 13912345678")
    _, auditor = make_user("auditor1", "auditor", None)
    [customer] = _lookup(client, auditor, "13912345678").json()["customers"]
    assert customer["phone"] == "139****5678"
    assert customer["email"] == "Z***@example.com"
    assert "13912345678" not in str(customer)
    with db.session(write=False) as session:
        assert (
            session.scalars(select(AuditLog).where(AuditLog.action == "contact.view")).all() == []
        )


@pytest.mark.parametrize(
    "phone",
    ["139", "abc1234567", "1391234567890123456789", "139 1234 56%", "１３９１２３４５６７８"],
)
def test_lookup_refuses_what_is_not_a_phone(
    client: Any, agent: dict[str, str], db: Any, phone: str
) -> None:
    response = _lookup(client, agent, phone)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "phone"


def test_lookup_needs_a_signed_in_user_and_a_phone(client: Any, agent: dict[str, str]) -> None:
    assert (
        client.get("/api/v1/customers/lookup", params={"phone": "13912345678"}).status_code == 401
    )
    assert client.get("/api/v1/customers/lookup", headers=agent).status_code == 422
    assert _lookup(client, agent, "1" * 40).status_code == 422


def test_customers_by_id_still_answer(
    client: Any, admin: dict[str, str], db: Any, clock: Any
) -> None:
    complaint = _make(db, clock)
    with db.session(write=False) as session:
        customer_id = session.scalar(
            select(Customer.id).where(Customer.id == complaint.customer_id)
        )
    assert client.get(f"/api/v1/customers/{customer_id}", headers=admin).status_code == 200
