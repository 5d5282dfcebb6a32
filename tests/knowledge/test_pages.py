"""The pages: list and search, article, editor, workflow buttons, the complaint page's card."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from kesu.complaints.models import Complaint
from kesu.knowledge.models import Article
from tests.web.conftest import csrf_of


def _post(client: Any, page: str, action: str, data: dict[str, str]) -> Any:
    html = client.get(page).text
    return client.post(action, data={"csrf_token": csrf_of(html), **data}, follow_redirects=False)


def test_editor_writes_submits_and_a_manager_publishes(signed_in, db, browser):
    lead = signed_in("lead7", role="team_lead")
    made = _post(
        lead,
        "/knowledge/new",
        "/knowledge/new",
        {"kind": "script", "title": "换货话术", "body": "您好，换货已安排。", "tags": "换货，耳机"},
    )
    assert made.status_code == 303, made.text
    article_id = int(made.headers["location"].rsplit("/", 1)[1])
    page = lead.get(f"/knowledge/{article_id}").text
    assert "换货话术" in page and "提交审核" in page and ">发布<" not in page
    assert (
        _post(
            lead,
            f"/knowledge/{article_id}",
            f"/knowledge/{article_id}/transition",
            {"action": "submit"},
        ).status_code
        == 303
    )
    lead.post("/logout", data={"csrf_token": csrf_of(lead.get("/").text)})
    manager = signed_in("manager7", role="manager")
    done = _post(
        manager,
        f"/knowledge/{article_id}",
        f"/knowledge/{article_id}/transition",
        {"action": "publish"},
    )
    assert done.status_code == 303
    with db.session(write=False) as session:
        article = session.get(Article, article_id)
        assert (article.status, article.tags) == ("published", ["换货", "耳机"])


def test_editor_shows_the_error_and_keeps_the_text(signed_in):
    lead = signed_in("lead8", role="team_lead")
    response = _post(
        lead,
        "/knowledge/new",
        "/knowledge/new",
        {"kind": "nope", "title": "标题", "body": "正文保留"},
    )
    assert response.status_code == 422
    assert "正文保留" in response.text


def test_agents_cannot_open_the_editor(signed_in):
    agent = signed_in("agent8", role="agent")
    assert agent.get("/knowledge/new").status_code == 403


def test_search_page_highlights(signed_in, write):
    write("屏幕<i>闪烁</i>处理", "手机屏幕闪烁时先降低亮度。")
    agent = signed_in("agent5", role="agent")
    html = agent.get("/knowledge", params={"q": "屏幕"}).text
    assert "<mark>屏幕</mark>" in html
    assert "<i>" not in html.split("results")[1]


def test_complaint_page_shows_suggestions_and_inserts_scripts(signed_in, write, make_complaint, db):
    script = write(
        "耳机无声的回复话术", "您好，耳机没有声音的问题我们马上为您换货。", kind="script"
    )
    complaint = make_complaint("耳机左耳没有声音，申请换货。")
    agent = signed_in("agent6", role="agent")
    shown = agent.get(f"/complaints/{complaint.number}")
    html = shown.text
    assert shown.status_code == 200, html[-3000:]
    assert 'id="knowledge"' in html, (
        html[html.find("triage") :][:3000] and "耳机无声的回复话术" in html
    )
    assert f'data-article="{script.id}"' in html and "data-insert-script" in html
    assert "/static/kesu-knowledge.js" in html and "整理成知识文章" not in html
    token = csrf_of(html)
    assert agent.post(f"/knowledge/{script.id}/used", data={"csrf_token": token}).status_code == 204
    with db.session(write=False) as session:
        assert session.get(Article, script.id).inserts == 1


def test_turn_into_article_button(signed_in, make_complaint, db):
    complaint = make_complaint("耳机左耳没有声音")
    with db.session() as session:
        row = session.get(Complaint, complaint.id)
        row.stage = "rating"
        row.outputs = {"findings": "虚焊", "solution": "换新", "measures": "加检"}
        session.commit()
    lead = signed_in("lead9", role="team_lead")
    html = lead.get(f"/complaints/{complaint.number}").text
    assert "整理成知识文章" in html
    made = lead.post(
        f"/complaints/{complaint.number}/knowledge",
        data={"csrf_token": csrf_of(html)},
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert re.match(r"/knowledge/\d+/edit", made.headers["location"])
    editor = lead.get(made.headers["location"]).text
    assert "虚焊" in editor and "换新" in editor and "加检" in editor
    with db.session(write=False) as session:
        assert session.scalar(
            select(Article.source_complaint_id).where(Article.source_complaint_id == complaint.id)
        )


def test_article_page_counts_views_and_votes(signed_in, write, db):
    article = write("保修说明", "整机保修一年。", kind="product")
    agent = signed_in("agent4", role="agent")
    assert "保修说明" in agent.get(f"/knowledge/{article.id}").text
    _post(agent, f"/knowledge/{article.id}", f"/knowledge/{article.id}/vote", {"helpful": "1"})
    _post(agent, f"/knowledge/{article.id}", f"/knowledge/{article.id}/vote", {"helpful": "1"})
    with db.session(write=False) as session:
        row = session.get(Article, article.id)
        assert row.helpful == 1 and row.views >= 3
