"""The pages: the request card on the complaint page, the queue, the thresholds admin page,
the decision on the customer's tracking page (zh/en, no approver names)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kesu.compensation.models import CompensationRequest
from tests.compensation.flow_helpers import complaint, staff
from tests.flows import move
from tests.web.conftest import HTML, csrf_of, login


def browser_of(app: Any, username: str) -> TestClient:
    client = TestClient(app, headers=HTML)
    assert login(client, username).status_code == 303
    return client


def test_request_queue_decision_tracking(app: Any, db: Any, clock: Any) -> None:
    staff(db, clock)
    cid = complaint(db, clock)
    move(db, clock, cid, "investigating")
    move(db, clock, cid, "proposing", findings="快递延误五天")
    agent = browser_of(app, "agent_a")
    page = agent.get(f"/complaints/{cid}")
    assert page.status_code == 200 and 'id="compensation-form"' in page.text
    form = {"csrf_token": csrf_of(page.text), "method": "cash", "amount": "300.00"}
    # no rule applies (no standards yet) and no reason: refused, the form shown again
    refused = agent.post(f"/complaints/{cid}/compensation", data=form)
    assert refused.status_code == 422 and "请填写理由" in refused.text
    bad = agent.post(f"/complaints/{cid}/compensation", data={**form, "amount": "1.234"})
    assert bad.status_code == 422 and "两位小数" in bad.text
    done = agent.post(
        f"/complaints/{cid}/compensation",
        data={**form, "reason": "延误五天，客户要求补偿"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = agent.get(f"/complaints/{cid}").text
    assert "待审批" in shown and 'id="compensation-form"' not in shown  # one open request
    assert agent.get("/compensation/queue").status_code == 403  # agents do not approve

    lead = browser_of(app, "lead_a")
    queue = lead.get("/compensation/queue")
    assert queue.status_code == 200
    assert "待我审批 1 件" in queue.text and "现金补偿 300.00 元" in queue.text
    with db.session(write=False) as session:
        req = session.query(CompensationRequest).one()
    no_reason = lead.post(
        f"/compensation/requests/{req.id}/decision",
        data={"csrf_token": csrf_of(queue.text), "decision": "reject", "version": "1"},
    )
    assert "驳回须填写理由" in no_reason.text
    approved = lead.post(
        f"/compensation/requests/{req.id}/decision",
        data={"csrf_token": csrf_of(queue.text), "decision": "approve", "version": "1"},
    )
    assert approved.status_code == 200 and "已记入赔付台账" in approved.text
    assert "没有等待您审批" in approved.text
    # the approved compensation prefills the solution of the 方案制定 move
    again = agent.get(f"/complaints/{cid}").text
    assert "为您办理赔付：现金补偿 300.00 元。" in again and "已批准" in again

    with db.session(write=False) as session:
        from kesu.complaints.models import Complaint

        token = session.get(Complaint, cid).tracking_token
    public = TestClient(app, headers=HTML)
    zh = public.get(f"/t/{token}").text
    assert 'id="compensation"' in zh and "现金补偿 300.00 元" in zh and "已批准" in zh
    assert "个案处理" in zh  # the rule in words (no standard applied: case by case)
    assert "lead_a" not in zh and "组长" not in zh  # never who approved
    en = public.get(f"/t/{token}", headers={"Accept-Language": "en"}).text
    assert "Approved" in en and "现金补偿" not in en


def test_thresholds_admin_page(app: Any, db: Any, clock: Any) -> None:
    staff(db, clock)
    admin = browser_of(app, "admin_a")
    page = admin.get("/admin/compensation/approvals")
    assert page.status_code == 200 and 'value="joint"' in page.text
    assert "没有在职" not in page.text  # every default step has someone (flow_helpers.PEOPLE)
    form = {
        "csrf_token": csrf_of(page.text),
        "code.0": "fast",
        "kind.0": "fast",
        "max.0": "100",
        "code.1": "lead",
        "kind.1": "chain",
        "max.1": "800.00",
        "roles.1": ["team_lead", "executive"],
        "code.2": "top",
        "kind.2": "joint",
        "departments.2": ["quality", "finance"],
    }
    saved = admin.post("/admin/compensation/approvals", data=form)
    assert saved.status_code == 200 and "审批阈值已保存" in saved.text
    assert "档位 lead：没有在职的「高管」" in saved.text  # nobody could decide that step
    api = admin.get("/api/v1/compensation/approvals").json()
    assert [t["max_amount"] for t in api["tiers"]] == ["100.00", "800.00", None]
    assert api["default"] is False
    wrong = admin.post("/admin/compensation/approvals", data={**form, "max.1": "50"})
    assert wrong.status_code == 422 and "逐档递增" in wrong.text
    assert browser_of(app, "lead_a").get("/admin/compensation/approvals").status_code == 403


def test_withdraw_from_the_complaint_page(app: Any, db: Any, clock: Any) -> None:
    people = staff(db, clock, "agent_a")
    cid = complaint(db, clock)
    agent = browser_of(app, "agent_a")
    r = agent.post(
        f"/api/v1/complaints/{cid}/compensation",
        json={"method": "cash", "amount": "300.00", "reason": "测试"},
        headers={**people["agent_a"], "Accept": "application/json"},
    )
    rid = r.json()["id"]
    page = agent.get(f"/complaints/{cid}").text
    assert "撤回申请" in page and 'id="compensation-form"' not in page
    done = agent.post(
        f"/compensation/requests/{rid}/cancel",
        data={"csrf_token": csrf_of(page), "back": str(cid)},
    )
    assert done.status_code == 200 and "赔付申请已撤回" in done.text
    assert 'id="compensation-form"' in done.text and "已取消" in done.text
