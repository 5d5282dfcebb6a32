"""Social media and public opinion: sources, their field mappings, signed deliveries, mentions.

Works inside the caller's transaction and never commits (the route, the CLI or the demo owns
the unit of work). The webhook's steps that need no lock (finding the source, checking the
signature, parsing, mapping, detection) run before its single write transaction
(``kesu/intake/social/api.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.models import User
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import registration
from kesu.complaints.enums import CHANNEL_LABELS, Channel
from kesu.complaints.models import Complaint
from kesu.complaints.numbering import LOCAL_TZ
from kesu.complaints.schemas import PHONE_PATTERN, ComplaintCreate
from kesu.errors import Conflict, InvalidInput, KesuError, NotFound
from kesu.intake.social.models import SocialDeliveryCount, SocialMention, SocialSource
from kesu.web.i18n import N_
from kesu.web.i18n import gettext as _

# What a mapping may fill; ``content`` is required.
TARGETS = ("content", "title", "author", "url", "external_id", "phone", "order_no")
REQUIRED_TARGETS = ("content",)
PLATFORMS = (
    Channel.weibo,
    Channel.douyin,
    Channel.xiaohongshu,
    Channel.kuaishou,
    Channel.heimao,
    Channel.wechat,
    Channel.social,
)
STATUSES = ("pending", "complaint", "converted", "dismissed")
RESERVED_CODES = frozenset({"sources", "mentions", "examples"})
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
# A dotted path: at most 16 keys (or list indexes) of up to 64 characters, no spaces.
PATH_RE = re.compile(r"^[^.\s]{1,64}(\.[^.\s]{1,64}){0,15}$")
SIGNATURE_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "x-kesu-signature"
TIMESTAMP_HEADER = "x-kesu-timestamp"
DELIVERY_HEADER = "x-kesu-delivery"
_PHONE = re.compile(PHONE_PATTERN)
_DELIVERY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")


class BadSignature(KesuError):
    """The delivery is not signed by the source's secret, or its timestamp is stale."""

    status_code = 401
    code = "bad_signature"


class DeliveryConflict(Conflict):
    """A concurrent write refused this delivery and no earlier result explains it: retry."""

    code = "delivery_conflict"

    def __init__(self) -> None:
        super().__init__(_("同时收到了冲突的推送，请稍后重试"))


# -- sources -------------------------------------------------------------------------------------


def examples() -> list[dict[str, Any]]:
    """The example mappings of ``data/examples.toml`` (one per common platform)."""
    raw = resources.files("kesu.intake.social.data").joinpath("examples.toml").read_text("utf-8")
    return list(tomllib.loads(raw)["source"])


def validate_mapping(mapping: Any) -> dict[str, str]:
    """The admin's mapping, checked: known targets, dotted paths, ``content`` present."""
    if not isinstance(mapping, dict):
        raise InvalidInput(_("字段映射必须是对象：kesu 字段 → JSON 路径"), field="mapping")
    clean: dict[str, str] = {}
    for target, path in mapping.items():
        if target not in TARGETS:
            raise InvalidInput(
                _("未知的映射字段：%(target)s（可选：%(targets)s）")
                % {"target": str(target)[:64], "targets": ", ".join(TARGETS)},
                field=f"mapping.{str(target)[:64]}",
            )
        if path is None or (isinstance(path, str) and not path.strip()):
            continue
        if not isinstance(path, str) or len(path) > 200 or not PATH_RE.match(path.strip()):
            raise InvalidInput(
                _("「%(target)s」的路径无效：用点分隔的键，例如 data.post.text")
                % {"target": target},
                field=f"mapping.{target}",
            )
        clean[target] = path.strip()
    for target in REQUIRED_TARGETS:
        if target not in clean:
            raise InvalidInput(
                _("字段映射必须包含「%(target)s」（帖子正文的路径）") % {"target": target},
                field=f"mapping.{target}",
            )
    return clean


def _check_code(code: str) -> str:
    if not CODE_RE.match(code) or code in RESERVED_CODES:
        raise InvalidInput(
            _("代码只能包含小写字母、数字、_ 和 -（最多 64 个字符），不能是 %(reserved)s")
            % {"reserved": "sources, mentions, examples"},
            field="code",
        )
    return code


