"""Issue 8 (smaller): the merge form told a lead whether a number existed outside their scope
(422 "no such number" vs 404 naming the complaint's internal id)."""

from __future__ import annotations

import re

from sqlalchemy import select

from kesu.accounts.models import Team
from kesu.accounts.service import SYSTEM
from kesu.complaints import service
from kesu.complaints.models import Complaint
from tests.web.conftest import post_form


def _assign(db, clock, complaint: Complaint, team_code: str) -> Complaint:
    with db.session() as session:
        c = session.get(Complaint, complaint.id)
        team = session.scalar(select(Team).where(Team.code == team_code))
        service.assign(
            session, clock, SYSTEM, c, version=c.version, team=team, assignee=None, reason=None
        )
        session.commit()
        session.refresh(c)
        session.expunge(c)
        return c


def _merge(client, complaint: Complaint, into: str):
    page = f"/complaints/{complaint.number}"
    return post_form(
        client, page, f"{page}/merge", {"version": str(complaint.version), "into": into}
    )


def _error(html: str) -> str:
    found = re.search(r'<div class="error" id="form-error"[^>]*>([^<]*)</div>', html)
    assert found, "no error shown"
    return found.group(1)


def test_outside_scope_and_missing_look_the_same(signed_in, make_complaint, db, clock):
    duplicate = _assign(db, clock, make_complaint(), "service")
    hidden = _assign(db, clock, make_complaint("物流太慢", order_no="SO-2"), "logistics")
    lead = signed_in("lead1", role="team_lead", team="service")
    assert lead.get(f"/complaints/{hidden.number}").status_code == 404  # out of scope indeed
    missing_number = hidden.number[:-6] + "999999"
    outside = _merge(lead, duplicate, hidden.number)
    missing = _merge(lead, duplicate, missing_number)
    assert outside.status_code == missing.status_code == 422
    assert _error(outside.text) == _error(missing.text).replace(missing_number, hidden.number)
    assert hidden.number in _error(outside.text)
    # No internal id anywhere in the answer, and nothing was merged.
    assert f"：{hidden.id}" not in outside.text and "没有这个投诉：" not in outside.text
    with db.session(write=False) as session:
        assert session.get(Complaint, duplicate.id).merged_into_id is None
    # By id instead of number: the same answer too.
    by_id = _merge(lead, duplicate, str(hidden.id))
    assert by_id.status_code == 422 and _error(by_id.text) == _error(missing.text).replace(
        missing_number, str(hidden.id)
    )


def test_a_number_in_scope_still_merges(signed_in, make_complaint, db, clock):
    duplicate = _assign(db, clock, make_complaint(), "service")
    keep = _assign(db, clock, make_complaint("同一个问题", order_no="SO-3"), "service")
    lead = signed_in("lead1", role="team_lead", team="service")
    done = _merge(lead, duplicate, keep.number)
    assert done.status_code == 200 and keep.number in done.text
