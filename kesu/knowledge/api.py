"""JSON routes: articles with their workflow, versions, search, suggestions, votes, usage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from kesu.accounts.models import User
from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import get_complaint_for_user
from kesu.knowledge import service
from kesu.knowledge.models import Article, ArticleVersion
from kesu.knowledge.service import ArticleData, Hit
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, actor_for
from kesu.web.params import ID_MAX, ComplaintRef, Id, QueryId

router = APIRouter(tags=["knowledge"])
API = "/api/v1/knowledge"
Kind = Literal["solution", "script", "compensation", "law", "product"]
Status = Literal["draft", "review", "published", "archived"]
Word = Annotated[str, Field(min_length=1, max_length=64)]

Reader = Annotated[User, Needs(Permission.complaint_read)]
ReaderW = Annotated[User, NeedsW(Permission.complaint_read)]
EditorW = Annotated[User, NeedsW(Permission.knowledge_edit)]


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=50_000)
    category_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    tags: list[Word] = Field(default_factory=list, max_length=30)
    product_models: list[Word] = Field(default_factory=list, max_length=30)
    error_codes: list[Word] = Field(default_factory=list, max_length=30)

    def data(self) -> ArticleData:
        return ArticleData(**self.model_dump())


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["submit", "publish", "reject", "archive", "restore"]
    note: str = Field(default="", max_length=500)


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool


class UseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    what: Literal["view", "insert"]


class ArticleOut(BaseModel):
    id: int
    kind: str
    status: str
    title: str
    body: str
    category_id: int | None
    tags: list[str]
    product_models: list[str]
    error_codes: list[str]
    version: int
    source_complaint_id: int | None
    views: int
    inserts: int
    helpful: int
    unhelpful: int
    created_by_id: int | None
    updated_by_id: int | None
    reviewed_by_id: int | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class HitOut(BaseModel):
    article: ArticleOut
    rank: float
    title_html: str
    snippet_html: str
    reasons: list[str]


class VersionOut(BaseModel):
    seq: int
    version: int
    status: str
    action: str
    title: str
    body: str
    fields: dict[str, Any]
    note: str
    author_id: int | None
    author_label: str
    created_at: datetime


class VoteOut(BaseModel):
    helpful: int
    unhelpful: int
    mine: bool | None


def article_out(a: Article) -> dict[str, Any]:
    return {name: getattr(a, name) for name in ArticleOut.model_fields}


def hit_out(h: Hit) -> dict[str, Any]:
    return {
        "article": article_out(h.article),
        "rank": h.rank,
        "title_html": str(h.title),
        "snippet_html": str(h.snippet),
        "reasons": list(h.reasons),
    }


def version_out(v: ArticleVersion) -> dict[str, Any]:
    return {name: getattr(v, name) for name in VersionOut.model_fields}


@router.get(API + "/articles", response_model=list[ArticleOut])
def list_articles(
    session: ReadSession,
    user: Reader,
    kind: Kind | None = None,
    category: QueryId = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    before: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 20,
) -> list[dict[str, Any]]:
    """Newest first; ``before`` = the last id of the previous page. Staff without
    ``knowledge.edit`` see published articles only."""
    rows = service.list_articles(
        session, user, kind=kind, category_id=category, status=status_, before=before, limit=limit
    )
    return [article_out(a) for a in rows]


@router.post(API + "/articles", response_model=ArticleOut, status_code=status.HTTP_201_CREATED)
def create_article(
    body: ArticleIn, db: DatabaseDep, user: EditorW, clock: ClockDep
) -> dict[str, Any]:
    """A new draft."""
    with db.session() as session:
        article = service.create(session, clock, actor_for(user), body.data())
        session.commit()
        return article_out(article)


@router.get(API + "/articles/{article_id}", response_model=ArticleOut)
def get_article(article_id: Id, session: ReadSession, user: Reader) -> dict[str, Any]:
    return article_out(service.get_for_user(session, user, article_id))


@router.put(API + "/articles/{article_id}", response_model=ArticleOut)
def edit_article(
    article_id: Id, body: ArticleIn, db: DatabaseDep, user: EditorW, clock: ClockDep
) -> dict[str, Any]:
    """Saves new content (a published article: the next version, or back to review for an
    editor without ``knowledge.publish``)."""
    with db.session() as session:
        article = service.get_for_user(session, user, article_id)
        service.edit(session, clock, user, article, body.data())
        session.commit()
        return article_out(article)


@router.post(API + "/articles/{article_id}/transitions", response_model=ArticleOut)
def transition(
    article_id: Id, body: TransitionIn, db: DatabaseDep, user: EditorW, clock: ClockDep
) -> dict[str, Any]:
    """``submit`` (draft → review), ``publish``, ``reject`` (review → draft), ``archive``,
    ``restore`` (archived → draft). Publishing, rejecting and archiving need
    ``knowledge.publish``; a move the status does not allow is a 409."""
    with db.session() as session:
        article = service.get_for_user(session, user, article_id)
        service.transition(session, clock, user, article, body.action, body.note)
        session.commit()
        return article_out(article)


@router.get(API + "/articles/{article_id}/versions", response_model=list[VersionOut])
def list_versions(article_id: Id, session: ReadSession, user: Reader) -> list[dict[str, Any]]:
    """Every saved edition, newest first: who wrote what, when."""
    article = service.get_for_user(session, user, article_id)
    return [version_out(v) for v in service.versions(session, article)]


@router.post(API + "/articles/{article_id}/votes", response_model=VoteOut)
def vote(
    article_id: Id, body: VoteIn, db: DatabaseDep, user: ReaderW, clock: ClockDep
) -> dict[str, Any]:
    """Helpful or not: one vote per user (a second one replaces the first)."""
    with db.session() as session:
        article = service.get_for_user(session, user, article_id)
        service.vote(session, clock, user, article, body.helpful)
        session.commit()
        session.refresh(article)
        return {"helpful": article.helpful, "unhelpful": article.unhelpful, "mine": body.helpful}


@router.post(
    API + "/articles/{article_id}/uses",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
)
def use(article_id: Id, body: UseIn, db: DatabaseDep, user: ReaderW) -> None:
    """Counts a view or an insertion into a customer message."""
    with db.session() as session:
        article = service.get_for_user(session, user, article_id)
        service.record_use(session, article, body.what)
        session.commit()


@router.get(API + "/search", response_model=list[HitOut])
def search(
    session: ReadSession,
    user: Reader,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    kind: Kind | None = None,
    category: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 20,
) -> list[dict[str, Any]]:
    """Chinese full-text search (a word inside a longer phrase is found), best first, with
    highlighted title and snippet (escaped HTML, ``<mark>`` around matches)."""
    hits = service.find(session, user, q, kind=kind, category_id=category, limit=limit)
    return [hit_out(h) for h in hits]


def _suggest(session: ReadSession, user: User, ref: str) -> list[dict[str, Any]]:
    complaint = get_complaint_for_user(session, user, ref)
    return [hit_out(h) for h in service.suggestions(session, user, complaint)]


@router.get(API + "/suggestions", response_model=list[HitOut])
def suggestions(
    session: ReadSession,
    user: Reader,
    complaint: Annotated[str, Query(min_length=1, max_length=40)],
) -> list[dict[str, Any]]:
    """Articles for a complaint (its id or number): its category and ancestors, product and
    text. ``reasons`` says why each was picked (``category``, ``text``)."""
    return _suggest(session, user, complaint)


@router.get("/api/v1/complaints/{ref}/knowledge", response_model=list[HitOut])
def complaint_suggestions(
    ref: ComplaintRef, session: ReadSession, user: Reader
) -> list[dict[str, Any]]:
    """The same as ``/api/v1/knowledge/suggestions?complaint=``."""
    return _suggest(session, user, ref)


@router.post(
    "/api/v1/complaints/{ref}/knowledge",
    response_model=ArticleOut,
    status_code=status.HTTP_201_CREATED,
)
def complaint_to_article(
    ref: ComplaintRef, db: DatabaseDep, user: EditorW, clock: ClockDep
) -> dict[str, Any]:
    """Turns a resolved complaint into a draft solution article (findings, solution, measures
    and result prefilled); 409 if the complaint is not resolved or has nothing to say."""
    with db.session() as session:
        complaint = get_complaint_for_user(session, user, ref)
        article = service.from_complaint(session, clock, user, complaint)
        session.commit()
        return article_out(article)