def _check_platform(platform: str) -> str:
    if platform not in {p.value for p in PLATFORMS}:
        raise InvalidInput(
            _("未知平台：%(platform)s（可选：%(platforms)s）")
            % {"platform": platform[:32], "platforms": ", ".join(p.value for p in PLATFORMS)},
            field="platform",
        )
    return platform


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidInput(_("请填写名称（最多 128 个字符）"), field="name")
    return name


def new_secret() -> str:
    return secrets.token_hex(32)


def create_source(
    session: Session,
    clock: Clock,
    actor: Actor,
    *,
    code: str,
    name: str,
    platform: str,
    mapping: Any,
    is_active: bool = True,
) -> SocialSource:
    """A new source with a freshly generated secret (the caller shows it once)."""
    code = _check_code(code)
    if session.scalar(select(SocialSource.id).where(SocialSource.code == code)) is not None:
        raise Conflict(_("代码已被使用：%(code)s") % {"code": code}, code="duplicate", field="code")
    now = clock.now()
    source = SocialSource(
        code=code,
        name=_check_name(name),
        platform=_check_platform(platform),
        mapping=validate_mapping(mapping),
        secret=new_secret(),
        is_active=is_active,
        secret_rotated_at=now,
        last_error="",
        created_at=now,
        updated_at=now,
    )
    session.add(source)
    session.flush()
    record_audit(
        session,
        clock,
        actor,
        "social_source.create",
        "social_source",
        source.id,
        {"code": code, "platform": source.platform, "mapping": source.mapping},
    )
    return source


def update_source(
    session: Session, clock: Clock, actor: Actor, source: SocialSource, fields: dict[str, Any]
) -> SocialSource:
    changes: dict[str, Any] = {}
    checks: dict[str, Callable[[Any], Any]] = {
        "name": _check_name,
        "platform": _check_platform,
        "mapping": validate_mapping,
        "is_active": bool,
    }
    for key, value in fields.items():
        if key not in checks or value is None:
            continue
        clean = checks[key](value)
        if getattr(source, key) != clean:
            changes[key] = [getattr(source, key), clean]
            setattr(source, key, clean)
    if changes:
        source.updated_at = clock.now()
        record_audit(
            session, clock, actor, "social_source.update", "social_source", source.id, changes
        )
    return source


def rotate_secret(session: Session, clock: Clock, actor: Actor, source: SocialSource) -> str:
    """A new secret for ``source``; the old one stops working at once."""
    source.secret = new_secret()
    source.secret_rotated_at = source.updated_at = clock.now()
    record_audit(
        session, clock, actor, "social_source.rotate_secret", "social_source", source.id, {}
    )
    return source.secret


def get_source(session: Session, source_id: int) -> SocialSource:
    source = session.get(SocialSource, source_id)
    if source is None:
        raise NotFound(_("没有这个来源：%(id)s") % {"id": source_id}, field="id")
    return source


def source_out(source: SocialSource, base_url: str = "") -> dict[str, Any]:
    """A source as the API shows it: never its secret."""
    return {
        "id": source.id,
        "code": source.code,
        "name": source.name,
        "platform": source.platform,
        "mapping": dict(source.mapping or {}),
        "is_active": source.is_active,
        "webhook_url": f"{base_url.rstrip('/')}/api/v1/intake/social/{source.code}",
        "secret_rotated_at": source.secret_rotated_at,
        "last_delivery_at": source.last_delivery_at,
        "last_error": source.last_error,
        "last_error_at": source.last_error_at,
        "created_at": source.created_at,
        "updated_at": source.updated_at,
    }


# -- a delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceInfo:
    """What the webhook needs of a source, read before its write transaction."""

    id: int
    code: str
    name: str
    platform: str
    secret: str
    mapping: dict[str, str]


