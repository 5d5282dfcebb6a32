"""Nothing a create runs inside its write transaction scans a table that grows with the data:
repeat detection, the batch rule's count, the incident look-ups, least-loaded assignment.

Every statement of a few creates (a repeat by phone and order number, a spike that opens and
then joins an incident, least-loaded routing) is captured and explained in its transaction:
SQLite ``EXPLAIN QUERY PLAN`` must show no ``SCAN <big table>``; PostgreSQL ``EXPLAIN`` with
``enable_seqscan = off`` (a tiny test table would rightly be read whole otherwise) must show no
``Seq Scan on <big table>`` — i.e. an index can serve every one of them.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event, text

from kesu.accounts import service as accounts
from kesu.complaints import registration
from kesu.complaints.schemas import ComplaintCreate
from tests.flows import make_staff

BIG = (
    "complaints",
    "customers",
    "complaint_events",
    "audit_log",
    "sla_clocks",
    "idempotency_keys",
    "incident_complaints",
    "triage_results",
    "similar_terms",
    "assignee_loads",
)
ENGINEERS = {"eng_1": ("agent", "engineering"), "eng_2": ("agent", "engineering")}


def _body(n: int, phone: str, order: str) -> ComplaintCreate:
    return ComplaintCreate.model_validate(
        {
            "channel": "api",
            "customer": {"name": "李先生", "phone": phone},
            "content": f"第{n}次：手机无法开机，充电也没有反应，要求维修。",
            "order_no": order,
            "product": "智能手机 S2",
            "category": "产品质量/功能故障/无法开机",
        }
    )


def _explain(session: Any, statements: list[tuple[str, Any]]) -> list[tuple[str, list[str]]]:
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    found = []
    for statement, parameters in statements:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("SELECT", "UPDATE", "DELETE", "WITH"):
            continue
        prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
        found.append((statement, [str(r[-1] if sqlite else r[0]) for r in rows]))
    return found


def _full_scans(plans: list[tuple[str, list[str]]]) -> list[str]:
    pattern = re.compile(r"\b(SCAN|Seq Scan on) (" + "|".join(BIG) + r")\b")
    return [
        f"{' '.join(sql.split())[:160]} → {line}"
        for sql, plan in plans
        for line in plan
        if pattern.search(line)
    ]


def test_a_create_reads_only_through_indexes(db, clock):
    make_staff(db, clock, ENGINEERS)
    with db.session() as session:  # history: the customer's earlier complaints, a spike
        for n in range(7):
            registration.create_complaint(
                session, clock, accounts.SYSTEM, _body(n, "13911112222", f"SO-{n % 2}")
            )
            clock.advance(minutes=3)
    statements: list[tuple[str, Any]] = []
    recording = [True]

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if recording[0]:
            many = executemany and isinstance(parameters, list | tuple)
            statements.append((statement, parameters[0] if many else parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.session() as session:
            complaint, _ = registration.create_complaint(
                session, clock, accounts.SYSTEM, _body(9, "13911112222", "SO-1")
            )
            session.flush()
            recording[0] = False
            assert complaint.repeat_of_id is not None  # repeat detection ran and matched
            assert complaint.assignee is not None  # least-loaded ran
            kinds = {
                row[0]
                for row in session.execute(
                    text("SELECT kind FROM complaint_events WHERE complaint_id = :c"),
                    {"c": complaint.id},
                )
            }
            assert "incident_linked" in kinds  # the batch rule counted and joined the incident
            plans = _explain(session, statements)
            session.rollback()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    explained = " ".join(sql for sql, _ in plans)
    assert "assignee_loads" in explained and "count(*)" in explained
    assert _full_scans(plans) == []
    # A range that grows with the data is no scan but is not bounded either: every count over
    # the complaints must stop at a LIMIT (least-loaded reads its counters instead).
    unbounded = [
        sql
        for sql, _ in plans
        if re.search(r"count\(.*FROM complaints", sql, re.S) and "LIMIT" not in sql
    ]
    assert unbounded == []
