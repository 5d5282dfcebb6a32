"""The signed webhook: signatures, stale timestamps, bad bodies, replays, the detection's
decision (complaint or mention), on both databases."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from kesu.complaints.models import Complaint, Customer
from kesu.intake.social.health import health
from kesu.intake.social.models import SocialMention
from tests.intake.social.conftest import CHATTER, COMPLAINT, deliver, weibo_post


def _rows(db: Any) -> tuple[int, int, int]:
    with db.session(write=False) as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(t)) or 0
            for t in (Complaint, SocialMention, Customer)
        )


def test_a_complaint_post_becomes_a_social_complaint(client, db, source):
    answer = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["result"] == "complaint" and body["replayed"] is False
    number = body["complaint"]["number"]
    with db.session(write=False) as session:
        complaint = session.scalar(select(Complaint).where(Complaint.number == number))
        assert complaint.channel == "weibo"
        assert complaint.content == COMPLAINT
        assert complaint.custom_fields["social_url"] == "https://weibo.com/123/P1001"
        assert complaint.custom_fields["social_author"] == "小王爱吐槽"
        assert complaint.customer.external_id == "weibo:小王爱吐槽"
        mention = session.scalar(select(SocialMention))
        assert mention.status == "complaint" and mention.complaint_id == complaint.id
        assert mention.url == "https://weibo.com/123/P1001" and mention.author == "小王爱吐槽"


def test_the_same_author_is_the_same_customer(client, db, source):
    deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT, "P1"))
    deliver(client, "weibo", source["secret"], weibo_post("等了两个星期还没发货，骗子商家", "P2"))
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        assert session.scalar(select(func.count()).select_from(Complaint)) == 2


def test_a_wrong_signature_is_401_and_writes_nothing(client, db, source):
    before = _rows(db)
    payload = weibo_post(COMPLAINT)
    wrong = deliver(client, "weibo", "not-the-secret", payload)
    assert wrong.status_code == 401, wrong.text
    assert wrong.json()["code"] == "bad_signature"
    garbage = deliver(client, "weibo", source["secret"], payload, signature="sha256=zz")
    assert garbage.status_code == 401
    unsigned = client.post("/api/v1/intake/social/weibo", content=json.dumps(payload).encode())
    assert unsigned.status_code == 401
    # A body changed after signing.
    body = json.dumps(payload).encode()
    ts = str(int(client.app.state.clock.now().timestamp()))
    from kesu.intake.social.service import sign

    tampered = client.post(
        "/api/v1/intake/social/weibo",
        content=body + b" ",
        headers={"X-Kesu-Timestamp": ts, "X-Kesu-Signature": sign(source["secret"], ts, body)},
    )
    assert tampered.status_code == 401
    assert _rows(db) == before
    with db.session(write=False) as session:
        (entry,) = health(session, client.app.state.clock.now())
    assert entry.errors_today == 4 and entry.received_today == 0
    assert entry.last_error


def test_a_stale_or_future_timestamp_is_401(client, db, clock, source):
    before = _rows(db)
    now = int(clock.now().timestamp())
    for ts in (now - 301, now + 301, 0):
        answer = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT), timestamp=ts)
        assert answer.status_code == 401, (ts, answer.text)
    assert _rows(db) == before
    # Within the window either way: accepted.
    ok = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT), timestamp=now - 299)
    assert ok.status_code == 201


def test_malformed_json_or_no_text_is_422_and_writes_nothing(client, db, source):
    before = _rows(db)
    for raw in (b"{not json", b"\xff\xfe", b"[" * 100000, b""):
        answer = deliver(client, "weibo", source["secret"], None, raw=raw)
        assert answer.status_code == 422, (raw[:10], answer.text)
    no_text = deliver(client, "weibo", source["secret"], {"data": {"post": {"id": "x"}}})
    assert no_text.status_code == 422
    assert no_text.json()["field"] == "mapping.content"
    not_text = deliver(client, "weibo", source["secret"], {"data": {"post": {"text": {"a": 1}}}})
    assert not_text.status_code == 422
    assert _rows(db) == before
    with db.session(write=False) as session:
        (entry,) = health(session, client.app.state.clock.now())
    assert entry.errors_today == 6


def test_a_replayed_delivery_never_creates_a_second_complaint(client, db, clock, source):
    first = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT))
    assert first.status_code == 201
    clock.advance(minutes=1)  # re-signed later, same post
    again = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT))
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["complaint"] == first.json()["complaint"]
    assert _rows(db)[:2] == (1, 1)


def test_a_replayed_delivery_id_is_answered_once(client, db, source):
    first = deliver(client, "weibo", source["secret"], weibo_post(CHATTER, "A"), delivery="d-1")
    assert first.status_code == 201
    second = deliver(client, "weibo", source["secret"], weibo_post(CHATTER, "B"), delivery="d-1")
    assert second.status_code == 200
    assert second.json()["mention"]["id"] == first.json()["mention"]["id"]
    bad = deliver(client, "weibo", source["secret"], weibo_post(CHATTER, "C"), delivery="x" * 200)
    assert bad.status_code == 422
    assert _rows(db)[1] == 1


def test_a_post_without_an_id_is_deduplicated_by_its_body(client, db, source):
    payload = {"data": {"post": {"text": COMPLAINT}, "user": {"screen_name": "匿名"}}}
    assert deliver(client, "weibo", source["secret"], payload).status_code == 201
    assert deliver(client, "weibo", source["secret"], payload).status_code == 200
    assert _rows(db)[0] == 1


def test_a_non_complaint_post_lands_in_the_mentions_queue(client, db, source, agent):
    answer = deliver(client, "weibo", source["secret"], weibo_post(CHATTER))
    assert answer.status_code == 201, answer.text
    assert answer.json()["result"] == "mention" and answer.json()["complaint"] is None
    assert _rows(db)[0] == 0
    queue = client.get("/api/v1/intake/social/mentions", headers=agent)
    assert queue.status_code == 200, queue.text
    page = queue.json()
    assert page["counts"]["pending"] == 1
    (item,) = page["items"]
    assert item["status"] == "pending" and item["author"] == "小王爱吐槽"
    assert item["url"] == "https://weibo.com/123/P1001"


def test_unknown_or_inactive_source_is_404(client, admin, source):
    assert deliver(client, "nosuch", "x", weibo_post(COMPLAINT)).status_code == 404
    off = client.patch(
        f"/api/v1/intake/social/sources/{source['id']}", json={"is_active": False}, headers=admin
    )
    assert off.status_code == 200
    assert deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT)).status_code == 404


def test_a_rotated_secret_replaces_the_old_one(client, admin, source):
    rotated = client.post(
        f"/api/v1/intake/social/sources/{source['id']}/rotate-secret", headers=admin
    )
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret != source["secret"]
    assert (
        "secret"
        not in client.get(f"/api/v1/intake/social/sources/{source['id']}", headers=admin).json()
    )
    assert deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT)).status_code == 401
    assert deliver(client, "weibo", secret, weibo_post(COMPLAINT)).status_code == 201


def test_unsafe_links_and_bad_phones_are_not_kept(client, db, admin):
    created = client.post(
        "/api/v1/intake/social/sources",
        json={
            "code": "heimao",
            "name": "黑猫",
            "platform": "heimao",
            "mapping": {"content": "c", "url": "u", "phone": "p", "author": "a.0"},
        },
        headers=admin,
    ).json()
    payload = {"c": CHATTER, "u": "javascript:alert(1)", "p": "not a phone", "a": ["猫友"]}
    answer = deliver(client, "heimao", created["secret"], payload)
    assert answer.status_code == 201, answer.text
    mention = answer.json()["mention"]
    assert mention["url"] is None and mention["phone"] is None and mention["author"] == "猫友"


def test_the_post_link_survives_edits_and_shows_on_the_complaint(client, source, admin, signed_in):
    answer = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT))
    complaint_id = answer.json()["complaint"]["id"]
    shown = client.get(f"/api/v1/complaints/{complaint_id}", headers=admin).json()
    assert shown["custom_fields"]["social_url"] == "https://weibo.com/123/P1001"
    edited = client.patch(
        f"/api/v1/complaints/{complaint_id}",
        json={
            "version": shown["version"],
            "custom_fields": {**shown["custom_fields"], "social_url": "https://evil.example/"},
        },
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["custom_fields"]["social_url"] == "https://weibo.com/123/P1001"
    assert edited.json()["custom_fields"]["social_author"] == "小王爱吐槽"
    browser = signed_in("admin7", role="admin", team=None)
    page = browser.get(f"/complaints/{shown['number']}")
    assert page.status_code == 200
    assert 'href="https://weibo.com/123/P1001"' in page.text
