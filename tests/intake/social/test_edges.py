"""The webhook's edges: the per-source rate limit, a concurrent duplicate caught by the unique
key, a registration the configuration refuses (kept for review, never lost)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from kesu.complaints.models import Complaint
from kesu.config import Settings
from kesu.intake.social import service
from kesu.intake.social.models import SocialMention
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.models import FormField
from kesu.web.app import create_app
from tests.intake.social.conftest import COMPLAINT, WEIBO_MAPPING, deliver, weibo_post


def test_deliveries_are_rate_limited_per_source(db, clock, admin):
    settings = Settings(
        database_url=db.url,
        environment="test",
        base_url="http://testserver",
        rate_limit_social="3/minute",
    )
    with TestClient(create_app(settings, clock=clock, db=db)) as client:
        made = {}
        for code in ("one", "two"):
            body = {"code": code, "name": code, "platform": "weibo", "mapping": WEIBO_MAPPING}
            made[code] = client.post(
                "/api/v1/intake/social/sources", json=body, headers=admin
            ).json()
        for n in range(3):
            answer = deliver(client, "one", made["one"]["secret"], weibo_post(COMPLAINT, f"p{n}"))
            assert answer.status_code == 201
        refused = deliver(client, "one", made["one"]["secret"], weibo_post(COMPLAINT, "p9"))
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        # Another source has its own budget.
        other = deliver(client, "two", made["two"]["secret"], weibo_post(COMPLAINT, "p9"))
        assert other.status_code == 201
        clock.advance(minutes=1, seconds=1)
        again = deliver(client, "one", made["one"]["secret"], weibo_post(COMPLAINT, "p9"))
        assert again.status_code == 201


def test_forged_deliveries_do_not_use_up_the_sources_budget(db, clock, admin):
    settings = Settings(
        database_url=db.url,
        environment="test",
        base_url="http://testserver",
        rate_limit_social="3/minute",
    )
    app = create_app(settings, clock=clock, db=db)
    with (
        TestClient(app, client=("203.0.113.9", 4000)) as attacker,
        TestClient(app, client=("198.51.100.7", 4000)) as sender,
    ):
        body = {"code": "wb", "name": "wb", "platform": "weibo", "mapping": WEIBO_MAPPING}
        secret = sender.post("/api/v1/intake/social/sources", json=body, headers=admin).json()[
            "secret"
        ]
        codes = [
            deliver(attacker, "wb", "guess", weibo_post(COMPLAINT, f"f{n}")).status_code
            for n in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]
        for n in range(3):
            answer = deliver(sender, "wb", secret, weibo_post(COMPLAINT, f"g{n}"))
            assert answer.status_code == 201, answer.text


def test_a_concurrent_duplicate_is_answered_with_the_first(client, db, source, monkeypatch):
    first = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT))
    assert first.status_code == 201
    # As if a second delivery of the same post had passed the read check before the first
    # committed: its write fails on the unique key and it answers with the first's result.
    real = service.existing
    calls = []

    def miss_once(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(service, "existing", miss_once)
    second = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT))
    assert second.status_code == 200, second.text
    assert second.json()["complaint"] == first.json()["complaint"]
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
        assert session.scalar(select(func.count()).select_from(SocialMention)) == 1


def test_a_refused_registration_keeps_the_post_for_review(client, db, source, agent):
    with db.session() as session:
        session.execute(update(FormField).values(required=False))
        session.add(FormField(code="invoice_no", label="发票号", required=True, sort=99))
        session.commit()
    config_cache.clear()
    answer = deliver(client, "weibo", source["secret"], weibo_post(COMPLAINT))
    assert answer.status_code == 201, answer.text
    mention = answer.json()["mention"]
    assert answer.json()["result"] == "mention"
    assert mention["status"] == "pending" and "发票号" in mention["note"]
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0
    # An agent cannot convert it either while the field is required: a clear 422, unchanged.
    refused = client.post(f"/api/v1/intake/social/mentions/{mention['id']}/convert", headers=agent)
    assert refused.status_code == 422
    with db.session(write=False) as session:
        assert session.get(SocialMention, mention["id"]).status == "pending"
