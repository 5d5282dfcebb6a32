"""Pages: /knowledge (search, list by kind and category), /knowledge/{id} (article, versions,
votes, workflow), the editor (new / edit), and the complaint page's card (``panel``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from kesu.accounts.models import User
from kesu.accounts.permissions import PageNeeds, PageNeedsW
from kesu.accounts.roles import Permission, can
from kesu.complaints.access import get_complaint_for_user
from kesu.complaints.models import Complaint, Stage
from kesu.errors import KesuError, NotFound
from kesu.knowledge import service
from kesu.knowledge.models import Article
from kesu.knowledge.service import ArticleData, Hit
from kesu.taxonomy.models import Category
from kesu.taxonomy.service import category_tree
from kesu.web.csrf import CheckedForm, text
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, WriteSession, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import ComplaintRef, Id, QueryId, form_int
from kesu.web.templating import flash, redirect, render

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)

ReaderPage = Annotated[User, PageNeeds(Permission.complaint_read)]
ReaderPageW = Annotated[User, PageNeedsW(Permission.complaint_read)]
EditorPage = Annotated[User, PageNeeds(Permission.knowledge_edit)]
EditorPageW = Annotated[User, PageNeedsW(Permission.knowledge_edit)]


def _labels() -> dict[str, Any]:
    return {
        "kinds": {k: _(v) for k, v in service.KINDS.items()},
        "statuses": {k: _(v) for k, v in service.STATUSES.items()},
    }


def _paths(session: Session) -> dict[int, str]:
    return {c.id: c.path for c in category_tree(session)}


@router.get("/knowledge")
def index(
    request: Request,
    session: ReadSession,
    user: ReaderPage,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    category: QueryId = None,
    status: Annotated[str, Query(max_length=16)] = "",
    before: QueryId = None,
) -> Response:
    kind = kind if kind in service.KINDS else ""
    status = status if status in service.visible_statuses(user) else ""
    hits: list[Hit] = []
    articles: list[Article] = []
    if q.strip():
        hits = service.find(session, user, q, kind=kind or None, category_id=category)
    else:
        articles = service.list_articles(
            session,
            user,
            kind=kind or None,
            category_id=category,
            status=status or None,
            before=before,
        )
    return render(
        request,
        "knowledge/index.html",
        {
            **_labels(),
            "q": q,
            "kind": kind,
            "category": category,
            "status": status,
            "hits": hits,
            "articles": articles,
            "categories": category_tree(session),
            "paths": _paths(session),
            "may_edit": service.may_edit(user),
            "next_before": articles[-1].id if len(articles) == 20 else None,
        },
    )


def _form_data(form: FormData) -> ArticleData:
    def words(name: str) -> list[str]:
        raw = text(form, name, 2000).replace("，", ",").replace("\n", ",")
        return [w.strip() for w in raw.split(",") if w.strip()]

    return ArticleData(
        kind=text(form, "kind", 16),
        title=text(form, "title", 201),
        body=text(form, "body", 50_001),
        category_id=form_int(text(form, "category", 12), "category_id"),
        tags=words("tags"),
        product_models=words("product_models"),
        error_codes=words("error_codes"),
    )


def _editor(
    request: Request,
    session: Session,
    article: Article | None,
    values: dict[str, Any] | None = None,
    error: KesuError | None = None,
    status_code: int = 200,
) -> Response:
    if values is None and article is not None:
        values = {
            "kind": article.kind,
            "title": article.title,
            "body": article.body,
            "category": article.category_id or "",
            "tags": ", ".join(article.tags),
            "product_models": ", ".join(article.product_models),
            "error_codes": ", ".join(article.error_codes),
        }
    return render(
        request,
        "knowledge/edit.html",
        {
            **_labels(),
            "article": article,
            "v": values or {"kind": "solution"},
            "error": error,
            "categories": category_tree(session),
        },
        status_code,
    )


@router.get("/knowledge/new")
def new_page(request: Request, session: ReadSession, user: EditorPage) -> Response:
    return _editor(request, session, None)


@router.post("/knowledge/new")
def create(
    request: Request, form: CheckedForm, session: WriteSession, clock: ClockDep, user: EditorPageW
) -> Response:
    try:
        article = service.create(session, clock, actor_for(user), _form_data(form))
        session.commit()
    except KesuError as exc:
        session.rollback()
        return _editor(request, session, None, dict(form), exc, exc.status_code)
    flash(request, _("草稿已保存"))
    return redirect(f"/knowledge/{article.id}")


@router.get("/knowledge/{article_id}")
def article_page(
    request: Request,
    article_id: Id,
    session: ReadSession,
    db: DatabaseDep,
    user: ReaderPage,
) -> Response:
    article = service.get_for_user(session, user, article_id)
    with db.session() as counting:  # a short write of its own: the page is a read
        service.record_use(counting, article, "view")
        counting.commit()
    authors = {
        u.id: u.label
        for u in session.scalars(
            select(User).where(
                User.id.in_(
                    [
                        i
                        for i in (
                            article.created_by_id,
                            article.updated_by_id,
                            article.reviewed_by_id,
                        )
                        if i
                    ]
                )
            )
        )
    }
    source = (
        session.get(Complaint, article.source_complaint_id) if article.source_complaint_id else None
    )
    category = session.get(Category, article.category_id) if article.category_id else None
    return render(
        request,
        "knowledge/article.html",
        {
            **_labels(),
            "a": article,
            "category": category,
            "source": source,
            "authors": authors,
            "versions": service.versions(session, article) if service.may_edit(user) else [],
            "mine": service.my_vote(session, user, article),
            "may_edit": service.may_edit(user) and article.status != "archived",
            "may_publish": service.may_publish(user),
            "may_restore": service.may_edit(user) and article.status == "archived",
        },
    )


@router.get("/knowledge/{article_id}/edit")
def edit_page(request: Request, article_id: Id, session: ReadSession, user: EditorPage) -> Response:
    return _editor(request, session, service.get_for_user(session, user, article_id))


@router.post("/knowledge/{article_id}/edit")
def edit(
    request: Request,
    article_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: EditorPageW,
) -> Response:
    article = service.get_for_user(session, user, article_id)
    try:
        service.edit(session, clock, user, article, _form_data(form))
        session.commit()
    except KesuError as exc:
        session.rollback()
        if isinstance(exc, NotFound):
            raise
        article = service.get_for_user(session, user, article_id)
        return _editor(request, session, article, dict(form), exc, exc.status_code)
    flash(request, _("已保存"))
    return redirect(f"/knowledge/{article_id}")


@router.post("/knowledge/{article_id}/transition")
def transition(
    request: Request,
    article_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: EditorPageW,
) -> Response:
    article = service.get_for_user(session, user, article_id)
    service.transition(
        session, clock, user, article, text(form, "action", 16), text(form, "note", 500)
    )
    session.commit()
    flash(request, _("状态已更新：%(status)s") % {"status": _(service.STATUSES[article.status])})
    return redirect(f"/knowledge/{article_id}")


@router.post("/knowledge/{article_id}/vote")
def vote(
    request: Request,
    article_id: Id,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: ReaderPageW,
) -> Response:
    article = service.get_for_user(session, user, article_id)
    service.vote(session, clock, user, article, text(form, "helpful", 2) == "1")
    session.commit()
    flash(request, _("感谢您的评价"))
    return redirect(f"/knowledge/{article_id}#votes")


@router.post("/knowledge/{article_id}/used")
def used(article_id: Id, form: CheckedForm, session: WriteSession, user: ReaderPageW) -> Response:
    """Counted by kesu-knowledge.js when a reply script is inserted into a message."""
    article = service.get_for_user(session, user, article_id)
    service.record_use(session, article, "insert")
    session.commit()
    return Response(status_code=204)


@router.post("/complaints/{ref}/knowledge")
def from_complaint(
    request: Request,
    ref: ComplaintRef,
    form: CheckedForm,
    session: WriteSession,
    clock: ClockDep,
    user: EditorPageW,
) -> Response:
    """ "Turn this resolved complaint into an article": a prefilled draft, opened for editing."""
    complaint = get_complaint_for_user(session, user, ref)
    article = service.from_complaint(session, clock, user, complaint)
    session.commit()
    flash(request, _("已根据投诉生成知识草稿，请检查后提交审核"))
    return redirect(f"/knowledge/{article.id}/edit")


# ---- the complaint page's card ----------------------------------------------------------------


@dataclass
class Panel:
    hits: list[Hit] = field(default_factory=list)
    may_insert: bool = False
    may_convert: bool = False
    kinds: dict[str, str] = field(default_factory=dict)


def panel(session: Session, user: User, complaint: Complaint, may_handle: bool) -> Panel:
    """Suggested articles for the complaint page (see ``service.suggestions``)."""
    stage_category = session.scalar(select(Stage.category).where(Stage.code == complaint.stage))
    return Panel(
        hits=service.suggestions(session, user, complaint),
        may_insert=may_handle,
        may_convert=service.may_edit(user)
        and stage_category in ("resolved", "closed")
        and can(user.role, Permission.knowledge_edit),
        kinds={k: _(v) for k, v in service.KINDS.items()},
    )
