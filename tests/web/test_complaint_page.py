"""The complaint page: stage moves, notes, assignment, edits, reopen and merge."""

from __future__ import annotations

import re

from sqlalchemy import select

from kesu.accounts.models import Team
from kesu.accounts.service import Actor
from kesu.complaints import lifecycle, service
from kesu.complaints.models import Complaint, ComplaintEvent
from tests.web.conftest import post_form


def load(db, complaint_id: int) -> Complaint:
    with db.session(write=False) as session:
        found = session.get(Complaint, complaint_id)
        assert found is not None
        return found


def act(client, complaint: Complaint, action: str, **form: str):
    page = f"/complaints/{complaint.number}"
    return post_form(client, page, f"{page}/{action}", {"version": str(complaint.version), **form})


def test_the_page_shows_the_complaint_and_the_allowed_moves(signed_in, make_complaint):
    complaint = make_complaint()
    page = signed_in().get(f"/complaints/{complaint.number}")
    assert page.status_code == 200
    assert complaint.number in page.text and "收到的耳机左耳没有声音" in page.text
    assert "13800138000" in page.text  # staff see the full number on the complaint itself
    assert 'name="to" value="investigating"' in page.text
    assert 'name="to" value="proposing"' not in page.text  # no skipping stages


def test_an_agent_moves_the_complaint_to_investigating(signed_in, make_complaint, db):
    complaint = make_complaint()
    response = act(signed_in(), complaint, "transition", to="investigating", comment="已致电客户")
    assert response.status_code == 200
    assert "已转到「调查核实」" in response.text
    assert load(db, complaint.id).stage == "investigating"


def test_a_missing_required_output_shows_the_error_and_keeps_the_form(
    signed_in, make_complaint, db
):
    complaint = make_complaint()
    client = signed_in()
    act(client, complaint, "transition", to="investigating")
    complaint = load(db, complaint.id)
    response = act(
        client,
        complaint,
        "transition",
        to="proposing",
        out_findings="  ",
        comment="我的处理说明",
        message="给客户的话",
    )
    assert response.status_code == 422
    assert "需要填写「调查结论」" in response.text
    assert "我的处理说明</textarea>" in response.text and "给客户的话</textarea>" in response.text
    assert load(db, complaint.id).stage == "investigating"
    ok = act(client, complaint, "transition", to="proposing", out_findings="包装在运输中受压")
    assert ok.status_code == 200 and "包装在运输中受压" in ok.text
    assert load(db, complaint.id).outputs == {"findings": "包装在运输中受压"}


def test_a_stale_form_gets_the_conflict_message(signed_in, make_complaint, db):
    complaint = make_complaint()
    client = signed_in()
    act(client, complaint, "transition", to="investigating")
    stale = act(client, complaint, "update", severity="serious")  # the version before the move
    assert stale.status_code == 409
    assert "投诉已被他人修改" in stale.text
    assert load(db, complaint.id).severity == "minor"


def test_internal_notes_and_messages_to_the_customer_look_different(
    signed_in, make_complaint, browser
):
    complaint = make_complaint()
    client = signed_in()
    act(client, complaint, "note", body="内部：需要仓库配合", public="0")
    page = act(client, complaint, "note", body="您好，已为您安排换货", public="1").text
    note = re.search(r'<li class="event note">(.*?)</li>', page, re.S)
    message = re.search(r'<li class="event message">(.*?)</li>', page, re.S)
    assert note and "内部：需要仓库配合" in note.group(1) and "仅内部可见" in note.group(1)
    assert message and "您好，已为您安排换货" in message.group(1)
    assert "客户可见" in message.group(1)
    tracking = browser.get(f"/t/{complaint.tracking_token}").text
    assert "您好，已为您安排换货" in tracking and "需要仓库配合" not in tracking


