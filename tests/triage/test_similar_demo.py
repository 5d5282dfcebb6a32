"""The demo loader writes the similar-case index in bulk, as the listener would have."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kesu import demo
from kesu.complaints.models import Complaint
from kesu.triage import similar
from kesu.triage.models import SimilarTerm


def test_demo_indexes_resolved_complaints_like_the_listener_and_rebuild(db, clock):
    demo.generate(db, clock, 300, days=60)
    with db.session(write=False) as session:
        complaints = list(session.scalars(select(Complaint).order_by(Complaint.id)))
        rows: dict[int, dict[str, float]] = {}
        for row in session.scalars(select(SimilarTerm)):
            rows.setdefault(row.complaint_id, {})[row.term] = row.weight
            assert row.category_id == session.get(Complaint, row.complaint_id).category_id
        resolved = [c for c in complaints if similar.is_indexed_stage(session, c.stage)]
        assert resolved and len(resolved) < len(complaints)
        assert set(rows) == {c.id for c in resolved}
        for complaint in resolved[:50]:
            expected = similar.keywords_of(session, complaint, similar.INDEX_TERMS)
            assert rows[complaint.id] == pytest.approx(expected, abs=1e-6)

        kinds = {c.category_id for c in resolved}
        query = next(c for c in complaints if c.is_open and c.category_id in kinds)
        cases = similar.find_similar(session, query, k=5)
    assert cases and cases[0].same_category
    kinds_in_order = [c.same_category for c in cases]
    assert kinds_in_order == sorted(kinds_in_order, reverse=True)
    assert all(c.id != query.id and c.solution for c in cases)

    # rebuilding from the complaints gives the same index
    assert similar.rebuild(db, batch=40) == len(resolved)
    with db.session(write=False) as session:
        rebuilt: dict[int, dict[str, float]] = {}
        for row in session.scalars(select(SimilarTerm)):
            rebuilt.setdefault(row.complaint_id, {})[row.term] = row.weight
    assert set(rebuilt) == set(rows)
    assert all(rebuilt[i] == pytest.approx(rows[i], abs=1e-6) for i in rows)
