"""The survey's pages: /s/{token} in Chinese and English, CSRF-protected, once only (409 in
words), expired (410 in words); the same form on the tracking page while it is open; the
staff's card on the complaint page, the resend button, the admin's settings, the points."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kesu.config import get_settings
from kesu.surveys import service
from tests.flows import complaint, user
from tests.surveys.conftest import GOOD, LOW, resolved, surveys
from tests.web.conftest import csrf_of, login

FORM = {k: str(v) for k, v in GOOD.items()}


@pytest.fixture(autouse=True)
def at_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KESU_SURVEY_DELAY_MINUTES", "0")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("KESU_SURVEY_DELAY_MINUTES")
    get_settings.cache_clear()


def open_survey(db: Any, clock: Any) -> tuple[int, Any]:
    complaint_id = resolved(db, clock)
    [survey] = surveys(db, complaint_id)
    return complaint_id, survey


def test_the_page_in_chinese_and_english(browser, db, clock):
    _, survey = open_survey(db, clock)
    zh = browser.get(f"/s/{survey.token}")
    assert zh.status_code == 200
    for words in ("处理时效", "方案合理性", "服务态度", "推荐", "提交评价"):
        assert words in zh.text
    assert 'name="csrf_token"' in zh.text and 'value="10"' in zh.text
    en = browser.get(f"/s/{survey.token}", headers={"Accept-Language": "en"})
    for words in ("Timeliness", "Solution", "Attitude", "recommend", "Submit rating"):
        assert words in en.text
    assert "处理时效" not in en.text


def test_answering_on_the_page_once_then_409_in_words(browser, db, clock):
    complaint_id, survey = open_survey(db, clock)
    page = browser.get(f"/s/{survey.token}").text
    no_token = browser.post(f"/s/{survey.token}", data=FORM)
    assert no_token.status_code == 403
    done = browser.post(
        f"/s/{survey.token}", data={"csrf_token": csrf_of(page), **FORM}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    after = browser.get(f"/s/{survey.token}")
    assert "感谢您的评价" in after.text and "提交评价" not in after.text
    assert complaint(db, complaint_id).stage == "archived"
    again = browser.post(f"/s/{survey.token}", data={"csrf_token": csrf_of(page), **FORM})
    assert again.status_code == 409 and "已经提交过" in again.text


def test_a_missing_score_is_refused_in_words(browser, db, clock):
    _, survey = open_survey(db, clock)
    page = browser.get(f"/s/{survey.token}").text
    data = {k: v for k, v in FORM.items() if k != "solution"}
    refused = browser.post(f"/s/{survey.token}", data={"csrf_token": csrf_of(page), **data})
    assert refused.status_code == 422 and "请为每一项打分" in refused.text
    assert 'value="很快就解决了"' in refused.text or "很快就解决了" in refused.text
    bad = browser.post(
        f"/s/{survey.token}", data={"csrf_token": csrf_of(page), **FORM, "nps": "99"}
    )
    assert bad.status_code == 422
    assert surveys(db, survey.complaint_id)[0].status == "scheduled"


def test_an_expired_page_says_so(browser, db, clock):
    _, survey = open_survey(db, clock)
    page = browser.get(f"/s/{survey.token}").text
    clock.advance(days=8)
    shown = browser.get(f"/s/{survey.token}", headers={"Accept-Language": "en"})
    assert "expired" in shown.text and "Submit rating" not in shown.text
    late = browser.post(f"/s/{survey.token}", data={"csrf_token": csrf_of(page), **FORM})
    assert late.status_code == 410 and "已过期" in late.text


def test_the_tracking_page_shows_the_form_while_open(browser, db, clock):
    complaint_id, survey = open_survey(db, clock)
    token = complaint(db, complaint_id).tracking_token
    page = browser.get(f"/t/{token}").text
    assert 'id="survey-form"' in page and f'action="/s/{survey.token}"' in page
    done = browser.post(
        f"/s/{survey.token}",
        data={"csrf_token": csrf_of(page), "back": "track", **{**FORM, "timeliness": "1"}},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/t/{token}"
    after = browser.get(f"/t/{token}").text
    assert 'id="survey-form"' not in after
    assert "重新处理" in after  # low score: reopened, and the customer sees it
    assert complaint(db, complaint_id).stage == "investigating"


def test_staff_see_the_answer_and_resend_on_the_complaint_page(browser, db, clock):
    complaint_id, survey = open_survey(db, clock)
    assert login(browser, "lead_a", "password-123").status_code == 303
    page = browser.get(f"/complaints/{complaint_id}")
    assert page.status_code == 200
    assert 'id="surveys"' in page.text and f"/s/{survey.token}" in page.text
    resent = browser.post(
        f"/complaints/{complaint_id}/surveys/{survey.id}/resend",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert resent.status_code == 303
    with db.session() as session:
        row = service.by_token(session, survey.token)
        service.answer(session, clock, row, LOW)
    page = browser.get(f"/complaints/{complaint_id}").text
    assert "等了太久" in page and "处理时效 2 分" in page


def test_admin_sets_the_delays_per_channel(browser, db, clock, make_user):
    make_user("boss", "admin", None)
    assert login(browser, "boss", "password-123").status_code == 303
    page = browser.get("/admin/surveys")
    assert page.status_code == 200 and "满意度评价设置" in page.text
    saved = browser.post(
        "/admin/surveys",
        data={
            "csrf_token": csrf_of(page.text),
            "delay_minutes.email": "30",
            "validity_days.*": "3",
            "archive_delay_minutes.*": "",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with db.session(write=False) as session:
        get_settings.cache_clear()
        assert service.policy(session, "web").validity_days == 3
    bad = browser.post(
        "/admin/surveys",
        data={"csrf_token": csrf_of(page.text), "validity_days.*": "abc"},
    )
    assert bad.status_code == 422


def test_agents_cannot_open_the_settings(browser, db, clock, make_user):
    make_user("agent9", "agent", "service")
    login(browser, "agent9", "password-123")
    assert browser.get("/admin/surveys").status_code == 403


def test_the_agents_points_on_their_pages(browser, db, clock, make_user):
    _, survey = open_survey(db, clock)
    with db.session() as session:
        service.answer(session, clock, service.by_token(session, survey.token), GOOD)
    assert login(browser, "agent_a", "password-123").status_code == 303
    mine = browser.get("/me/tokens").text
    assert 'id="survey-points"' in mine and ">6<" in mine
    make_user("boss", "admin", None)
    login(browser, "boss", "password-123")
    theirs = browser.get(f"/admin/users/{user(db, 'agent_a').id}").text
    assert ">6<" in theirs
