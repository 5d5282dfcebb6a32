"""The timeline reads as sentences in the reader's language: no internal event codes, no
English field names on a Chinese page, no Chinese system sentences on an English one."""

from __future__ import annotations

import re

from tests.web.conftest import post_form

RAW_CODES = ("rule_fired", "triaged", "stage_changed", "customer_message", "updated")


def _timeline(html: str) -> str:
    start = html.index('<ol class="timeline">')
    return html[start : html.index("</ol>", start)]


def _version(client, page):
    return re.search(r'name="version" value="(\d+)"', client.get(page).text).group(1)


def _move_and_edit(client, complaint):
    page = f"/complaints/{complaint.number}"
    move = {"to": "investigating", "version": _version(client, page)}
    post_form(client, page, f"{page}/transition", move)
    version = _version(client, page)
    post_form(client, page, f"{page}/update", {"severity": "serious", "version": version})


def test_the_chinese_timeline_is_sentences_without_codes(signed_in, make_complaint):
    complaint = make_complaint()
    client = signed_in("lead1", role="team_lead")
    _move_and_edit(client, complaint)
    timeline = _timeline(client.get(f"/complaints/{complaint.number}").text)
    assert f"投诉已受理，受理编号 {complaint.number}" in timeline
    assert "从「受理登记」进入「调查核实」阶段" in timeline
    assert "修改了 严重程度" in timeline
    assert not any(code in timeline for code in RAW_CODES)
    assert "severity" not in timeline and "Registered" not in timeline


def test_the_english_timeline_is_english(signed_in, make_complaint):
    complaint = make_complaint()
    client = signed_in("lead1", role="team_lead")
    _move_and_edit(client, complaint)
    client.get("/lang/en")
    timeline = _timeline(client.get(f"/complaints/{complaint.number}").text)
    assert f"Complaint registered, number {complaint.number}" in timeline
    assert "Moved from “Registered” to “Investigating”" in timeline
    assert "Changed Severity" in timeline
    assert "受理编号" not in timeline and "阶段" not in timeline
    assert not any(code in timeline for code in RAW_CODES)


def test_the_tracking_page_speaks_the_customers_language(browser, make_complaint):
    complaint = make_complaint()
    english = browser.get(f"/t/{complaint.tracking_token}", headers={"Accept-Language": "en"}).text
    assert f"Complaint registered, number {complaint.number}" in _timeline(english)
    chinese = browser.get(f"/t/{complaint.tracking_token}").text
    assert f"投诉已受理，受理编号 {complaint.number}" in _timeline(chinese)


def test_the_api_gives_each_event_as_a_sentence_in_the_callers_language(client, lead):
    from tests.complaints.helpers import move, new_complaint

    complaint = new_complaint(client, lead)
    assert move(client, lead, complaint, "investigating").status_code == 200
    url = f"/api/v1/complaints/{complaint['id']}/events"
    english = client.get(url, headers={**lead, "Accept-Language": "en"}).json()
    chinese = client.get(url, headers=lead).json()
    moved = [e for e in english if e["kind"] == "stage_changed"]
    assert moved[0]["text"] == "Moved from “Registered” to “Investigating”"
    assert next(e for e in chinese if e["kind"] == "stage_changed")["text"] == (
        "从「受理登记」进入「调查核实」阶段"
    )
    assert english[0]["text"] == f"Complaint registered, number {complaint['number']}"
