"""Request shapes of the triage admin API, and the JSON shapes of its rows.

The inputs only bound sizes and types; what makes a rule or a word valid (known category,
weights, word lengths) is checked by ``rules`` and ``lexicons``, so the API and the pages
answer the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from kesu.triage.lexicons import LexiconName
from kesu.triage.models import KeywordRule, LexiconEntry, TriageModel, TriageResult

Word = Annotated[str, Field(max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RuleIn(_Strict):
    category: (
        Annotated[int, Field(ge=1, le=2**31 - 1)]
        | Annotated[str, Field(min_length=1, max_length=255)]
    ) = Field(description="category path (账务/扣费异常/重复扣费) or id")
    include: list[Word] = Field(max_length=200, description="any of these words matches")
    exclude: list[Word] = Field(default_factory=list, max_length=200)
    weight: float = Field(default=0.9, gt=0, le=1, description="confidence of a match, in (0, 1]")
    is_active: bool = True
    note: str = Field(default="", max_length=2000)


class LexiconEntryIn(_Strict):
    lexicon: LexiconName
    word: str = Field(max_length=200)
    category: str = Field(
        default="", max_length=32, description="risk: media, regulator …; emotion: anger …"
    )
    weight: float = Field(default=1.0, ge=0, le=3, description="risk 1–3, emotion 0–1")


class AnalyzeIn(_Strict):
    text: str = Field(min_length=1, max_length=20000)


def rule_out(rule: KeywordRule, path: str) -> dict[str, Any]:
    return {
        "id": rule.id,
        "category_id": rule.category_id,
        "category": path,
        "include": rule.include,
        "exclude": rule.exclude,
        "weight": rule.weight,
        "is_active": rule.is_active,
        "note": rule.note,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def entry_out(entry: LexiconEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "lexicon": entry.lexicon,
        "category": entry.category,
        "word": entry.word,
        "weight": entry.weight,
        "updated_at": entry.updated_at,
    }


def model_out(model: TriageModel) -> dict[str, Any]:
    """A model version with its scores; never the payload."""
    return {
        "id": model.id,
        "kind": model.kind,
        "version": model.version,
        "status": model.status,
        "source": model.source,
        "trained_by": model.trained_by,
        "n_train": model.n_train,
        "n_test": model.n_test,
        "n_corrections": model.n_corrections,
        "labels": model.labels,
        "macro_f1": model.metrics.get("macro_f1"),
        "accuracy": model.metrics.get("accuracy"),
        "metrics": model.metrics,
        "created_at": model.created_at,
        "activated_at": model.activated_at,
    }


def result_out(result: TriageResult, number: str) -> dict[str, Any]:
    return {
        "complaint": number,
        "keywords": result.keywords,
        "anger": result.anger,
        "urgency": result.urgency,
        "risk_level": result.risk_level,
        "risk_signals": result.risk_signals,
        "suggestions": result.suggestions,
        "applied_source": result.applied_source,
        "applied_confidence": result.applied_confidence,
        "model_id": result.model_id,
        "created_at": result.created_at,
    }
