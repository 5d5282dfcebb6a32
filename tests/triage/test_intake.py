"""Triage at intake: keyword rules and the learned model suggest a category with its source and
confidence, risk raises severity, agents' corrections feed the next training, a new model
version replaces the active one only when it is better on held-out data."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import select

from kesu.complaints.models import ComplaintEvent
from kesu.config import Settings
from kesu.errors import InvalidInput
from kesu.triage import history, registry, service, training
from kesu.triage.models import Correction, TriageModel, TriageResult
from kesu.triage.registry import ModelKind
from tests.flows import complaint, create, worker

WRONG_CHARGE = "账务/扣费异常/多扣费"
LATE = "物流服务/配送延误/超时未送达"
SMELL = "产品质量/做工瑕疵/异味"
ASKS = ["请尽快处理", "希望给个说法", "麻烦核实一下", "要求退款"]


def texts_for(category: str, n: int) -> list[str]:
    """Made-up complaint texts for three categories, varied enough to learn from."""
    if category == WRONG_CHARGE:
        parts = itertools.product(
            ["这个月", "上个月", "本期"], ["话费", "会员费", "服务费", "月费"]
        )
        made = [f"{when}的{bill}多扣了{i + 3}元" for i, (when, bill) in enumerate(parts)]
    elif category == LATE:
        parts = itertools.product(["快递", "包裹", "订单", "货"], ["三天", "一周", "五天"])
        made = [f"{days}了{parcel}还没送到" for parcel, days in parts]
    else:
        parts = itertools.product(
            ["沙发", "床垫", "衣柜", "地毯"], ["刺鼻的味道", "怪味", "甲醛味"]
        )
        made = [f"新买的{item}有一股{smell}" for item, smell in parts]
    return [f"{text}，{ASKS[i % len(ASKS)]}" for i, text in enumerate(made[:n])]


def seed_history(db, clock, n: int = 12) -> None:
    """Classified past complaints to train on."""
    for category in (WRONG_CHARGE, LATE, SMELL):
        for text in texts_for(category, n):
            create(db, clock, content=text, category=category, product=None)


def triage_of(db, complaint_id: int) -> TriageResult:
    with db.session(write=False) as session:
        result = session.get(TriageResult, complaint_id)
        assert result is not None
        return result


def apply_threshold(monkeypatch, value: float) -> None:
    monkeypatch.setattr(service, "get_settings", lambda: Settings(triage_apply_confidence=value))


def test_a_keyword_rule_classifies_at_intake_and_says_so(db, clock):
    complaint_id = create(db, clock, content="这个月被重复扣费了，请退还", product=None)
    found = complaint(db, complaint_id)
    assert found.category is not None and found.category.path == "账务/扣费异常/重复扣费"
    result = triage_of(db, complaint_id)
    assert result.applied_source == "rule" and result.applied_confidence == pytest.approx(0.9)
    assert result.suggestions[0]["source"] == "rule"
    assert result.suggestions[0]["matched"] == ["重复扣费"]
    with db.session(write=False) as session:
        event = session.scalar(
            select(ComplaintEvent).where(
                ComplaintEvent.complaint_id == complaint_id, ComplaintEvent.kind == "triaged"
            )
        )
        assert event is not None and "关键词规则" in event.body
    assert found.team is not None and found.team.code == "finance"  # routing saw the category


def test_a_category_given_at_intake_is_kept(db, clock):
    complaint_id = create(db, clock, content="被重复扣费了", category=LATE, product=None)
    assert complaint(db, complaint_id).category.path == LATE
    result = triage_of(db, complaint_id)
    assert result.applied_source == "given"
    assert result.suggestions[0]["path"] == "账务/扣费异常/重复扣费"  # still suggested


def test_rules_beat_the_model_when_they_match(db, clock, monkeypatch):
    seed_history(db, clock)
    outcome = training.train_categories_from_database(db, clock, trained_by="test")
    assert outcome.activated
    apply_threshold(monkeypatch, 0.0)  # the model would be applied if the rule did not match
    text = "上个月的话费重复扣费，多扣了8元"
    with db.session(write=False) as session:
        top_model = registry.active_model(session, ModelKind.category)
        assert top_model is not None
        assert top_model.classifier.predict([text]) == [WRONG_CHARGE]
    complaint_id = create(db, clock, content=text, product=None)
    assert complaint(db, complaint_id).category.path == "账务/扣费异常/重复扣费"
    suggestions = triage_of(db, complaint_id).suggestions
    assert [s["source"] for s in suggestions] == ["rule", "model", "model"]
    assert suggestions[1]["path"] == WRONG_CHARGE  # the model's choice comes second


def test_the_model_applies_above_the_threshold_and_offers_three_below(db, clock, monkeypatch):
    seed_history(db, clock)
    training.train_categories_from_database(db, clock, trained_by="test")
    text = "等了一个星期包裹还没送到"

    apply_threshold(monkeypatch, 0.999)
    unsure = create(db, clock, content=text, product=None)
    assert complaint(db, unsure).category is None
    result = triage_of(db, unsure)
    assert result.applied_source is None
    assert [s["source"] for s in result.suggestions] == ["model"] * 3
    assert result.suggestions[0]["path"] == LATE
    confidences = [s["confidence"] for s in result.suggestions]
    assert confidences == sorted(confidences, reverse=True) and confidences[0] < 0.999

    apply_threshold(monkeypatch, 0.0)
    sure = create(db, clock, content=text, product=None)
    assert complaint(db, sure).category.path == LATE
    assert triage_of(db, sure).applied_source == "model"
    assert triage_of(db, sure).model_id is not None


def test_a_correction_is_recorded_and_used_by_the_next_training(db, clock, client, make_user):
    seed_history(db, clock)
    first = training.train_categories_from_database(db, clock, trained_by="test")
    text = "蓝牙音箱底座的话费多扣了"
    complaint_id = create(db, clock, content=text, product=None)
    number = complaint(db, complaint_id).number
    manager = make_user("manager1", "manager", None)[1]
    response = client.patch(
        f"/api/v1/complaints/{number}",
        headers=manager,
        json={"category": SMELL, "version": complaint(db, complaint_id).version},
    )
    assert response.status_code == 200, response.text
    with db.session(write=False) as session:
        correction = session.scalar(select(Correction))
        assert correction is not None and correction.complaint_id == complaint_id
        assert correction.to_category_id == complaint(db, complaint_id).category_id
        assert correction.suggested_source == "model" and correction.used_by_model_id is None
        assert correction.actor_id is not None

    second = training.train_categories_from_database(db, clock, trained_by="test")
    assert second.n_corrections == 1 and second.model.version == first.model.version + 1
    with db.session(write=False) as session:
        correction = session.scalar(select(Correction))
        assert correction is not None and correction.used_by_model_id == second.model.id
        payload = session.scalar(
            select(TriageModel.payload).where(TriageModel.id == second.model.id)
        )
    from kesu.triage.classifier import TextClassifier

    assert TextClassifier.from_bytes(payload).predict([text]) == [SMELL]


def test_a_new_version_replaces_the_active_one_only_when_better(db, clock):
    good = [
        training.Example(text, category)
        for category in (WRONG_CHARGE, LATE, SMELL)
        for text in texts_for(category, 12)
    ]
    labels = [WRONG_CHARGE, LATE, SMELL]
    shuffled = [training.Example(e.text, labels[i % 3]) for i, e in enumerate(good)]
    first = training.train_model(
        db, clock, ModelKind.category, shuffled, source="noisy labels", trained_by="test"
    )
    better = training.train_model(
        db, clock, ModelKind.category, good, source="clean labels", trained_by="test"
    )
    # A candidate that learned from noisy labels, judged on clean held-out complaints.
    noisy = training.fit_candidate(shuffled)
    clean_test = [e for e in good if e.text in {t.text for t in noisy.test}]
    noisy.test = clean_test
    with db.session() as session:
        worse = training.store_candidate(
            session, clock, ModelKind.category, noisy, source="noisy again", trained_by="test"
        )
    assert first.activated and first.previous_macro_f1 is None  # nothing to beat
    assert better.activated and better.macro_f1 > better.previous_macro_f1
    assert not worse.activated and worse.macro_f1 <= worse.previous_macro_f1
    with db.session(write=False) as session:
        statuses = {m.version: m.status for m in registry.list_models(session)}
        assert statuses == {1: "retired", 2: "active", 3: "rejected"}
        active = registry.active_model(session, ModelKind.category)
        assert active is not None and active.version == 2


def test_too_little_data_to_train_is_a_clear_error(db, clock):
    with pytest.raises(InvalidInput, match="两个分类"):
        training.train_categories_from_database(db, clock, trained_by="test")


@pytest.mark.parametrize(
    ("text", "level", "severity"),
    [
        ("再不处理我就去12315投诉，还要找媒体曝光！", 3, "serious"),
        ("质量太差了，我要发微博说说", 2, "serious"),
        ("我要发朋友圈让大家看看", 1, "moderate"),
    ],
)
def test_risk_words_raise_severity_and_flag_the_complaint(db, clock, text, level, severity):
    complaint_id = create(db, clock, content=text, product=None)
    found = complaint(db, complaint_id)
    assert found.severity == severity
    assert f"risk:{level}" in found.tags
    result = triage_of(db, complaint_id)
    assert result.risk_level == level and result.risk_signals


def test_keywords_and_emotion_are_stored(db, clock):
    complaint_id = create(
        db, clock, content="冰箱不制冷，维修师傅三次上门都没修好，太气人了！！", product=None
    )
    result = triage_of(db, complaint_id)
    words = [word for word, _ in result.keywords]
    assert "制冷" in words and "冰箱" in words
    assert result.anger > 0.3


def test_the_worker_retrains_once_enough_corrections_accumulate(db, clock, settings):
    seed_history(db, clock, n=6)
    settings.triage_retrain_after = 2
    ids = [create(db, clock, content=t, product=None) for t in texts_for(LATE, 2)]
    run = worker(db, settings, clock)
    assert run.run_once().retrained is None  # nothing corrected yet
    from kesu.complaints import service as complaints_service
    from kesu.complaints.models import Complaint
    from kesu.complaints.schemas import ComplaintUpdate
    from tests.flows import actor, make_staff

    make_staff(db, clock)
    for complaint_id in ids:
        with db.session() as session:
            row = session.get(Complaint, complaint_id)
            assert row is not None
            complaints_service.update_complaint(
                session,
                clock,
                actor(db, "lead_a"),
                row,
                ComplaintUpdate(category=SMELL, version=row.version),
            )
    retrained = run.run_once().retrained
    assert retrained is not None and retrained.n_corrections >= 1  # one may be held out
    assert run.run_once().retrained is None  # the corrections are used up
    with db.session(write=False) as session:
        used = set(session.scalars(select(Correction.used_by_model_id)))
        assert used == {retrained.model.id}


def example_rows() -> list[dict[str, Any]]:
    return [
        {"text": text, "label": category}
        for category in (WRONG_CHARGE, LATE, SMELL)
        for text in texts_for(category, 10)
    ]


def test_training_from_an_excel_file_of_past_complaints(db, clock, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["内容", "分类"])
    for row in example_rows():
        # a unique category name works as well as a full path
        label = row["label"].rsplit("/", 1)[-1] if row["label"] == SMELL else row["label"]
        sheet.append([row["text"], label])
    path = tmp_path / "history.xlsx"
    book.save(path)
    with db.session(write=False) as session:
        examples = history.category_examples_from_file(session, path, "内容", "分类")
    assert {e.label for e in examples} == {WRONG_CHARGE, LATE, SMELL}
    outcome = training.train_model(
        db, clock, ModelKind.category, examples, source=path.name, trained_by="test"
    )
    assert outcome.activated and outcome.model.source == "history.xlsx"

    sheet.append(["一条分类写错的投诉", "不存在的分类"])
    book.save(path)
    with db.session(write=False) as session, pytest.raises(InvalidInput, match="不存在的分类"):
        history.category_examples_from_file(session, path, "内容", "分类")
    with db.session(write=False) as session, pytest.raises(InvalidInput, match="缺少列"):
        history.category_examples_from_file(session, path, "text", "分类")


def test_the_api_analyses_the_text_before_its_write_transaction(client, agent, db, monkeypatch):
    """The slow part of triage runs once, outside the transaction that holds the write lock."""
    calls: list[str] = []
    original = service.analyze

    def counting(session, text, **kwargs):
        calls.append(text)
        return original(session, text, **kwargs)

    monkeypatch.setattr(service, "analyze", counting)
    body = {
        "channel": "api",
        "customer": {"name": "王女士", "phone": "13700000000"},
        "content": "被重复扣费了",
    }
    response = client.post("/api/v1/complaints", headers=agent, json=body)
    assert response.status_code == 201, response.text
    assert calls == ["被重复扣费了"]  # by the preparer; the listener reused its analysis
    with db.session(write=False) as session:
        result = session.get(TriageResult, response.json()["id"])
        assert result is not None and result.applied_source == "rule"
