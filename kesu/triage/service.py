"""Triage of complaints: what kesu makes of a text, applied at intake, and corrections.

``analyze`` is the whole pipeline on one text (keywords, emotion and risk, category
suggestions from keyword rules and the learned model, complaint detection); the admin's
"try it" box shows it as is. ``on_event`` runs it on every new complaint inside the intake
transaction, before the routing rules, so rules and SLA policies see the category, the raised
severity and the ``risk:N`` tag it sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import events, timeline
from kesu.complaints.enums import ActorKind, EventKind
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.config import get_settings
from kesu.db import Database
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.enums import SEVERITY_RANK, Severity
from kesu.taxonomy.models import Category
from kesu.triage import lexicons, registry
from kesu.triage.emotion import EmotionAssessment, assess
from kesu.triage.models import Correction, TriageResult
from kesu.triage.registry import ModelKind
from kesu.triage.rules import Suggestion, active_rules, match_rules
from kesu.triage.text import Keyword, extract_keywords, normalize
from kesu.triage.training import COMPLAINT_LABEL, complaint_text

TOP_K = 3
KEYWORDS = 10
TRIAGED = "triaged"  # timeline event kind
PREPARED_KEY = "triage"
# Risk level → the least severity a complaint gets: 媒体/监管/律师 … make it 严重 (重大 is
# left to people: an incident, a safety case confirmed by the investigation).
RISK_SEVERITY = {1: Severity.moderate, 2: Severity.serious, 3: Severity.serious}
SOURCE_LABELS = {"rule": "关键词规则", "model": "模型", "given": "提交时指定"}


@dataclass(frozen=True)
class Detection:
    """Is this text a complaint? ``source`` is "model" or "lexicon" (no model trained yet)."""

    is_complaint: bool
    confidence: float
    source: str


@dataclass(frozen=True)
class Analysis:
    text: str
    tokens: list[str]
    keywords: list[Keyword]
    emotion: EmotionAssessment
    suggestions: list[Suggestion]
    detection: Detection | None  # None: not asked for (intake has no use for it)
    model_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "normalized": self.text,
            "tokens": self.tokens,
            "keywords": [[k.word, k.weight] for k in self.keywords],
            "anger": self.emotion.anger,
            "urgency": self.emotion.urgency,
            "risk_level": self.emotion.risk_level,
            "risk_signals": [
                {"word": s.word, "category": s.category, "weight": s.weight}
                for s in self.emotion.risk_signals
            ],
            "suggestions": [s.as_dict() for s in self.suggestions],
            "is_complaint": self.detection.is_complaint if self.detection else None,
            "complaint_confidence": round(self.detection.confidence, 4) if self.detection else None,
            "detection_source": self.detection.source if self.detection else None,
            "model_id": self.model_id,
        }


def analyze(
    session: Session, text: str, *, with_tokens: bool = False, with_detection: bool = True
) -> Analysis:
    """Everything triage makes of ``text``; reads configuration, writes nothing. Intake
    skips ``with_detection`` (a registered complaint is one; the detector is for posts)."""
    lex = lexicons.current(session)
    clean = normalize(text)
    keywords = extract_keywords(text, KEYWORDS, segmenter=lex.segmenter)
    emotion = assess(text, risk_lexicon=lex.risk, emotion_lexicon=lex.emotion)
    suggestions, model_id = suggest(session, text)
    return Analysis(
        text=clean,
        tokens=lex.segmenter.cut(clean) if with_tokens else [],
        keywords=keywords,
        emotion=emotion,
        suggestions=suggestions,
        detection=detect(session, text, emotion) if with_detection else None,
        model_id=model_id,
    )


def suggest(session: Session, text: str) -> tuple[list[Suggestion], int | None]:
    """Up to three category suggestions: keyword rules first (they outrank the model), then
    the learned model's best guesses for other categories."""
    suggestions = match_rules(active_rules(session), text)[:TOP_K]
    model = registry.active_model(session, ModelKind.category)
    if model is None or len(suggestions) >= TOP_K:
        return suggestions, model.id if model else None
    paths = _active_category_ids(session)
    taken = {s.category_id for s in suggestions}
    for prediction in model.classifier.top_k([text], TOP_K)[0]:
        category_id = paths.get(prediction.label)
        if category_id is None or category_id in taken:
            continue  # a category deactivated since training, or already suggested by a rule
        suggestions.append(
            Suggestion(category_id, prediction.label, "model", prediction.confidence)
        )
        taken.add(category_id)
        if len(suggestions) >= TOP_K:
            break
    return suggestions, model.id