def source_info(session: Session, code: str) -> SourceInfo:
    source = session.scalar(select(SocialSource).where(SocialSource.code == code))
    if source is None or not source.is_active:
        raise NotFound(_("没有这个来源或已停用：%(code)s") % {"code": code[:64]}, field="code")
    return SourceInfo(
        source.id,
        source.code,
        source.name,
        source.platform,
        source.secret,
        dict(source.mapping or {}),
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Kesu-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, headers: Any, body: bytes, now: datetime) -> None:
    """Raises ``BadSignature`` unless the delivery is signed by ``secret`` within ±5 minutes
    of ``now`` (the app's clock)."""
    timestamp = str(headers.get(TIMESTAMP_HEADER) or "").strip()
    signature = str(headers.get(SIGNATURE_HEADER) or "").strip()
    if not timestamp or not signature:
        raise BadSignature(_("缺少签名头 X-Kesu-Timestamp 或 X-Kesu-Signature"))
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise BadSignature(_("X-Kesu-Timestamp 应为 Unix 秒数"))
    if abs(now.timestamp() - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        raise BadSignature(_("签名时间戳与服务器时间相差超过 5 分钟"))
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode("ascii", "replace")):
        raise BadSignature(_("签名不正确"))


def delivery_id(headers: Any) -> str | None:
    value = str(headers.get(DELIVERY_HEADER) or "").strip()
    if not value:
        return None
    if not _DELIVERY_RE.match(value):
        raise InvalidInput(
            _("X-Kesu-Delivery 应为最多 128 个可见 ASCII 字符"), field=DELIVERY_HEADER
        )
    return value


@dataclass(frozen=True)
class Post:
    """A delivery's fields after the source's mapping."""

    external_id: str
    content: str
    title: str | None = None
    author: str | None = None
    url: str | None = None
    phone: str | None = None
    order_no: str | None = None


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidInput(_("请求体不是有效的 JSON"), field="body", code="invalid_json") from None


def lookup(payload: Any, path: str) -> str | None:
    """The scalar at a dotted path (keys, or list indexes), as text; ``None`` when absent."""
    current = payload
    for key in path.split("."):
        if isinstance(current, dict):
            current = current.get(key)
        elif isinstance(current, list) and key.isascii() and key.isdigit() and len(key) < 6:
            index = int(key)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    if isinstance(current, bool) or not isinstance(current, str | int | float):
        return None
    text = str(current).strip()
    return text or None


def extract(mapping: dict[str, str], payload: Any, body: bytes) -> Post:
    """The post's fields by the mapping; ``InvalidInput`` when it finds no text."""
    found = {target: lookup(payload, path) for target, path in mapping.items()}
    content = found.get("content")
    if not content:
        raise InvalidInput(
            _("按字段映射在 %(path)s 找不到帖子正文") % {"path": mapping.get("content", "")},
            field="mapping.content",
            code="no_text",
        )
    external = found.get("external_id") or "sha256:" + hashlib.sha256(body).hexdigest()
    if len(external) > 128:
        external = "sha256:" + hashlib.sha256(external.encode()).hexdigest()
    url = found.get("url")
    if url and (len(url) > 1000 or not re.match(r"^https?://[^\s]+$", url, re.IGNORECASE)):
        url = None  # only http(s) links are kept: they are shown as links to staff
    phone = found.get("phone")
    if phone and not _PHONE.match(phone):
        phone = None
    return Post(
        external_id=external,
        content=content[:20000],
        title=(found.get("title") or "")[:200] or None,
        author=(found.get("author") or "")[:128] or None,
        url=url,
        phone=phone,
        order_no=(found.get("order_no") or "")[:64] or None,
    )


def existing(
    session: Session, source_id: int, external_id: str, delivery: str | None
) -> SocialMention | None:
    """The mention an earlier delivery of this post (or of this delivery id) created."""
    conditions = [SocialMention.external_id == external_id]
    if delivery:
        conditions.append(SocialMention.delivery_id == delivery)
    for condition in conditions:
        found = session.scalar(
            select(SocialMention).where(SocialMention.source_id == source_id, condition).limit(1)
        )
        if found is not None:
            return found
    return None


