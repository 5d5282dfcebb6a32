"""The knowledge base's rules: writing, the workflow, versions, search, suggestions, votes.

Services never commit (the route or command owns the transaction). Every change writes an
audit row and, for content, an ``ArticleVersion`` row (who wrote what, when) and the search
tokens in the same transaction.

Workflow: draft → review → published → archived (review → draft when sent back, archived →
draft to revive). ``knowledge.edit`` writes and submits; ``knowledge.publish`` reviews,
publishes and archives (and may publish a draft directly). An edit of a published article by
a publisher is published at once as the next version; by an editor without ``knowledge.publish``
it goes back to review. Staff without ``knowledge.edit`` see published articles only: in
lists, search, suggestions, the article page and the API (anything else is a 404).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import User
from kesu.accounts.roles import Permission, can
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints.models import Complaint, Stage
from kesu.errors import Conflict, Forbidden, InvalidInput, NotFound
from kesu.knowledge import search
from kesu.knowledge.models import Article, ArticleVersion, Vote
from kesu.privacy.masking import mask_text
from kesu.taxonomy.models import Category
from kesu.triage.text import content_words
from kesu.web.i18n import gettext as _


def N_(message: str) -> str:
    return message


KINDS: dict[str, str] = {
    "solution": N_("解决方案"),
    "script": N_("话术"),
    "compensation": N_("赔付政策"),
    "law": N_("法规"),
    "product": N_("产品知识"),
}
STATUSES: dict[str, str] = {
    "draft": N_("草稿"),
    "review": N_("待审核"),
    "published": N_("已发布"),
    "archived": N_("已归档"),
}
DATA_FILE = Path(__file__).parent / "data" / "articles.toml"
MAX_LIST = 50
SUGGESTIONS = 5
SUGGEST_TOKENS = 8
SUGGEST_POOL = 300  # suggestions rank the newest 300 matches (search: search.POOL)


@dataclass
class ArticleData:
    """What an author writes (validated at the edge; checked again here)."""

    kind: str
    title: str
    body: str
    category_id: int | None = None
    tags: list[str] | None = None
    product_models: list[str] | None = None
    error_codes: list[str] | None = None


def may_edit(user: User) -> bool:
    return can(user.role, Permission.knowledge_edit)


def may_publish(user: User) -> bool:
    return can(user.role, Permission.knowledge_publish)


def visible_statuses(user: User) -> tuple[str, ...]:
    return tuple(STATUSES) if may_edit(user) else ("published",)


def _clean_list(values: list[str] | None, field: str) -> list[str]:
    out = list(dict.fromkeys(v.strip() for v in values or [] if v and v.strip()))
    if len(out) > 30 or any(len(v) > 64 for v in out):
        raise InvalidInput(_("最多 30 项，每项不超过 64 个字符"), field=field)
    return out


def _validate(session: Session, data: ArticleData) -> ArticleData:
    if data.kind not in KINDS:
        raise InvalidInput(_("未知的知识类型"), field="kind")
    title, body = data.title.strip(), data.body.strip()
    if not title or len(title) > 200:
        raise InvalidInput(_("标题不能为空，且不超过 200 个字符"), field="title")
    if not body or len(body) > 50_000:
        raise InvalidInput(_("正文不能为空，且不超过 50000 个字符"), field="body")
    if data.category_id is not None and session.get(Category, data.category_id) is None:
        raise InvalidInput(_("没有这个分类"), field="category_id")
    return ArticleData(
        kind=data.kind,
        title=title,
        body=body,
        category_id=data.category_id,
        tags=_clean_list(data.tags, "tags"),
        product_models=_clean_list(data.product_models, "product_models"),
        error_codes=_clean_list(data.error_codes, "error_codes"),
    )


def tokens_of(article: Article) -> list[str]:
    """The indexed tokens: title, tags, product models, error codes, body, and the category
    marker (suggestions filter by category inside the index)."""
    extra = " ".join([*article.tags, *article.product_models, *article.error_codes])
    tokens = search.index_tokens(article.title, extra, article.body)
    if article.category_id:
        tokens.append(search.category_marker(article.category_id))
    return tokens


def _reindex(session: Session, article: Article) -> None:
    tokens = tokens_of(article)
    article.search_tokens = search.joined(tokens)
    session.flush()
    search.store(session, article.id, tokens)


def _fields(article: Article) -> dict[str, Any]:
    return {
        "kind": article.kind,
        "category_id": article.category_id,
        "tags": article.tags,
        "product_models": article.product_models,
        "error_codes": article.error_codes,
    }


def _record_version(
    session: Session, clock: Clock, actor: Actor, article: Article, action: str, note: str = ""
) -> None:
    seq = (
        session.scalar(
            select(func.max(ArticleVersion.seq)).where(ArticleVersion.article_id == article.id)
        )
        or 0
    )
    session.add(
        ArticleVersion(
            article_id=article.id,
            seq=seq + 1,
            version=article.version,
            status=article.status,
            action=action,
            title=article.title,
            body=article.body,
            fields=_fields(article),
            note=note[:500],
            author_id=actor.user_id,
            author_label=actor.label,
            created_at=clock.now(),
        )
    )
    record_audit(
        session,
        clock,
        actor,
        f"knowledge.{action}",
        "knowledge_article",
        article.id,
        {"status": article.status, "version": article.version, "title": article.title},
    )


def _publish(article: Article, user_id: int | None, clock: Clock) -> None:
    article.status = "published"
    article.version += 1
    article.reviewed_by_id = user_id
    article.published_at = clock.now()


def create(
    session: Session,
    clock: Clock,
    actor: Actor,
    data: ArticleData,
    *,
    source_complaint_id: int | None = None,
    status: str = "draft",
    seed_key: str | None = None,
) -> Article:
    clean = _validate(session, data)
    now = clock.now()
    article = Article(
        kind=clean.kind,
        status="draft",
        title=clean.title,
        body=clean.body,
        category_id=clean.category_id,
        tags=clean.tags or [],
        product_models=clean.product_models or [],
        error_codes=clean.error_codes or [],
        version=0,
        source_complaint_id=source_complaint_id,
        seed_key=seed_key,
        created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    if status == "published":
        _publish(article, actor.user_id, clock)
    _reindex(session, article)
    _record_version(session, clock, actor, article, "create")
    return article


def edit(
    session: Session, clock: Clock, user: User, article: Article, data: ArticleData
) -> Article:
    """Saves new content. A published article: a new published version (publisher) or back to
    review (editor). An archived one must be revived first."""
    if not may_edit(user):
        raise Forbidden(_("您的角色无权编辑知识库"), code="forbidden")
    if article.status == "archived":
        raise Conflict(_("已归档的文章不能编辑，请先恢复为草稿"), code="knowledge_archived")
    clean = _validate(session, data)
    article.kind = clean.kind
    article.title = clean.title
    article.body = clean.body
    article.category_id = clean.category_id
    article.tags = clean.tags or []
    article.product_models = clean.product_models or []
    article.error_codes = clean.error_codes or []
    article.updated_by_id = user.id
    article.updated_at = clock.now()
    if article.status == "published":
        if may_publish(user):
            _publish(article, user.id, clock)
        else:
            article.status = "review"
    _reindex(session, article)
    _record_version(session, clock, Actor.of(user), article, "edit")
    return article


# action: (allowed from, to, permission)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, Permission]] = {
    "submit": (("draft",), "review", Permission.knowledge_edit),
    "publish": (("draft", "review"), "published", Permission.knowledge_publish),
    "reject": (("review",), "draft", Permission.knowledge_publish),
    "archive": (("published", "review", "draft"), "archived", Permission.knowledge_publish),
    "restore": (("archived",), "draft", Permission.knowledge_edit),
}


def transition(
    session: Session, clock: Clock, user: User, article: Article, action: str, note: str = ""
) -> Article:
    if action not in TRANSITIONS:
        raise InvalidInput(_("未知的操作"), field="action")
    sources, target, permission = TRANSITIONS[action]
    if not can(user.role, permission):
        raise Forbidden(
            _("您的角色无权执行此操作（需要权限 %(permission)s）")
            % {"permission": permission.value},
            code="forbidden",
        )
    if article.status not in sources:
        raise Conflict(
            _("文章当前状态为「%(status)s」，不能执行此操作")
            % {"status": _(STATUSES[article.status])},
            code="knowledge_status",
        )
    if target == "published":
        _publish(article, user.id, clock)
    else:
        article.status = target
    article.updated_at = clock.now()
    session.flush()
    _record_version(session, clock, Actor.of(user), article, action, note)
    return article


def get_for_user(session: Session, user: User, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None or article.status not in visible_statuses(user):
        raise NotFound(_("没有这篇知识文章"), field="id")
    return article


def versions(session: Session, article: Article) -> list[ArticleVersion]:
    return list(
        session.scalars(
            select(ArticleVersion)
            .where(ArticleVersion.article_id == article.id)
            .order_by(ArticleVersion.seq.desc())
        )
    )


def list_articles(
    session: Session,
    user: User,
    *,
    kind: str | None = None,
    category_id: int | None = None,
    status: str | None = None,
    before: int | None = None,
    limit: int = 20,
) -> list[Article]:
    """Newest first, keyset by id (``before``: the last id of the previous page)."""
    allowed = visible_statuses(user)
    query = select(Article).where(Article.status.in_([status] if status else allowed))
    if status and status not in allowed:
        return []
    if kind:
        query = query.where(Article.kind == kind)
    if category_id:
        query = query.where(Article.category_id == category_id)
    if before:
        query = query.where(Article.id < before)
    return list(session.scalars(query.order_by(Article.id.desc()).limit(min(limit, MAX_LIST))))


@dataclass
class Hit:
    article: Article
    rank: float
    title: Markup
    snippet: Markup
    reasons: tuple[str, ...] = ()


def _status_filter(user: User) -> tuple[str, dict[str, object]]:
    statuses = visible_statuses(user)
    names = {f"s{i}": s for i, s in enumerate(statuses)}
    return "a.status IN (" + ", ".join(f":{n}" for n in names) + ")", dict(names)


def find(
    session: Session,
    user: User,
    q: str,
    *,
    kind: str | None = None,
    category_id: int | None = None,
    limit: int = 20,
) -> list[Hit]:
    """Articles matching every word of ``q``, best first (bm25 / ts_rank), highlighted."""
    tokens = search.query_tokens(q)
    where, params = _status_filter(user)
    if kind:
        where += " AND a.kind = :kind"
        params["kind"] = kind
    if category_id:
        where += " AND a.category_id = :category"
        params["category"] = category_id
    ranked = search.matching_ids(
        session, tokens, where=where, params=params, limit=min(limit, MAX_LIST)
    )
    return _hits(session, ranked, tokens)


def _hits(
    session: Session,
    ranked: list[tuple[int, float]],
    tokens: list[str],
    reasons: dict[int, tuple[str, ...]] | None = None,
) -> list[Hit]:
    rows = {
        a.id: a
        for a in session.scalars(select(Article).where(Article.id.in_([i for i, _ in ranked])))
    }
    return [
        Hit(
            article=rows[i],
            rank=rank,
            title=search.highlight(rows[i].title, tokens),
            snippet=search.highlight(rows[i].body, tokens, width=120),
            reasons=(reasons or {}).get(i, ()),
        )
        for i, rank in ranked
        if i in rows
    ]


def category_chain(session: Session, category_id: int | None) -> list[int]:
    """The category and its ancestors (three levels at most)."""
    chain: list[int] = []
    while category_id is not None and len(chain) < 5:
        chain.append(category_id)
        category_id = session.scalar(select(Category.parent_id).where(Category.id == category_id))
    return chain


def suggestion_tokens(complaint: Complaint) -> list[str]:
    """The complaint's most frequent content words (title counted twice) and its product."""
    words = content_words(complaint.title) * 2 + content_words(complaint.content[:1000])
    top = [w for w, _ in Counter(words).most_common(SUGGEST_TOKENS)]
    if complaint.product:
        top = search.query_tokens(complaint.product, limit=3) + top
    return list(dict.fromkeys(top))[:SUGGEST_TOKENS]