def test_claim_then_reassigning_needs_a_reason(signed_in, make_complaint, make_user, db):
    complaint = make_complaint()
    make_user("agent2")
    agent = signed_in("agent1")
    act(agent, complaint, "claim")
    saved = load(db, complaint.id)
    assert saved.assignee is not None and saved.assignee.username == "agent1"
    agent.cookies.clear()
    lead = signed_in("lead1", role="team_lead")
    other = next(
        u
        for u in lead.get(f"/complaints/{complaint.number}").text.split("<option")
        if ">agent2" in u
    )
    agent2_id = re.search(r'value="(\d+)"', other).group(1)
    refused = act(lead, saved, "assign", assignee_id=agent2_id, team_id="", reason="")
    assert refused.status_code == 422 and "改派需要填写原因" in refused.text
    done = act(lead, saved, "assign", assignee_id=agent2_id, team_id="", reason="agent1 休假")
    assert done.status_code == 200 and "已分配" in done.text
    assert load(db, complaint.id).assignee.username == "agent2"


def test_classification_and_severity_are_edited(signed_in, make_complaint, db):
    complaint = make_complaint()
    client = signed_in()
    page = client.get(f"/complaints/{complaint.number}").text
    category_id = re.search(r'<option value="(\d+)" >产品质量/包装破损/外箱压坏<', page).group(1)
    response = act(
        client,
        complaint,
        "update",
        category=category_id,
        severity="serious",
        priority="1",
        reason="外箱破损严重",
    )
    assert response.status_code == 200
    saved = load(db, complaint.id)
    assert saved.category.path == "产品质量/包装破损/外箱压坏"
    assert (saved.severity, saved.priority) == ("serious", 1)


def test_reopen_a_closed_complaint_with_a_reason(signed_in, make_complaint, db):
    complaint = make_complaint()
    with db.session() as session:
        c = session.get(Complaint, complaint.id)
        c.stage, c.is_open = "archived", False  # as if it went round the loop
    client = signed_in("agent1")
    page = client.get(f"/complaints/{complaint.number}").text
    assert "/reopen" in page
    refused = act(client, load(db, complaint.id), "reopen", reason="")
    assert refused.status_code == 422
    done = act(client, load(db, complaint.id), "reopen", reason="客户反馈问题复发")
    assert done.status_code == 200
    saved = load(db, complaint.id)
    assert saved.stage == lifecycle.REOPEN_STAGE and saved.reopen_count == 1


def test_a_duplicate_is_merged_into_another_complaint(signed_in, make_complaint, db):
    keep, duplicate = make_complaint(), make_complaint("同一个问题又投诉了一次", order_no="SO-9")
    client = signed_in("lead1", role="team_lead")
    wrong = act(client, duplicate, "merge", into="TS19990101-000001", reason="")
    assert wrong.status_code == 422 and "TS19990101-000001" in wrong.text
    done = act(client, duplicate, "merge", into=keep.number, reason="同一订单")
    assert done.status_code == 200 and f"已合并到 {keep.number}" in done.text
    saved = load(db, duplicate.id)
    assert saved.merged_into_id == keep.id and not saved.is_open


def test_someone_elses_complaint_is_not_found(signed_in, make_complaint, make_user, db, clock):
    complaint = make_complaint()
    lead, _ = make_user("lead1", "team_lead")
    with db.session() as session:
        c = session.get(Complaint, complaint.id)
        team = session.scalar(select(Team).where(Team.code == "service"))
        service.assign(
            session,
            clock,
            Actor.of(lead),
            c,
            version=c.version,
            team=team,
            assignee=None,
            reason=None,
        )
    outsider = signed_in("courier", team="logistics")
    response = outsider.get(f"/complaints/{complaint.number}")
    assert response.status_code == 404
    with db.session(write=False) as session:
        kinds = session.scalars(
            select(ComplaintEvent.kind).where(ComplaintEvent.complaint_id == complaint.id)
        ).all()
    assert "assigned" in kinds
