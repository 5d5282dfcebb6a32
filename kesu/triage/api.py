"""JSON routes of triage: keyword rules, lexicons and model versions (admins), the "try it"
analysis (any staff user) and a complaint's stored triage (whoever may see the complaint)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile, status
from sqlalchemy.orm import Session

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import get_complaint_for_user, require
from kesu.errors import NotFound
from kesu.taxonomy.models import Category
from kesu.triage import history, lexicons, registry, rules, service, training
from kesu.triage.lexicons import LexiconName
from kesu.triage.registry import ModelKind
from kesu.triage.schemas import (
    AnalyzeIn,
    LexiconEntryIn,
    RuleIn,
    entry_out,
    model_out,
    result_out,
    rule_out,
)
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, actor_for
from kesu.web.i18n import gettext as _
from kesu.web.params import ComplaintRef

router = APIRouter(prefix="/api/v1", tags=["triage"])
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/triage/rules", dependencies=[Needs(Permission.admin)])
def list_rules(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    require(user, Permission.admin)
    return [rule_out(rule, path) for rule, path in rules.list_rules(session)]


@router.post(
    "/triage/rules", dependencies=[NeedsW(Permission.admin)], status_code=status.HTTP_201_CREATED
)
def create_rule(body: RuleIn, db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        rule = rules.save_rule(session, clock, **body.model_dump(), actor=actor_for(user))
        out = rule_out(rule, _path(session, rule.category_id))
        session.commit()
        return out


@router.get("/triage/rules/{rule_id}", dependencies=[Needs(Permission.admin)])
def get_rule(rule_id: RowId, session: ReadSession, user: UserR) -> dict[str, Any]:
    require(user, Permission.admin)
    rule = rules.get_rule(session, rule_id)
    return rule_out(rule, _path(session, rule.category_id))


@router.put("/triage/rules/{rule_id}", dependencies=[NeedsW(Permission.admin)])
def replace_rule(
    rule_id: RowId, body: RuleIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        rule = rules.save_rule(
            session, clock, **body.model_dump(), rule_id=rule_id, actor=actor_for(user)
        )
        out = rule_out(rule, _path(session, rule.category_id))
        session.commit()
        return out


@router.delete(
    "/triage/rules/{rule_id}",
    dependencies=[NeedsW(Permission.admin)],
    status_code=status.HTTP_204_NO_CONTENT,
)
def delete_rule(rule_id: RowId, db: DatabaseDep, user: UserW, clock: ClockDep) -> None:
    with db.session() as session:
        require(user, Permission.admin)
        rules.delete_rule(session, rule_id, clock=clock, actor=actor_for(user))
        session.commit()


def _path(session: Session, category_id: int) -> str:
    category = session.get(Category, category_id)
    return category.path if category is not None else ""


@router.get("/triage/lexicon", dependencies=[Needs(Permission.admin)])
def list_lexicon(
    session: ReadSession, user: UserR, lexicon: LexiconName | None = None
) -> list[dict[str, Any]]:
    """The words of one lexicon (risk, emotion, user_dict), or of all three."""
    require(user, Permission.admin)
    return [entry_out(e) for e in lexicons.list_entries(session, lexicon)]


@router.post(
    "/triage/lexicon", dependencies=[NeedsW(Permission.admin)], status_code=status.HTTP_201_CREATED
)
def add_lexicon_entry(
    body: LexiconEntryIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    """Adds a word (or updates its category and weight when the lexicon has it already)."""
    with db.session() as session:
        require(user, Permission.admin)
        entry = lexicons.add_entry(
            session,
            clock,
            body.lexicon,
            body.word,
            body.category,
            body.weight,
            actor=actor_for(user),
        )
        out = entry_out(entry)
        session.commit()
        return out


@router.delete(
    "/triage/lexicon/{entry_id}",
    dependencies=[NeedsW(Permission.admin)],
    status_code=status.HTTP_204_NO_CONTENT,
)
def delete_lexicon_entry(entry_id: RowId, db: DatabaseDep, user: UserW, clock: ClockDep) -> None:
    with db.session() as session:
        require(user, Permission.admin)
        lexicons.delete_entry(session, entry_id, clock=clock, actor=actor_for(user))
        session.commit()


@router.get("/triage/models", dependencies=[Needs(Permission.admin)])
def list_models(
    session: ReadSession, user: UserR, kind: Annotated[ModelKind | None, Query()] = None
) -> list[dict[str, Any]]:
    """Every trained version with its held-out scores, newest first (never the payload)."""
    require(user, Permission.admin)
    return [model_out(m) for m in registry.list_models(session, kind)]


@router.post("/triage/models/train", dependencies=[NeedsW(Permission.admin)])
def train(db: DatabaseDep, user: UserW, clock: ClockDep) -> dict[str, Any]:
    """Trains a category model on the classified complaints now (this takes seconds to a
    minute); it becomes active only if it beats the active version on held-out data.
    422 when there are not enough classified complaints."""
    require(user, Permission.admin)
    # Reads the examples, trains outside any transaction, then stores the version in a short
    # write transaction of its own: a minute of training never holds the write lock.
    outcome = training.train_categories_from_database(db, clock, trained_by=user.label)
    return outcome.as_dict()


@router.post("/triage/models/import", dependencies=[NeedsW(Permission.admin)])
def import_history(
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or .xlsx of past complaints")],
    kind: Annotated[ModelKind, Form()] = ModelKind.category,
    text_column: Annotated[str, Form(min_length=1, max_length=64)] = "text",
    label_column: Annotated[str, Form(min_length=1, max_length=64)] = "label",
    complaint_label: Annotated[str, Form(min_length=1, max_length=64)] = "0",
) -> dict[str, Any]:
    """Trains a version from an exported history: labels are category paths (or unique
    category names); for ``kind=detection``, ``complaint_label`` marks the complaints."""
    require(user, Permission.admin)
    outcome = history.train_from_upload(
        db,
        clock,
        filename=file.filename or "",
        data=file.file.read(),
        kind=kind,
        text_column=text_column,
        label_column=label_column,
        complaint_label=complaint_label,
        trained_by=user.label,
    )
    return outcome.as_dict()


@router.post("/triage/analyze", dependencies=[Needs(Permission.complaint_read)])
def analyze(body: AnalyzeIn, session: ReadSession, user: UserR) -> dict[str, Any]:
    """What triage makes of a text (nothing is stored): the try-it box."""
    return service.analyze(session, body.text, with_tokens=True).as_dict()


@router.get("/complaints/{ref}/triage", dependencies=[Needs(Permission.complaint_read)])
def complaint_triage(ref: ComplaintRef, session: ReadSession, user: UserR) -> dict[str, Any]:
    """The triage stored when the complaint arrived: keywords, anger and urgency, risk,
    the category suggestions (source and confidence) and how the category was applied."""
    complaint = get_complaint_for_user(session, user, ref)
    result = service.result_for(session, complaint.id)
    if result is None:
        raise NotFound(
            _("投诉 %(number)s 没有分诊结果") % {"number": complaint.number}, field="complaint"
        )
    return result_out(result, complaint.number)
