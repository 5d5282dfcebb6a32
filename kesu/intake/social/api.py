"""JSON routes: the signed webhook of each source, the sources (admins), the mentions queue.

The webhook ``POST /api/v1/intake/social/{code}`` is public (no session): it is authenticated
by its signature. Its order of work keeps the write lock short and refusals cheap: rate limit
per source and client address → the source (read) → signature and timestamp → rate limit per
source (signed deliveries only, so forged ones cannot use up a source's budget) → JSON →
mapping → replay check (read) → detection (read) → one write transaction (mention, complaint,
counters). A refused delivery writes nothing but a counter and the source's last error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kesu.accounts.models import User
from kesu.accounts.permissions import PUBLIC, Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.clock import Clock
from kesu.complaints import registration
from kesu.db import Database
from kesu.errors import InvalidInput, KesuError
from kesu.intake.social import service
from kesu.intake.social.models import SocialSource
from kesu.triage.service import detect
from kesu.web import ratelimit
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, SettingsDep, actor_for
from kesu.web.params import Code, Id

router = APIRouter(prefix="/api/v1/intake/social", tags=["social"])
Before = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=200)]
MentionStatus = Literal["pending", "complaint", "converted", "dismissed", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SourceIn(_Strict):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=1, max_length=128)
    platform: str = Field(min_length=1, max_length=16)
    mapping: dict[str, Any] = Field(max_length=len(service.TARGETS))
    is_active: bool = True


class SourcePatch(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    platform: str | None = Field(default=None, min_length=1, max_length=16)
    mapping: dict[str, Any] | None = Field(default=None, max_length=len(service.TARGETS))
    is_active: bool | None = None


class DismissIn(_Strict):
    reason: str = Field(min_length=1, max_length=500)


# -- sources (admins) ----------------------------------------------------------------------------


@router.get("/examples", dependencies=[Needs(Permission.admin)])
def list_examples() -> list[dict[str, Any]]:
    """Example mappings for the common platforms (a starting point for a new source)."""
    return service.examples()


@router.get("/sources", dependencies=[Needs(Permission.admin)])
def list_sources(session: ReadSession, settings: SettingsDep) -> list[dict[str, Any]]:
    rows = session.scalars(select(SocialSource).order_by(SocialSource.code))
    return [service.source_out(r, settings.base_url) for r in rows]


@router.post("/sources", status_code=status.HTTP_201_CREATED)
def create_source(
    body: SourceIn,
    db: DatabaseDep,
    clock: ClockDep,
    settings: SettingsDep,
    user: Annotated[User, NeedsW(Permission.admin)],
) -> dict[str, Any]:
    """Creates a source; the answer carries its signing ``secret``, shown this once."""
    with db.session() as session:
        source = service.create_source(
            session,
            clock,
            actor_for(user),
            code=body.code,
            name=body.name,
            platform=body.platform,
            mapping=body.mapping,
            is_active=body.is_active,
        )
        session.commit()
        return {**service.source_out(source, settings.base_url), "secret": source.secret}


@router.get("/sources/{source_id}", dependencies=[Needs(Permission.admin)])
def get_source(source_id: Id, session: ReadSession, settings: SettingsDep) -> dict[str, Any]:
    return service.source_out(service.get_source(session, source_id), settings.base_url)


@router.patch("/sources/{source_id}")
def update_source(
    source_id: Id,
    body: SourcePatch,
    db: DatabaseDep,
    clock: ClockDep,
    settings: SettingsDep,
    user: Annotated[User, NeedsW(Permission.admin)],
) -> dict[str, Any]:
    with db.session() as session:
        source = service.get_source(session, source_id)
        service.update_source(
            session, clock, actor_for(user), source, body.model_dump(exclude_unset=True)
        )
        session.commit()
        return service.source_out(source, settings.base_url)


@router.post("/sources/{source_id}/rotate-secret")
def rotate_secret(
    source_id: Id,
    db: DatabaseDep,
    clock: ClockDep,
    settings: SettingsDep,
    user: Annotated[User, NeedsW(Permission.admin)],
) -> dict[str, Any]:
    """A new signing secret (shown this once); the old one stops working at once."""
    with db.session() as session:
        source = service.get_source(session, source_id)
        secret = service.rotate_secret(session, clock, actor_for(user), source)
        session.commit()
        return {**service.source_out(source, settings.base_url), "secret": secret}


# -- the mentions queue --------------------------------------------------------------------------


@router.get("/mentions", dependencies=[Needs(Permission.mention_review)])
def list_mentions(
    session: ReadSession,
    status_: Annotated[MentionStatus | None, Query(alias="status")] = "pending",
    source: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    before: Before = None,
) -> dict[str, Any]:
    """The posts that came in, newest first (``status=pending``, the default: the review
    queue; ``any``: every post), with the number of posts in each status."""
    shown = None if status_ in (None, "any") else status_
    rows, next_before = service.mentions(session, shown, source, limit, before)
    numbers = service.complaint_numbers(session, rows)
    return {
        "counts": service.status_counts(session),
        "items": [service.mention_out(m, numbers.get(m.complaint_id or 0)) for m in rows],
        "next_before": next_before,
    }


@router.get("/mentions/{mention_id}", dependencies=[Needs(Permission.mention_review)])
def get_mention(mention_id: Id, session: ReadSession) -> dict[str, Any]:
    mention = service.get_mention(session, mention_id)
    numbers = service.complaint_numbers(session, [mention])
    return service.mention_out(mention, numbers.get(mention.complaint_id or 0))


@router.post("/mentions/{mention_id}/convert")
def convert_mention(
    mention_id: Id,
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, NeedsW(Permission.mention_review)],
) -> dict[str, Any]:
    """Registers a pending mention as a complaint; 409 when it was already reviewed."""
    with db.session() as session:
        mention = service.get_mention(session, mention_id)
        complaint = service.convert(session, clock, user, mention)
        session.commit()
        return {
            "mention": service.mention_out(mention, complaint.number),
            "complaint": {"id": complaint.id, "number": complaint.number},
        }


@router.post("/mentions/{mention_id}/dismiss")
def dismiss_mention(
    mention_id: Id,
    body: DismissIn,
    db: DatabaseDep,
    clock: ClockDep,
    user: Annotated[User, NeedsW(Permission.mention_review)],
) -> dict[str, Any]:
    with db.session() as session:
        mention = service.get_mention(session, mention_id)
        service.dismiss(session, clock, user, mention, body.reason)
        session.commit()
        return service.mention_out(mention)


# -- the webhook ---------------------------------------------------------------------------------


@router.post(
    "/{code}",
    dependencies=[PUBLIC],
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "parameters": [
            {"name": "X-Kesu-Timestamp", "in": "header", "schema": {"type": "string"}},
            {"name": "X-Kesu-Signature", "in": "header", "schema": {"type": "string"}},
            {"name": "X-Kesu-Delivery", "in": "header", "schema": {"type": "string"}},
        ],
    },
)
async def deliver(request: Request, code: Code) -> JSONResponse:
    """A post from a source, signed: ``X-Kesu-Timestamp`` (Unix seconds, within ±5 minutes)
    and ``X-Kesu-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``;
    optional ``X-Kesu-Delivery`` (the sender's delivery id). 201 with the new mention (and
    complaint, when the detection says it is one); a replay of the same post or delivery id
    answers 200 with the first result and creates nothing."""
    limits = ratelimit.limits_of(request)
    address = ratelimit.address_key(ratelimit.client_address(request, limits.trusted))
    _hit(limits.window("social_address", "rate_limit_social"), f"{code}|{address}")
    body = await request.body()
    state = request.app.state

    def signed() -> None:  # the source's own budget counts signed deliveries only
        _hit(limits.window("social", "rate_limit_social"), code)

    answer, status_code = await run_in_threadpool(
        receive, state.db, state.clock, code, request.headers, body, signed
    )
    return JSONResponse(answer, status_code=status_code)


def _hit(window: ratelimit.MovingWindow, key: str) -> None:
    wait = window.hit([key])
    if wait is not None:
        raise ratelimit.RateLimited(wait)


def receive(
    db: Database,
    clock: Clock,
    code: str,
    headers: Any,
    body: bytes,
    signed: Callable[[], None] | None = None,
) -> tuple[Any, int]:
    """The webhook's work (in a pool thread): see the module's docstring. ``signed`` is
    called once the signature is good (the source's rate limit)."""
    with db.session(write=False) as session:
        source = service.source_info(session, code)
    try:
        service.verify(source.secret, headers, body, clock.now())
    except service.BadSignature as exc:
        _refused(db, clock, source.id, "bad_signature", exc)
        raise
    if signed is not None:
        signed()
    try:
        delivery = service.delivery_id(headers)
        post = service.extract(source.mapping, service.parse_body(body), body)
    except InvalidInput as exc:
        _refused(db, clock, source.id, "invalid", exc)
        raise
    with db.session(write=False) as session:
        earlier = service.existing(session, source.id, post.external_id, delivery)
        if earlier is None:
            found = detect(session, registration_text(post))
    if earlier is not None:
        return _replay(db, clock, source.id, earlier.id), 200
    prepared = None
    if found.is_complaint:
        prepared = registration.prepare(db, service.complaint_data(source.platform, post))
    with db.session() as session:
        try:
            mention = service.accept(
                session,
                clock,
                source,
                post,
                delivery,
                is_complaint=found.is_complaint,
                score=found.confidence,
                method=found.source,
                prepared=prepared,
            )
            session.commit()
            mention_id: int | None = mention.id
        except IntegrityError:
            # A concurrent delivery of the same post committed first: answer with its result.
            session.rollback()
            mention_id = None
    if mention_id is None:
        with db.session(write=False) as session:
            earlier = service.existing(session, source.id, post.external_id, delivery)
        if earlier is None:
            raise service.DeliveryConflict()
        return _replay(db, clock, source.id, earlier.id), 200
    with db.session(write=False) as session:
        return _answer(session, mention_id, replayed=False), 201


def registration_text(post: service.Post) -> str:
    return f"{post.title}\n{post.content}" if post.title else post.content


def _refused(db: Database, clock: Clock, source_id: int, kind: str, exc: KesuError) -> None:
    with db.session() as session:
        service.reject(session, clock, source_id, kind, exc.message)
        session.commit()


def _replay(db: Database, clock: Clock, source_id: int, mention_id: int) -> dict[str, Any]:
    with db.session() as session:
        service.replayed(session, clock, source_id)
        session.commit()
    with db.session(write=False) as session:
        return _answer(session, mention_id, replayed=True)


def _answer(session: Any, mention_id: int, *, replayed: bool) -> dict[str, Any]:
    mention = service.get_mention(session, mention_id)
    numbers = service.complaint_numbers(session, [mention])
    out = service.mention_out(mention, numbers.get(mention.complaint_id or 0))
    return _jsonable(
        {
            "result": "complaint" if mention.complaint_id else "mention",
            "replayed": replayed,
            "mention": out,
            "complaint": (
                {"id": mention.complaint_id, "number": out["complaint_number"]}
                if mention.complaint_id
                else None
            ),
        }
    )


def _jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)