def detect(session: Session, text: str, emotion: EmotionAssessment | None = None) -> Detection:
    """Is ``text`` a complaint? The detection model when one is trained, else the lexicons
    (anger or risk words, or a stated wait) — a rough fallback for social-media posts."""
    model = registry.active_model(session, ModelKind.detection)
    if model is not None:
        probability = float(model.classifier.probability([text], COMPLAINT_LABEL)[0])
        return Detection(probability >= 0.5, probability, "model")
    if emotion is None:
        lex = lexicons.current(session)
        emotion = assess(text, risk_lexicon=lex.risk, emotion_lexicon=lex.emotion)
    score = max(emotion.anger, emotion.urgency, min(1.0, emotion.risk_level / 2))
    return Detection(score >= 0.4, score, "lexicon")


def _active_category_ids(session: Session) -> dict[str, int]:
    def load() -> dict[str, int]:
        rows = session.execute(select(Category.path, Category.id).where(Category.is_active))
        return {path: category_id for path, category_id in rows}

    return config_cache.cached(session, "triage_category_paths", load)


# --- at intake -------------------------------------------------------------------------------


def on_event(session: Session, clock: Clock, complaint: Complaint, event: ComplaintEvent) -> None:
    """Triage new complaints; record agents' category changes as corrections."""
    if event.kind == EventKind.created:
        triage_complaint(session, clock, complaint)
    elif event.kind == EventKind.updated and event.actor_kind == ActorKind.user:
        change = (event.data or {}).get("changes", {}).get("category")
        if change:
            record_correction(session, clock, complaint, event, change)


def prepare(db: Database, title: str, content: str) -> tuple[str, Any]:
    """The analysis of a new complaint's text, before its write transaction (an
    ``events.Preparer``): the slow part of triage then holds no lock."""
    text = complaint_text(title, content)
    with db.session(write=False) as session:
        return PREPARED_KEY, (text, _intake_analysis(session, text))


def _intake_analysis(session: Session, text: str) -> Analysis:
    return analyze(session, text, with_detection=False)


def triage_complaint(session: Session, clock: Clock, complaint: Complaint) -> TriageResult:
    """Classifies, scores and tags a new complaint (inside the intake transaction)."""
    text = complaint_text(complaint.title, complaint.content)
    prepared = session.info.get(events.PREPARED, {}).get(PREPARED_KEY)
    analysis = prepared[1] if prepared and prepared[0] == text else _intake_analysis(session, text)
    applied_source, applied_confidence = None, None
    threshold = get_settings().triage_apply_confidence
    if complaint.category_id is None and complaint.category is None:
        top = analysis.suggestions[0] if analysis.suggestions else None
        if top is not None and top.confidence >= threshold:
            category = session.get(Category, top.category_id)
            if category is not None:
                complaint.category = category
                complaint.category_id = category.id
                _raise_severity(complaint, category.default_severity)
                applied_source, applied_confidence = top.source, top.confidence
    else:
        applied_source = "given"
    risk = analysis.emotion.risk_level
    if risk:
        _raise_severity(complaint, RISK_SEVERITY[risk])
        complaint.tags = sorted({*complaint.tags, f"risk:{risk}"})
    result = _result_row(analysis, clock.now(), applied_source, applied_confidence)
    result.complaint = complaint
    session.add(result)
    if applied_source in ("rule", "model") or risk:
        timeline.record(
            session,
            clock,
            Actor(ActorKind.system, None, "智能分诊"),
            complaint,
            TRIAGED,
            body=_summary(complaint, applied_source, applied_confidence, analysis),
            data={
                "category": complaint.category.path if complaint.category else None,
                "source": applied_source,
                "confidence": applied_confidence,
                "risk_level": risk,
            },
        )
    return result


