"""The triage admin API: keyword rules, lexicons, model versions, the try-it analysis and a
complaint's stored triage — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from kesu.accounts.models import AuditLog
from kesu.taxonomy import cache as config_cache
from kesu.triage import lexicons, registry
from kesu.triage.models import KeywordRule, LexiconEntry
from tests.complaints.helpers import new_complaint

RULES = "/api/v1/triage/rules"
LEXICON = "/api/v1/triage/lexicon"
CATEGORY = "产品质量/功能故障/无法开机"
NEW_RULE = {"category": CATEGORY, "include": ["量子咖啡机"], "weight": 0.95}


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Rules, lexicons and models are cached per database URL for a few seconds; the
    PostgreSQL database is reused from test to test."""
    config_cache.clear()
    lexicons.clear_cache()
    registry.clear_cache()
    yield
    config_cache.clear()
    lexicons.clear_cache()
    registry.clear_cache()


def _count(db, model) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_rule_crud(client, admin, db):
    created = client.post(RULES, json={**NEW_RULE, "exclude": ["咖啡豆"], "note": "新品"})
    assert created.status_code == 401  # no token
    created = client.post(
        RULES, json={**NEW_RULE, "exclude": ["咖啡豆"], "note": "新品"}, headers=admin
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["category"] == CATEGORY and rule["include"] == ["量子咖啡机"]
    assert rule["exclude"] == ["咖啡豆"] and rule["weight"] == 0.95 and rule["is_active"]

    assert client.get(f"{RULES}/{rule['id']}", headers=admin).json()["note"] == "新品"
    assert rule["id"] in [r["id"] for r in client.get(RULES, headers=admin).json()]

    changed = client.put(
        f"{RULES}/{rule['id']}",
        json={**NEW_RULE, "include": ["量子咖啡机", "量子壶"], "is_active": False},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["include"] == ["量子咖啡机", "量子壶"]
    assert changed.json()["is_active"] is False and changed.json()["exclude"] == []

    assert client.delete(f"{RULES}/{rule['id']}", headers=admin).status_code == 204
    assert client.get(f"{RULES}/{rule['id']}", headers=admin).status_code == 404
    assert client.delete(f"{RULES}/{rule['id']}", headers=admin).status_code == 404
    missing = client.put(f"{RULES}/999999", json=NEW_RULE, headers=admin)
    assert missing.status_code == 404
    with db.session(write=False) as session:
        actions = set(
            session.scalars(select(AuditLog.action).where(AuditLog.entity == "triage_rule"))
        )
    assert actions == {"triage_rule.create", "triage_rule.update", "triage_rule.delete"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"include": []}, "include"),
        ({"include": ["  "]}, "include"),
        ({"weight": 2}, "weight"),
        ({"weight": 0}, "weight"),
        ({"category": "没有/这个/分类"}, "category"),
        ({"category": "99999999999999999999"}, "category"),
        ({"category": "¹"}, "category"),
        ({"exclude": ["量子咖啡机"]}, "exclude"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_rules_name_the_field_and_write_nothing(client, admin, db, change, field):
    before = _count(db, KeywordRule)
    response = client.post(RULES, json={**NEW_RULE, **change}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert _count(db, KeywordRule) == before


def test_a_bad_edit_leaves_the_rule_as_it_was(client, admin):
    rule = client.post(RULES, json=NEW_RULE, headers=admin).json()
    response = client.put(f"{RULES}/{rule['id']}", json={**NEW_RULE, "weight": 2}, headers=admin)
    assert response.status_code == 422 and response.json()["field"] == "weight"
    assert client.get(f"{RULES}/{rule['id']}", headers=admin).json()["weight"] == 0.95


def test_a_new_rule_classifies_new_complaints(client, admin, agent):
    text = "新买的量子咖啡机插上电没有任何反应"
    before = new_complaint(client, agent, content=text, product=None)
    assert (before["category"] or {}).get("path") != CATEGORY
    assert client.post(RULES, json=NEW_RULE, headers=admin).status_code == 201
    after = new_complaint(client, agent, content=text, product=None, order_no="SO-2")
    assert after["category"]["path"] == CATEGORY
    triage = client.get(f"/api/v1/complaints/{after['number']}/triage", headers=admin)
    assert triage.status_code == 200, triage.text
    triage = triage.json()
    assert triage["applied_source"] == "rule"
    top = triage["suggestions"][0]
    assert top["path"] == CATEGORY and top["source"] == "rule" and top["confidence"] == 0.95
    assert top["matched"] == ["量子咖啡机"]


def test_a_risk_word_added_to_the_lexicon_is_a_risk_signal(client, admin, agent, db):
    text = "你们再不处理，我就把这件事告诉火星日报"
    quiet = client.post("/api/v1/triage/analyze", json={"text": text}, headers=agent).json()
    assert quiet["risk_level"] == 0 and quiet["risk_signals"] == []

    entry = {"lexicon": "risk", "word": "火星日报", "category": "media", "weight": 3}
    added = client.post(LEXICON, json=entry, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["word"] == "火星日报" and added.json()["weight"] == 3

    loud = client.post("/api/v1/triage/analyze", json={"text": text}, headers=agent).json()
    assert loud["risk_level"] == 3
    assert {"word": "火星日报", "category": "media", "weight": 3} in loud["risk_signals"]

    complaint = new_complaint(client, agent, content=text)
    assert "risk:3" in complaint["tags"] and complaint["severity"] == "serious"
    triage = client.get(f"/api/v1/complaints/{complaint['id']}/triage", headers=agent).json()
    assert triage["risk_level"] == 3 and triage["risk_signals"][0]["word"] == "火星日报"

    risk = client.get(LEXICON, params={"lexicon": "risk"}, headers=admin).json()
    assert "火星日报" in [e["word"] for e in risk] and {e["lexicon"] for e in risk} == {"risk"}
    deleted = client.delete(f"{LEXICON}/{added.json()['id']}", headers=admin)
    assert deleted.status_code == 204
    again = client.post("/api/v1/triage/analyze", json={"text": text}, headers=agent).json()
    assert again["risk_level"] == 0
    assert client.delete(f"{LEXICON}/{added.json()['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"lexicon": "risk", "word": "火星日报", "category": "media", "weight": 5}, "weight"),
        ({"lexicon": "risk", "word": "火星日报", "category": "gossip", "weight": 2}, "category"),
        ({"lexicon": "emotion", "word": "气炸", "category": "anger", "weight": 2}, "weight"),
        ({"lexicon": "user_dict", "word": "  "}, "word"),
        ({"lexicon": "user_dict", "word": "两个 词"}, "word"),
        ({"lexicon": "colours", "word": "红"}, "lexicon"),
    ],
)
def test_bad_lexicon_entries_name_the_field(client, admin, db, entry, field):
    before = _count(db, LexiconEntry)
    response = client.post(LEXICON, json=entry, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert _count(db, LexiconEntry) == before


def test_an_unknown_lexicon_filter_is_a_422(client, admin):
    response = client.get(LEXICON, params={"lexicon": "colours"}, headers=admin)
    assert response.status_code == 422 and response.json()["field"] == "lexicon"


def test_the_user_dictionary_keeps_a_product_name_whole(client, admin, agent):
    text = "我买的酷影星河投影仪开不了机"
    before = client.post("/api/v1/triage/analyze", json={"text": text}, headers=agent).json()
    assert "酷影星河" not in before["tokens"]
    added = client.post(LEXICON, json={"lexicon": "user_dict", "word": "酷影星河"}, headers=admin)
    assert added.status_code == 201, added.text
    after = client.post("/api/v1/triage/analyze", json={"text": text}, headers=agent).json()
    assert "酷影星河" in after["tokens"]
    assert "酷影星河" in [word for word, _weight in after["keywords"]]


def test_agents_may_not_configure(client, agent):
    calls = [
        ("get", RULES, None),
        ("post", RULES, NEW_RULE),
        ("get", f"{RULES}/1", None),
        ("put", f"{RULES}/1", NEW_RULE),
        ("delete", f"{RULES}/1", None),
        ("get", LEXICON, None),
        ("post", LEXICON, {"lexicon": "user_dict", "word": "酷影星河"}),
        ("delete", f"{LEXICON}/1", None),
        ("get", "/api/v1/triage/models", None),
        ("post", "/api/v1/triage/models/train", None),
    ]
    for method, path, body in calls:
        response = client.request(method, path, json=body, headers=agent)
        assert response.status_code == 403, (method, path, response.text)
    analysis = client.post("/api/v1/triage/analyze", json={"text": "扣了两次钱"}, headers=agent)
    assert analysis.status_code == 200


def test_analyze_shows_the_whole_pipeline(client, agent):
    response = client.post(
        "/api/v1/triage/analyze",
        json={"text": "会员费被重复扣费了！！气死了，马上给我退款，不然去12315"},
        headers=agent,
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["normalized"].startswith("会员费被重复扣费了!!")
    assert "重复" in data["tokens"] or "重复扣费" in data["tokens"]
    assert data["anger"] > 0.5 and data["urgency"] > 0 and data["risk_level"] == 3
    assert data["suggestions"][0] == {
        "category_id": data["suggestions"][0]["category_id"],
        "path": "账务/扣费异常/重复扣费",
        "source": "rule",
        "confidence": 0.9,
        "rule_id": data["suggestions"][0]["rule_id"],
        "matched": ["重复扣费"],
    }
    assert data["is_complaint"] is True and data["detection_source"] == "lexicon"
    empty = client.post("/api/v1/triage/analyze", json={"text": ""}, headers=agent)
    assert empty.status_code == 422 and empty.json()["field"] == "text"


def test_a_model_trained_from_the_database_is_listed_with_its_scores(client, admin, agent):
    too_little = client.post("/api/v1/triage/models/train", headers=admin)
    assert too_little.status_code == 422
    assert too_little.json()["field"] == "examples" and "至少" in too_little.json()["detail"]
    assert client.get("/api/v1/triage/models", headers=admin).json() == []

    texts = {
        "物流服务/配送延误/超时未送达": ["快递{}天了还没送到", "包裹第{}天还在路上没送达"],
        "售后支持/维修/维修周期长": ["送修{}周了还没修好", "维修拖了{}个星期"],
        "服务态度/客服态度/不回复": ["客服{}天都不回消息", "找了客服{}次没人回复"],
    }
    n = 0
    for category, patterns in texts.items():
        for i in range(3):
            for pattern in patterns:
                n += 1
                new_complaint(
                    client,
                    agent,
                    content=pattern.format(i + 2),
                    category=category,
                    order_no=f"SO-{n}",
                )
    trained = client.post("/api/v1/triage/models/train", headers=admin)
    assert trained.status_code == 200, trained.text
    outcome = trained.json()
    assert outcome["version"] == 1 and outcome["activated"] and outcome["status"] == "active"
    assert outcome["n_train"] + outcome["n_test"] == 18

    models = client.get("/api/v1/triage/models", headers=admin).json()
    assert len(models) == 1
    model = models[0]
    assert model["version"] == 1 and model["status"] == "active" and model["kind"] == "category"
    assert 0 <= model["macro_f1"] <= 1 and model["accuracy"] is not None
    assert model["n_train"] == outcome["n_train"] and "payload" not in model
    assert client.get("/api/v1/triage/models?kind=detection", headers=admin).json() == []

    suggestion = client.post(
        "/api/v1/triage/analyze", json={"text": "快递9天了还没送到"}, headers=agent
    ).json()
    assert suggestion["model_id"] == model["id"]
    assert suggestion["suggestions"][0]["source"] == "model"


def test_a_complaints_triage_is_for_those_who_may_see_it(client, agent, lead, make_user):
    complaint = new_complaint(client, agent)
    url = f"/api/v1/complaints/{complaint['number']}/triage"
    data = client.get(url, headers=agent).json()
    assert data["complaint"] == complaint["number"]
    assert {"keywords", "anger", "urgency", "risk_level", "suggestions", "applied_source"} <= set(
        data
    )
    unknown = client.get("/api/v1/complaints/TS20990101-000001/triage", headers=agent)
    assert unknown.status_code == 404
    _, outsider = make_user("eng9", "agent", "engineering")
    assigned = client.post(
        f"/api/v1/complaints/{complaint['id']}/assign",
        json={"team": "service", "version": complaint["version"]},
        headers=lead,
    )
    assert assigned.status_code == 200, assigned.text
    assert client.get(url, headers=outsider).status_code == 404  # another team's complaint


def test_texts_with_nothing_to_learn_are_a_422_not_a_500(client, admin, agent):
    paths = ["物流服务/配送延误/超时未送达", "售后支持/维修/维修周期长"]
    for i in range(4):
        new_complaint(client, agent, content="\u200b", category=paths[i % 2], order_no=f"Z{i}")
    response = client.post("/api/v1/triage/models/train", headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "examples"
