"""Keyword rules per category: the admin's own classification, which outranks the model.

A rule matches a text containing at least one ``include`` word and no ``exclude`` word
(substring match on normalised text, which suits Chinese). Its confidence is the rule's
``weight``, raised a little by each further include word found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.errors import InvalidInput, NotFound
from kesu.seeds.loader import read_seed
from kesu.taxonomy import cache as config_cache
from kesu.taxonomy.models import Category
from kesu.taxonomy.service import resolve_category
from kesu.triage.models import KeywordRule
from kesu.triage.text import normalize
from kesu.web.i18n import gettext as _

MAX_WORDS = 50
MAX_WORD_LENGTH = 32


@dataclass(frozen=True)
class Suggestion:
    """A category suggestion with where it came from ("rule" or "model") and how sure it is."""

    category_id: int
    path: str
    source: str
    confidence: float
    rule_id: int | None = None
    matched: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "category_id": self.category_id,
            "path": self.path,
            "source": self.source,
            "confidence": round(self.confidence, 4),
        }
        if self.rule_id is not None:
            data["rule_id"] = self.rule_id
            data["matched"] = list(self.matched)
        return data


@dataclass(frozen=True)
class CompiledRule:
    id: int
    category_id: int
    path: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    weight: float

    def match(self, clean_text: str) -> Suggestion | None:
        hits = tuple(word for word in self.include if word in clean_text)
        if not hits or any(word in clean_text for word in self.exclude):
            return None
        # Each further word found halves the remaining doubt: 0.9 → 0.95 → 0.975 …
        confidence = 1.0 - (1.0 - self.weight) * 0.5 ** (len(hits) - 1)
        return Suggestion(
            self.category_id, self.path, "rule", min(confidence, 0.999), self.id, hits
        )


def active_rules(session: Session) -> tuple[CompiledRule, ...]:
    """Enabled rules of active categories, compiled (cached a few seconds per process)."""

    def load() -> tuple[CompiledRule, ...]:
        rows = session.execute(
            select(KeywordRule, Category.path)
            .join(Category, Category.id == KeywordRule.category_id)
            .where(KeywordRule.is_active, Category.is_active)
            .order_by(KeywordRule.id)
        )
        return tuple(
            CompiledRule(
                rule.id,
                rule.category_id,
                path,
                tuple(normalize(w) for w in rule.include),
                tuple(normalize(w) for w in rule.exclude),
                rule.weight,
            )
            for rule, path in rows
        )

    return config_cache.cached(session, "triage_keyword_rules", load)


def match_rules(rules: tuple[CompiledRule, ...], text: str) -> list[Suggestion]:
    """Suggestions of every matching rule, the best per category, most confident first."""
    clean = normalize(text)
    best: dict[int, Suggestion] = {}
    for rule in rules:
        suggestion = rule.match(clean)
        if suggestion is None:
            continue
        known = best.get(suggestion.category_id)
        if known is None or suggestion.confidence > known.confidence:
            best[suggestion.category_id] = suggestion
    return sorted(best.values(), key=lambda s: (-s.confidence, s.path))


# --- administration -------------------------------------------------------------------------


def list_rules(session: Session) -> list[tuple[KeywordRule, str]]:
    rows = session.execute(
        select(KeywordRule, Category.path)
        .join(Category, Category.id == KeywordRule.category_id)
        .order_by(Category.path, KeywordRule.id)
    )
    return [(rule, path) for rule, path in rows]


def get_rule(session: Session, rule_id: int) -> KeywordRule:
    rule = session.get(KeywordRule, rule_id)
    if rule is None:
        raise NotFound(_("关键词规则 %(id)s 不存在") % {"id": rule_id})
    return rule


def save_rule(
    session: Session,
    clock: Clock,
    *,
    category: str | int,
    include: list[str],
    exclude: list[str] | None = None,
    weight: float = 0.9,
    is_active: bool = True,
    note: str = "",
    rule_id: int | None = None,
    actor: Actor | None = None,
) -> KeywordRule:
    """Creates a rule, or replaces rule ``rule_id``; every field is checked before writing.
    With ``actor`` (an admin's edit, not the seed) the change is audited."""
    target = resolve_category(session, category)
    include_words = _checked_words(include, "include", required=True)
    exclude_words = _checked_words(exclude or [], "exclude", required=False)
    if set(include_words) & set(exclude_words):
        raise InvalidInput(
            _("同一个词不能既包含又排除"),
            field="exclude",
        )
    if not 0.0 < weight <= 1.0:
        raise InvalidInput(_("权重须大于 0、不超过 1"), field="weight")
    now = clock.now()
    rule = get_rule(session, rule_id) if rule_id is not None else None
    if rule is None:
        rule = KeywordRule(created_at=now)
        session.add(rule)
    rule.category_id = target.id
    rule.include = include_words
    rule.exclude = exclude_words
    rule.weight = float(weight)
    rule.is_active = is_active
    rule.note = note
    rule.updated_at = now
    session.flush()
    if actor is not None:
        action = "triage_rule.update" if rule_id is not None else "triage_rule.create"
        record_audit(session, clock, actor, action, "triage_rule", rule.id, _audited(rule))
    config_cache.clear()
    return rule


def delete_rule(
    session: Session, rule_id: int, *, clock: Clock | None = None, actor: Actor | None = None
) -> None:
    rule = get_rule(session, rule_id)
    if clock is not None and actor is not None:
        record_audit(
            session, clock, actor, "triage_rule.delete", "triage_rule", rule_id, _audited(rule)
        )
    session.delete(rule)
    session.flush()
    config_cache.clear()


def _audited(rule: KeywordRule) -> dict[str, Any]:
    keys = ("category_id", "include", "exclude", "weight", "is_active", "note")
    return {key: getattr(rule, key) for key in keys}


def _label(field: str) -> str:
    return _("包含词") if field == "include" else _("排除词")


def _checked_words(words: list[str], field: str, *, required: bool) -> list[str]:
    clean = list(dict.fromkeys(normalize(w) for w in words if normalize(w)))
    if required and not clean:
        raise InvalidInput(_("%(field)s 至少需要一个词") % {"field": _label(field)}, field=field)
    if len(clean) > MAX_WORDS:
        raise InvalidInput(
            _("%(field)s 最多 %(max)d 个词") % {"field": _label(field), "max": MAX_WORDS},
            field=field,
        )
    if any(not ch.isprintable() for w in clean for ch in w):
        raise InvalidInput(_("%(field)s 含有控制字符") % {"field": _label(field)}, field=field)
    too_long = [w for w in clean if len(w) > MAX_WORD_LENGTH]
    if too_long:
        raise InvalidInput(
            _("词语过长：%(word)s（最多 %(max)d 个字符）")
            % {"word": too_long[0], "max": MAX_WORD_LENGTH},
            field=field,
        )
    return clean


def seed(session: Session, clock: Clock) -> list[str]:
    """Loads ``kesu/seeds/keyword_rules.toml`` into an empty table."""
    if session.scalar(select(func.count()).select_from(KeywordRule)):
        return []
    for row in read_seed("keyword_rules.toml").get("rule", []):
        save_rule(
            session,
            clock,
            category=row["category"],
            include=row["include"],
            exclude=row.get("exclude", []),
            weight=row.get("weight", 0.9),
            note=row.get("note", ""),
        )
    return ["triage_keyword_rules"]
