"""Triage tables: what kesu made of each complaint, the admin's keyword rules and lexicons,
trained model versions, agents' corrections, and the similar-case index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from kesu.complaints.models import Complaint
from kesu.db import Base


class TriageResult(Base):
    """One per complaint: keywords, emotion and risk, and the category suggestions."""

    __tablename__ = "triage_results"

    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), primary_key=True
    )
    # [[word, weight], …], strongest first.
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    anger: Mapped[float] = mapped_column(Float, default=0.0)
    urgency: Mapped[float] = mapped_column(Float, default=0.0)
    risk_level: Mapped[int] = mapped_column(default=0)
    # [{"category", "word", "weight"}, …]
    risk_signals: Mapped[list[Any]] = mapped_column(default=list)
    # Up to three: [{"category_id", "path", "source": "rule"|"model", "confidence"}, …]
    suggestions: Mapped[list[Any]] = mapped_column(default=list)
    # How the complaint got its category at intake: "given" (by the customer or agent),
    # "rule", "model", or NULL (left for an agent, who sees the suggestions).
    applied_source: Mapped[str | None] = mapped_column(String(16))
    applied_confidence: Mapped[float | None] = mapped_column(Float)
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("triage_models.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # Lets intake add the row before the complaint's first flush.
    complaint: Mapped[Complaint] = relationship(lazy="select")


class KeywordRule(Base):
    """An admin's rule: a text containing any ``include`` word and no ``exclude`` word
    suggests ``category`` with confidence ``weight``. Rules outrank the learned model."""

    __tablename__ = "triage_keyword_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )
    include: Mapped[list[str]] = mapped_column(default=list)
    exclude: Mapped[list[str]] = mapped_column(default=list)
    weight: Mapped[float] = mapped_column(Float, default=0.9)
    is_active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexiconEntry(Base):
    """A word of an admin-editable lexicon.

    ``lexicon`` is ``risk`` (category: media, regulator, legal …), ``emotion`` (anger,
    urgency) or ``user_dict`` (words jieba must keep whole: products, model numbers)."""

    __tablename__ = "triage_lexicon_entries"
    __table_args__ = (UniqueConstraint("lexicon", "word"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lexicon: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="")
    word: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    updated_at: Mapped[datetime]


class TriageModel(Base):
    """A trained classifier version. Only one per ``kind`` is active: a new version replaces
    it only when it scores better on held-out data."""

    __tablename__ = "triage_models"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "category" (3-level taxonomy) or "detection" (is this text a complaint?)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    # "active", "retired" (replaced by a better one) or "rejected" (did not beat the active)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(255), default="database")
    trained_by: Mapped[str] = mapped_column(String(128), default="")
    n_train: Mapped[int] = mapped_column(default=0)
    n_test: Mapped[int] = mapped_column(default=0)
    n_corrections: Mapped[int] = mapped_column(default=0)
    labels: Mapped[list[str]] = mapped_column(default=list)
    # {"macro_f1", "accuracy", "per_class", "train_seconds", "previous": {"id", "macro_f1"}}
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]


class Correction(Base):
    """An agent changed a complaint's category: the signal the next training learns from."""

    __tablename__ = "triage_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    from_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    to_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    # What triage had suggested first, and from where ("rule" / "model").
    suggested_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    suggested_source: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    # The first model version trained with this correction; NULL: not yet used.
    used_by_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("triage_models.id", ondelete="SET NULL"), index=True
    )


class SimilarTerm(Base):
    """Inverted index of resolved complaints' keywords, for similar cases without a scan.

    A complaint's rows exist while it is resolved or closed; ``weight`` is the keyword's
    weight normalised to unit length, so summing products gives a cosine score."""

    __tablename__ = "similar_terms"
    __table_args__ = (
        Index("ix_similar_terms_category_id_term", "category_id", "term", "complaint_id"),
        Index("ix_similar_terms_complaint_id", "complaint_id"),
        {"sqlite_with_rowid": False},
    )

    term: Mapped[str] = mapped_column(String(32), primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int | None]
    weight: Mapped[float] = mapped_column(Float)