def _raise_severity(complaint: Complaint, floor: str | None) -> None:
    """Raises (never lowers) the severity, and the priority with it."""
    from kesu.complaints.registration import priority_for

    if not floor or SEVERITY_RANK[Severity(floor)] <= SEVERITY_RANK[Severity(complaint.severity)]:
        return
    complaint.severity = Severity(floor)
    complaint.priority = min(complaint.priority, priority_for(floor, complaint.customer.tier))


def _summary(
    complaint: Complaint, source: str | None, confidence: float | None, analysis: Analysis
) -> str:
    parts = []
    if source in ("rule", "model") and complaint.category is not None:
        parts.append(
            f"自动分类为「{complaint.category.path}」({SOURCE_LABELS[source]}，置信度 "
            f"{confidence:.0%})"
        )
    if analysis.emotion.risk_level:
        words = "、".join(s.word for s in analysis.emotion.risk_signals)
        parts.append(f"风险等级 {analysis.emotion.risk_level}（{words}）")
    return "；".join(parts)


def result_for(session: Session, complaint_id: int) -> TriageResult | None:
    return session.get(TriageResult, complaint_id)


# --- corrections -----------------------------------------------------------------------------


def record_correction(
    session: Session,
    clock: Clock,
    complaint: Complaint,
    event: ComplaintEvent,
    change: list[str | None],
) -> Correction:
    """An agent set another category: remember it for the next training."""
    old_path, new_path = change
    ids = _active_category_ids(session)
    result = session.get(TriageResult, complaint.id) if complaint.id else None
    first = (result.suggestions or [None])[0] if result is not None else None
    correction = Correction(
        complaint_id=complaint.id,
        from_category_id=ids.get(old_path) if old_path else None,
        to_category_id=complaint.category_id if new_path else None,
        suggested_category_id=first["category_id"] if first else None,
        suggested_source=first["source"] if first else None,
        actor_id=event.actor_id,
        at=clock.now(),
    )
    session.add(correction)
    return correction


def backfill(db: Database, clock: Clock, batch: int = 500, limit: int | None = None) -> int:
    """Stores the triage of complaints that have none (imported, or from before triage), in
    batches. Only records what triage reads — keywords, emotion, risk, suggestions — and
    changes nothing on the complaints themselves. Returns how many were done."""
    done = 0
    last_id = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        with db.session() as session:
            rows = session.execute(
                select(Complaint.id, Complaint.title, Complaint.content)
                .outerjoin(TriageResult, TriageResult.complaint_id == Complaint.id)
                .where(TriageResult.complaint_id.is_(None), Complaint.id > last_id)
                .order_by(Complaint.id)
                .limit(size)
            ).all()
            if not rows:
                break
            now = clock.now()
            for complaint_id, title, content in rows:
                text = complaint_text(title, content)
                result = _result_row(_intake_analysis(session, text), now)
                result.complaint_id = complaint_id
                session.add(result)
            last_id = rows[-1][0]
            done += len(rows)
    return done


def _result_row(
    analysis: Analysis,
    now: datetime,
    applied_source: str | None = None,
    applied_confidence: float | None = None,
) -> TriageResult:
    """What is stored of an analysis (the caller sets the complaint)."""
    data = analysis.as_dict()
    return TriageResult(
        keywords=data["keywords"],
        anger=data["anger"],
        urgency=data["urgency"],
        risk_level=data["risk_level"],
        risk_signals=data["risk_signals"],
        suggestions=data["suggestions"],
        applied_source=applied_source,
        applied_confidence=applied_confidence,
        model_id=analysis.model_id,
        created_at=now,
        updated_at=now,
    )
