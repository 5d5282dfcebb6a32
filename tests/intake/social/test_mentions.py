"""The mentions queue: convert and dismiss through the API and the page; who may review."""

from __future__ import annotations

import re

from sqlalchemy import select

from kesu.accounts.models import AuditLog
from kesu.complaints.models import Complaint
from kesu.intake.social.models import SocialMention
from tests.intake.social.conftest import CHATTER, deliver, weibo_post
from tests.web.conftest import csrf_of


def _pending(client, source, post_id="P1") -> int:
    answer = deliver(client, "weibo", source["secret"], weibo_post(CHATTER, post_id))
    assert answer.status_code == 201 and answer.json()["result"] == "mention"
    return int(answer.json()["mention"]["id"])


def test_convert_through_the_api(client, db, source, agent):
    mention_id = _pending(client, source)
    answer = client.post(f"/api/v1/intake/social/mentions/{mention_id}/convert", headers=agent)
    assert answer.status_code == 200, answer.text
    number = answer.json()["complaint"]["number"]
    assert answer.json()["mention"]["status"] == "converted"
    with db.session(write=False) as session:
        complaint = session.scalar(select(Complaint).where(Complaint.number == number))
        assert complaint.channel == "weibo"
        assert complaint.custom_fields["social_url"] == "https://weibo.com/123/P1"
        assert complaint.custom_fields["social_author"] == "小王爱吐槽"
        assert complaint.customer.external_id == "weibo:小王爱吐槽"
        mention = session.get(SocialMention, mention_id)
        assert mention.complaint_id == complaint.id and mention.reviewed_by_id is not None
        assert session.scalar(select(AuditLog).where(AuditLog.action == "mention.convert"))
    # Reviewed once: a second convert or a dismiss is a 409, nothing more is created.
    again = client.post(f"/api/v1/intake/social/mentions/{mention_id}/convert", headers=agent)
    assert again.status_code == 409
    late = client.post(
        f"/api/v1/intake/social/mentions/{mention_id}/dismiss",
        json={"reason": "重复"},
        headers=agent,
    )
    assert late.status_code == 409
    page = client.get("/api/v1/intake/social/mentions?status=converted", headers=agent).json()
    assert page["items"][0]["complaint_number"] == number
    assert page["counts"] == {"pending": 0, "complaint": 0, "converted": 1, "dismissed": 0}
    every = client.get("/api/v1/intake/social/mentions?status=any", headers=agent).json()
    assert [m["id"] for m in every["items"]] == [mention_id]


def test_dismiss_through_the_api_needs_a_reason(client, db, source, agent):
    mention_id = _pending(client, source)
    url = f"/api/v1/intake/social/mentions/{mention_id}/dismiss"
    assert client.post(url, json={"reason": ""}, headers=agent).status_code == 422
    assert client.post(url, json={"reason": "   "}, headers=agent).status_code == 422
    answer = client.post(url, json={"reason": "与本公司无关"}, headers=agent)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "dismissed"
    assert answer.json()["dismiss_reason"] == "与本公司无关"
    with db.session(write=False) as session:
        assert session.scalar(select(Complaint)) is None
    missing = client.post(
        "/api/v1/intake/social/mentions/999999/dismiss", json={"reason": "x"}, headers=agent
    )
    assert missing.status_code == 404


def test_convert_and_dismiss_on_the_page(client, db, source, signed_in):
    first = _pending(client, source, "P1")
    second = _pending(client, source, "P2")
    browser = signed_in("agent9", role="agent")
    page = browser.get("/mentions")
    assert page.status_code == 200
    assert f'id="mention-{first}"' in page.text and f'id="mention-{second}"' in page.text
    assert re.search(r'data-status="pending">2<', page.text)
    assert 'href="https://weibo.com/123/P1"' in page.text
    token = csrf_of(page.text)
    converted = browser.post(
        f"/mentions/{first}/convert", data={"csrf_token": token}, follow_redirects=True
    )
    assert converted.status_code == 200
    with db.session(write=False) as session:
        mention = session.get(SocialMention, first)
        assert mention.status == "converted" and mention.complaint_id
        number = session.get(Complaint, mention.complaint_id).number
    assert number in converted.text
    token = csrf_of(converted.text)
    dismissed = browser.post(
        f"/mentions/{second}/dismiss",
        data={"csrf_token": token, "reason": "广告"},
        follow_redirects=True,
    )
    assert dismissed.status_code == 200
    with db.session(write=False) as session:
        mention = session.get(SocialMention, second)
        assert mention.status == "dismissed" and mention.dismiss_reason == "广告"
    done = browser.get("/mentions?status=dismissed")
    assert "广告" in done.text
    # Without a reason the page says why and changes nothing.
    third = _pending(client, source, "P3")
    token = csrf_of(browser.get("/mentions").text)
    refused = browser.post(
        f"/mentions/{third}/dismiss", data={"csrf_token": token}, follow_redirects=True
    )
    assert "忽略原因" in refused.text
    with db.session(write=False) as session:
        assert session.get(SocialMention, third).status == "pending"


def test_agents_review_auditors_cannot(client, make_user, source):
    mention_id = _pending(client, source)
    _, auditor = make_user("auditor1", "auditor", None)
    _, lead = make_user("lead1", "team_lead", "service")
    assert client.get("/api/v1/intake/social/mentions", headers=auditor).status_code == 403
    refused = client.post(f"/api/v1/intake/social/mentions/{mention_id}/convert", headers=auditor)
    assert refused.status_code == 403
    refused = client.post(
        f"/api/v1/intake/social/mentions/{mention_id}/dismiss",
        json={"reason": "x"},
        headers=auditor,
    )
    assert refused.status_code == 403
    assert client.get("/api/v1/intake/social/mentions", headers=lead).status_code == 200
    # Sources are the admins'.
    assert client.get("/api/v1/intake/social/sources", headers=lead).status_code == 403


def test_auditor_cannot_open_the_queue_page(signed_in):
    browser = signed_in("auditor2", role="auditor", team=None)
    assert browser.get("/mentions").status_code == 403
