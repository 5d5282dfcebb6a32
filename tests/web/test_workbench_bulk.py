"""The workbench's checkbox bulk actions and saved views, through the page as a person would."""

from __future__ import annotations

import re

from sqlalchemy import select

from kesu.accounts.models import AuditLog, Team, User
from kesu.accounts.service import Actor
from kesu.complaints import service
from kesu.complaints.models import Complaint, ComplaintEvent
from tests.web.conftest import csrf_of, login
from tests.web.test_workbench import numbers


def _to_team(db, clock, complaint_id: int, team_code: str) -> None:
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        team = session.scalar(select(Team).where(Team.code == team_code))
        service.assign(
            session,
            clock,
            Actor("system", None, "系统"),
            complaint,
            version=complaint.version,
            team=team,
            assignee=None,
            reason="测试",
        )
        session.commit()


def test_bulk_assign_from_the_page_skips_the_one_out_of_scope(signed_in, make_complaint, db, clock):
    first = make_complaint("耳机没声音")
    second = make_complaint("音箱没声音", order_no="SO-2")
    elsewhere = make_complaint("快递丢了", order_no="SO-3")
    _to_team(db, clock, elsewhere.id, "logistics")
    client = signed_in("lead1", "team_lead", "service")
    page = client.get("/?tab=team").text
    assert set(numbers(page)) == {first.number, second.number}
    assert 'id="pick-all"' in page and 'name="ids"' in page
    with db.session() as session:
        me = session.scalar(select(User).where(User.username == "lead1"))
    # the page's form, plus an id the lead cannot see (as a stale or forged form would send)
    answer = client.post(
        "/bulk",
        data={
            "csrf_token": csrf_of(page),
            "ids": [str(first.id), str(elsewhere.id), str(second.id)],
            "action": "assign",
            "assign": f"user:{me.id}",
            "back": "/?tab=team",
        },
    )
    assert answer.status_code == 200
    assert "已更新 2 件，跳过 1 件" in answer.text
    assert f"#{elsewhere.id}" in answer.text and "不存在或不在您的范围内" in answer.text
    with db.session() as session:
        for c in (first, second):
            assert session.get(Complaint, c.id).assignee_id == me.id
            events = session.scalars(
                select(ComplaintEvent).where(
                    ComplaintEvent.complaint_id == c.id, ComplaintEvent.kind == "assigned"
                )
            ).all()
            assert len(events) == 1 and events[0].actor_id == me.id
            audit = session.scalars(
                select(AuditLog).where(
                    AuditLog.entity_id == c.number, AuditLog.action == "complaint.assigned"
                )
            ).all()
            assert len(audit) == 1 and audit[0].actor_id == me.id
        assert session.get(Complaint, elsewhere.id).version == elsewhere.version


def test_bulk_without_a_selection_or_a_token_is_refused(signed_in, make_complaint):
    make_complaint()
    client = signed_in("lead1", "team_lead", "service")
    page = client.get("/?tab=team").text
    empty = client.post("/bulk", data={"csrf_token": csrf_of(page), "action": "tag", "tag": "x"})
    assert empty.status_code == 422 and "请至少选择一条投诉" in empty.text
    forged = client.post("/bulk", data={"ids": "1", "action": "tag", "tag": "x"})
    assert forged.status_code == 403


def test_an_agent_sees_no_assign_action_and_auditors_no_bulk_bar(signed_in, make_complaint):
    make_complaint()
    agent = signed_in("agent1", "agent", "service")
    page = agent.get("/?tab=team").text
    assert 'value="tag"' in page and 'value="assign"' not in page
    agent.cookies.clear()
    auditor = signed_in("watcher", "auditor", None)
    assert 'name="ids"' not in auditor.get("/?tab=all").text


def _save(client, url: str, name: str):
    page = client.get(url).text
    hidden = dict(re.findall(r'name="(v_[a-z]+)" value="([^"]*)"', page))
    return client.post("/views", data={"csrf_token": csrf_of(page), "name": name, **hidden})


def test_saved_view_create_use_rename_delete(signed_in, make_complaint, browser):
    phone = make_complaint("电话打不通", channel="phone", severity="serious")
    make_complaint("耳机没声音", order_no="SO-2")
    client = signed_in("agent1", "agent", "service")
    saved = _save(client, "/?tab=team&channel=phone&sort=-received", "电话投诉")
    assert saved.status_code == 200 and "已保存视图「电话投诉」" in saved.text
    assert numbers(saved.text) == [phone.number]  # landed on the view itself
    views = client.get("/api/v1/views").json()
    assert [(v["name"], v["query"]) for v in views] == [
        ("电话投诉", {"tab": "team", "channel": "phone", "sort": "-received", "status": "open"})
    ]
    view_id = views[0]["id"]
    home = client.get("/").text
    tab = re.search(rf'<a class="view" href="([^"]+)" data-view="{view_id}">电话投诉', home)
    assert tab, "the view is not a tab on the workbench"
    used = client.get(tab.group(1).replace("&amp;", "&")).text
    assert numbers(used) == [phone.number] and 'class="view on"' in used
    renamed = client.post(
        f"/views/{view_id}/rename", data={"csrf_token": csrf_of(home), "name": "电话"}
    )
    assert "视图已改名为「电话」" in renamed.text
    # another agent neither sees nor may delete it
    client.post("/logout", data={"csrf_token": csrf_of(home)})
    client.cookies.clear()
    other = signed_in("agent2", "agent", "service")
    assert other.get("/api/v1/views").json() == []
    page = other.get("/").text
    assert f'data-view="{view_id}"' not in page  # not a tab for them
    assert other.delete(f"/api/v1/views/{view_id}").status_code == 404
    refused = other.post(f"/views/{view_id}/delete", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 404
    other.cookies.clear()
    assert login(other, "agent1").status_code == 303
    page = other.get("/").text
    deleted = other.post(f"/views/{view_id}/delete", data={"csrf_token": csrf_of(page)})
    assert "已删除视图" in deleted.text
    assert other.get("/api/v1/views").json() == []


def test_the_workbench_tools_speak_english(signed_in, make_complaint):
    make_complaint()
    client = signed_in("lead1", "team_lead", "service")
    client.cookies.set("lang", "en")
    page = client.get("/?tab=team").text
    for text in (
        "Select all on this page",
        "Apply to selected",
        "Updated",
        "Save view",
        "Keyboard shortcuts",
        "Press ? for keyboard shortcuts",
    ):
        assert text in page, text
    assert "批量操作" not in page and "保存视图" not in page