def suggestions(
    session: Session, user: User, complaint: Complaint, limit: int = SUGGESTIONS
) -> list[Hit]:
    """Articles for a complaint: the text's best matches in its category or an ancestor first,
    then the category's newest, then text matches elsewhere. Bounded queries on the articles
    only (the complaints table is read for this one row)."""
    chain = category_chain(session, complaint.category_id)
    tokens = suggestion_tokens(complaint)
    where, params = _status_filter(user)
    picked: dict[int, float] = {}
    reasons: dict[int, tuple[str, ...]] = {}
    if chain:
        for i, rank in search.matching_ids(
            session,
            tokens,
            where=where,
            params=params,
            limit=limit,
            any_of=True,
            pool=SUGGEST_POOL,
            categories=chain,
        ):
            picked[i], reasons[i] = rank - 1000.0, ("category", "text")
        if len(picked) < limit:
            for article_id in session.scalars(
                select(Article.id)
                .where(
                    Article.category_id.in_(chain),
                    Article.status.in_(visible_statuses(user)),
                    Article.id.notin_(list(picked) or [0]),
                )
                .order_by(Article.id.desc())
                .limit(limit - len(picked))
            ):
                picked[article_id], reasons[article_id] = -500.0, ("category",)
    if len(picked) < limit:
        for i, rank in search.matching_ids(
            session,
            tokens,
            where=where,
            params=params,
            limit=limit * 2,
            any_of=True,
            pool=SUGGEST_POOL,
        ):
            if i not in picked and len(picked) < limit:
                picked[i], reasons[i] = rank, ("text",)
    ranked = sorted(picked.items(), key=lambda item: item[1])
    return _hits(session, ranked, tokens, reasons)