def complaint_data(platform: str, post: Post) -> ComplaintCreate:
    """The registration of a post: the author's handle is the customer's external id."""
    if post.author:
        external, name = f"{platform}:{post.author}"[:128], post.author
    else:
        external, name = f"{platform}:post:{post.external_id}"[:128], "匿名用户"
    customer: dict[str, Any] = {"name": name[:128], "external_id": external}
    if post.phone:
        customer["phone"] = post.phone
    return ComplaintCreate.model_validate(
        {
            "channel": platform,
            "customer": customer,
            "title": post.title,
            "content": post.content,
            "order_no": post.order_no,
        }
    )


def register(
    session: Session,
    clock: Clock,
    actor: Actor,
    platform: str,
    post: Post,
    prepared: dict[str, Any] | None = None,
) -> Complaint:
    """Registers the post as a complaint, keeping its URL and author on the complaint."""
    complaint, _replayed = registration.create_complaint(
        session, clock, actor, complaint_data(platform, post), prepared=prepared
    )
    extra = {"social_url": post.url, "social_author": post.author}
    complaint.custom_fields = {
        **(complaint.custom_fields or {}),
        **{k: v for k, v in extra.items() if v},
    }
    return complaint


def accept(
    session: Session,
    clock: Clock,
    source: SourceInfo,
    post: Post,
    delivery: str | None,
    *,
    is_complaint: bool,
    score: float,
    method: str,
    prepared: dict[str, Any] | None = None,
) -> SocialMention:
    """Keeps the post (a mention) and registers it as a complaint when the detection says so.
    A registration the configuration refuses (e.g. a required custom field) leaves the post
    in the review queue with the reason."""
    now = clock.now()
    mention = SocialMention(
        source_id=source.id,
        external_id=post.external_id,
        delivery_id=delivery,
        status="pending",
        title=post.title,
        content=post.content,
        author=post.author,
        url=post.url,
        phone=post.phone,
        order_no=post.order_no,
        score=round(float(score), 4),
        method=method[:16],
        note="",
        received_at=now,
    )
    if is_complaint:
        actor = Actor("system", None, source.name)
        try:
            with session.begin_nested():
                complaint = register(session, clock, actor, source.platform, post, prepared)
                session.flush()
            mention.status = "complaint"
            mention.complaint_id = complaint.id
        except KesuError as exc:
            mention.note = (_("自动登记失败：") + exc.message)[:255]
    session.add(mention)
    source_row = session.get(SocialSource, source.id)
    if source_row is not None:
        source_row.last_delivery_at = now
    count(
        session,
        source.id,
        now,
        accepted=1,
        complaints=int(mention.status == "complaint"),
        mentions=int(mention.status == "pending"),
    )
    session.flush()
    return mention


def reject(session: Session, clock: Clock, source_id: int, kind: str, reason: str) -> None:
    """Counts a refused delivery (``bad_signature`` or ``invalid``) and keeps its reason on
    the source; the body itself is never stored."""
    now = clock.now()
    session.execute(
        update(SocialSource)
        .where(SocialSource.id == source_id)
        .values(last_error=reason[:255], last_error_at=now)
    )
    count(session, source_id, now, **{kind: 1})


def replayed(session: Session, clock: Clock, source_id: int) -> None:
    count(session, source_id, clock.now(), replays=1)


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def count(session: Session, source_id: int, at: datetime, **increments: int) -> None:
    """Adds to today's counters of the source (one atomic upsert)."""
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    columns = ("accepted", "complaints", "mentions", "replays", "bad_signature", "invalid")
    values = {c: int(increments.get(c, 0)) for c in columns}
    table = SocialDeliveryCount.__table__
    stmt = dialect.insert(SocialDeliveryCount).values(
        source_id=source_id, day=local_day(at), **values
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["source_id", "day"],
        set_={c: table.c[c] + stmt.excluded[c] for c in columns if values[c]},
    )
    session.execute(stmt)


# -- the review queue ----------------------------------------------------------------------------


def get_mention(session: Session, mention_id: int) -> SocialMention:
    mention = session.get(SocialMention, mention_id)
    if mention is None:
        raise NotFound(_("没有这条舆情：%(id)s") % {"id": mention_id}, field="id")
    return mention