def record_use(session: Session, article: Article, what: str) -> None:
    """Counts a view or an insertion (one UPDATE; no version bump, no audit)."""
    column = Article.inserts if what == "insert" else Article.views
    session.execute(update(Article).where(Article.id == article.id).values({column: column + 1}))


def vote(session: Session, clock: Clock, user: User, article: Article, helpful: bool) -> Vote:
    """One vote per user and article: a second vote replaces the first (counts follow)."""
    existing = session.scalar(
        select(Vote).where(Vote.article_id == article.id, Vote.user_id == user.id)
    )
    if existing is not None:
        if existing.helpful != helpful:
            _count(session, article, existing.helpful, -1)
            _count(session, article, helpful, +1)
            existing.helpful = helpful
            existing.created_at = clock.now()
        return existing
    row = Vote(article_id=article.id, user_id=user.id, helpful=helpful, created_at=clock.now())
    session.add(row)
    _count(session, article, helpful, +1)
    session.flush()
    return row


def _count(session: Session, article: Article, helpful: bool, delta: int) -> None:
    column = Article.helpful if helpful else Article.unhelpful
    session.execute(
        update(Article).where(Article.id == article.id).values({column: column + delta})
    )


def my_vote(session: Session, user: User, article: Article) -> bool | None:
    return session.scalar(
        select(Vote.helpful).where(Vote.article_id == article.id, Vote.user_id == user.id)
    )