def _claim(session: Session, clock: Clock, user: User, mention: SocialMention, status: str) -> None:
    """Moves a pending mention to ``status`` (compare-and-set: two reviewers cannot both)."""
    result = session.execute(
        update(SocialMention)
        .where(SocialMention.id == mention.id, SocialMention.status == "pending")
        .values(status=status, reviewed_by_id=user.id, reviewed_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.refresh(mention)
        raise Conflict(
            _("这条舆情已处理（%(status)s）") % {"status": status_label(mention.status)},
            code="already_reviewed",
        )
    session.refresh(mention)


def convert(
    session: Session,
    clock: Clock,
    user: User,
    mention: SocialMention,
    prepared: dict[str, Any] | None = None,
) -> Complaint:
    """An agent makes a pending mention a complaint (linked both ways, with URL and author)."""
    _claim(session, clock, user, mention, "converted")
    post = Post(
        external_id=mention.external_id,
        content=mention.content,
        title=mention.title,
        author=mention.author,
        url=mention.url,
        phone=mention.phone,
        order_no=mention.order_no,
    )
    complaint = register(session, clock, Actor.of(user), mention.source.platform, post, prepared)
    session.flush()
    mention.complaint_id = complaint.id
    record_audit(
        session,
        clock,
        Actor.of(user),
        "mention.convert",
        "social_mention",
        mention.id,
        {"complaint": complaint.number},
    )
    return complaint


def dismiss(
    session: Session, clock: Clock, user: User, mention: SocialMention, reason: str
) -> SocialMention:
    reason = " ".join(reason.split())
    if not reason or len(reason) > 500:
        raise InvalidInput(_("请填写忽略原因（最多 500 个字符）"), field="reason")
    _claim(session, clock, user, mention, "dismissed")
    mention.dismiss_reason = reason
    record_audit(
        session,
        clock,
        Actor.of(user),
        "mention.dismiss",
        "social_mention",
        mention.id,
        {"reason": reason},
    )
    return mention


def mentions(
    session: Session,
    status: str | None,
    source_code: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> tuple[list[SocialMention], int | None]:
    """Newest first (keyset on id); returns the page and the ``before`` of the next one."""
    stmt = select(SocialMention)
    if status:
        stmt = stmt.where(SocialMention.status == status)
    if source_code:
        stmt = stmt.join(SocialSource).where(SocialSource.code == source_code)
    if before is not None:
        stmt = stmt.where(SocialMention.id < before)
    rows = list(session.scalars(stmt.order_by(SocialMention.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(SocialMention.status, func.count()).group_by(SocialMention.status)
    )
    found = {status: int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in STATUSES}


STATUS_LABELS = {
    "pending": N_("待审核"),
    "complaint": N_("已自动登记"),
    "converted": N_("已转为投诉"),
    "dismissed": N_("已忽略"),
}


def status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


def platform_label(platform: str) -> str:
    labels: dict[str, str] = {c.value: text for c, text in CHANNEL_LABELS.items()}
    return _(labels[platform]) if platform in labels else platform


def mention_out(mention: SocialMention, complaint_number: str | None = None) -> dict[str, Any]:
    return {
        "id": mention.id,
        "source": mention.source.code,
        "platform": mention.source.platform,
        "status": mention.status,
        "external_id": mention.external_id,
        "title": mention.title,
        "content": mention.content,
        "author": mention.author,
        "url": mention.url,
        "phone": mention.phone,
        "order_no": mention.order_no,
        "score": mention.score,
        "method": mention.method,
        "note": mention.note,
        "complaint_id": mention.complaint_id,
        "complaint_number": complaint_number,
        "reviewed_by": mention.reviewed_by_id,
        "reviewed_at": mention.reviewed_at,
        "dismiss_reason": mention.dismiss_reason,
        "received_at": mention.received_at,
    }


def complaint_numbers(session: Session, rows: list[SocialMention]) -> dict[int, str]:
    ids = {m.complaint_id for m in rows if m.complaint_id}
    if not ids:
        return {}
    found = session.execute(select(Complaint.id, Complaint.number).where(Complaint.id.in_(ids)))
    return {cid: number for cid, number in found}