OUTPUT_SECTIONS = (
    ("findings", N_("调查结论")),
    ("solution", N_("解决方案")),
    ("measures", N_("整改及预防措施")),
    ("result", N_("处理结果")),
)


def from_complaint(session: Session, clock: Clock, user: User, complaint: Complaint) -> Article:
    """A draft solution prefilled from a resolved complaint's outputs (findings, solution,
    measures, result), its category, product and tags."""
    if not may_edit(user):
        raise Forbidden(_("您的角色无权编辑知识库"), code="forbidden")
    category = session.scalar(select(Stage.category).where(Stage.code == complaint.stage))
    if category not in ("resolved", "closed"):
        raise Conflict(_("只有已解决的投诉才能整理成知识文章"), code="complaint_not_resolved")
    outputs = complaint.outputs or {}
    parts = [
        f"【{_(label)}】\n{str(outputs[code]).strip()}"
        for code, label in OUTPUT_SECTIONS
        if str(outputs.get(code) or "").strip()
    ]
    if not parts:
        raise Conflict(_("这条投诉没有可整理的处理结论"), code="complaint_no_outputs")
    data = ArticleData(
        kind="solution",
        title=complaint.title[:200],
        # Customers' phone numbers and emails stay in the complaint, not in the article.
        body=mask_text("\n\n".join(parts)),
        category_id=complaint.category_id,
        tags=list(complaint.tags or [])[:30],
        product_models=[complaint.product[:64]] if complaint.product else [],
    )
    return create(session, clock, Actor.of(user), data, source_complaint_id=complaint.id)


# ---- seeds and the index -----------------------------------------------------------------------


def seed(session: Session, clock: Clock) -> list[str]:
    """The shipped articles (data/articles.toml), published, once: a seed key already present
    is never loaded again, so an admin's edits and deletions stay."""
    with DATA_FILE.open("rb") as handle:
        rows = tomllib.load(handle)["article"]
    known = set(session.scalars(select(Article.seed_key).where(Article.seed_key.is_not(None))))
    categories = {p: i for p, i in session.execute(select(Category.path, Category.id))}
    made = 0
    system = Actor("system", None, "系统")
    for row in rows:
        if row["key"] in known:
            continue
        data = ArticleData(
            kind=row["kind"],
            title=row["title"],
            body=row["body"],
            category_id=categories.get(row.get("category", "")),
            tags=row.get("tags", []),
            product_models=row.get("product_models", []),
            error_codes=row.get("error_codes", []),
        )
        create(session, clock, system, data, status="published", seed_key=row["key"])
        made += 1
    return ["knowledge_articles"] if made else []


def reindex(session: Session, batch: int = 1000) -> int:
    """Rebuilds every article's tokens and the index (after a dictionary change)."""
    search.clear(session)
    done = 0
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(Article).where(Article.id > last).order_by(Article.id).limit(batch)
            )
        )
        if not rows:
            return done
        pairs = []
        for article in rows:
            article.search_tokens = search.joined(tokens_of(article))
            pairs.append((article.id, article.search_tokens))
        session.flush()
        search.store_many(session, pairs)
        done += len(rows)
        last = rows[-1].id
