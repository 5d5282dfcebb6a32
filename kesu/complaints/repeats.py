"""重复投诉: a new complaint by the same customer about the same matter as a recent one.

Two ways to be the same matter, checked in the registration transaction (``registration.
create_complaint``):

1. the same order number (or, without one, the same product) as one of the customer's
   complaints within the window (the rule kesu had from the start);
2. a similar text: the cosine similarity of the two texts' features (the triage tokenizer's
   content words, IDF-weighted, ``features``) at or above the threshold. A
   pair whose order numbers are both given and differ is two matters, however alike.

"The same customer" is the customer record the new complaint links to, every other customer
record with its phone, email or external id (a person who wrote once by email and once by
phone may have two records until staff merge them), and the records of the latest complaints
whose contact snapshot has its phone or email (a record staff edited since). Cheap inside the
write lock: the snapshot look-ups read at most ``SNAPSHOT_ROWS`` entries of the search
indexes ``(contact_phone, id)`` / ``(contact_email, id)`` (migration 0013), at most
``MAX_CUSTOMERS`` records, then at most ``MAX_CANDIDATES`` of their complaints received in
the window (index ``(customer_id, received_at)``), each compared on its first ``TEXT_LIMIT``
characters (10 long texts: tens of ms; the usual one or two short ones: 1-2 ms); the new
text's features can be computed before the transaction (``prepare``, an ``events.Preparer``).

The window (default ``KESU_REPEAT_WINDOW_DAYS``, 30) and the threshold are a row admins edit
(``/admin/repeats``, ``PUT /api/v1/repeats/settings``). ``repeat_rate`` counts repeats over a
period for analytics (``complaints.repeat_of_id IS NOT NULL`` is the flag).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kesu.accounts.audit import record_audit
from kesu.accounts.service import Actor
from kesu.clock import Clock
from kesu.complaints import events
from kesu.complaints.models import Complaint, Customer
from kesu.complaints.repeat_models import RepeatSettings
from kesu.complaints.schemas import CustomerIn
from kesu.config import get_settings
from kesu.errors import InvalidInput
from kesu.triage.text import _idf_table, content_words, normalize
from kesu.web.i18n import gettext as _

# Chosen on the tuning set of benchmarks/repeat_bench.py (seed 11, even-numbered topics);
# the figures reported in BENCHMARKS.md come from the held-out set (seed 29, the other topics).
DEFAULT_THRESHOLD = 0.22
MAX_CUSTOMERS = 10
MAX_CANDIDATES = 10
SNAPSHOT_ROWS = 20
TEXT_LIMIT = 500
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 1, 365
PREPARED_KEY = "repeats.features"

Features = dict[str, float]


@dataclass(frozen=True)
class RepeatConfig:
    window_days: int
    threshold: float
    saved: bool  # False: the defaults, no admin has saved settings yet


@dataclass(frozen=True)
class Match:
    earlier: Complaint
    reason: str  # "order" | "product" | "text"
    similarity: float | None


# -- text --------------------------------------------------------------------------------------


def features(text: str) -> Features:
    """The text's content words (the triage tokenizer: jieba, stop words dropped), each
    weighted by its IDF in jieba's general-corpus table, so words common in every complaint
    (处理, 希望) count little and specific ones (开机, 漏液) much.

    Chosen on the tuning set over raw word counts, binary words, character bigrams, words +
    bigrams and Jaccard (BENCHMARKS.md): the best F1, though all were within 0.04. jieba runs
    without its HMM (unknown words are not guessed): half the time, F1 0.795 instead of 0.812."""
    idf, median = _idf_table()
    words = content_words(normalize(text), hmm=False)  # no HMM guessing: twice as fast
    return {word: idf.get(word, median) for word in set(words)}


def similarity(a: Features, b: Features) -> float:
    """Cosine similarity of two weighted feature sets, 0 … 1."""
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(weight * b.get(word, 0.0) for word, weight in a.items())
    if not dot:
        return 0.0
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm


def complaint_text(title: str, content: str) -> str:
    """What is compared: the content, and the title when it says something else; at most
    ``TEXT_LIMIT`` characters (the matter is said at the start; this bounds the work)."""
    title = title.strip().rstrip("…")
    text = content if not title or title in content else f"{title}\n{content}"
    return text[:TEXT_LIMIT]


def prepare(db: Any, title: str, content: str) -> tuple[str, Any]:
    """An ``events.Preparer``: the new complaint's features, before the write transaction."""
    text = complaint_text(title, content)
    return PREPARED_KEY, (text, features(text))


def _features_of_new(session: Session, complaint: Complaint) -> Features:
    text = complaint_text(complaint.title, complaint.content)
    prepared = session.info.get(events.PREPARED, {}).get(PREPARED_KEY)
    if prepared and prepared[0] == text:
        return dict(prepared[1])
    return features(text)


# -- settings ----------------------------------------------------------------------------------


def current(session: Session) -> RepeatConfig:
    row = session.get(RepeatSettings, 1)
    if row is None:
        return RepeatConfig(get_settings().repeat_window_days, DEFAULT_THRESHOLD, False)
    return RepeatConfig(row.window_days, row.threshold, True)


def save(
    session: Session,
    clock: Clock,
    actor: Actor,
    *,
    window_days: int,
    threshold: float,
) -> RepeatConfig:
    """Sets the window and threshold (admins; audited). Applies to complaints registered
    from now on; links already made stay."""
    if not MIN_WINDOW_DAYS <= window_days <= MAX_WINDOW_DAYS:
        raise InvalidInput(
            _("时间窗口须在 %(low)d 到 %(high)d 天之间")
            % {"low": MIN_WINDOW_DAYS, "high": MAX_WINDOW_DAYS},
            field="window_days",
        )
    if not (0.05 <= threshold <= 1.0) or math.isnan(threshold):
        raise InvalidInput(_("相似度阈值须在 0.05 到 1 之间"), field="threshold")
    before = current(session)
    row = session.get(RepeatSettings, 1)
    if row is None:
        row = RepeatSettings(id=1, window_days=window_days, threshold=threshold)
        session.add(row)
    row.window_days = window_days
    row.threshold = threshold
    row.updated_at = clock.now()
    row.updated_by_id = actor.user_id
    record_audit(
        session,
        clock,
        actor,
        "repeats.settings",
        "repeat_settings",
        1,
        {
            "window_days": [before.window_days, window_days],
            "threshold": [before.threshold, threshold],
        },
    )
    return current(session)


def config_out(config: RepeatConfig) -> dict[str, Any]:
    return {
        "window_days": config.window_days,
        "threshold": config.threshold,
        "saved": config.saved,
        "default_window_days": get_settings().repeat_window_days,
        "default_threshold": DEFAULT_THRESHOLD,
    }


# -- detection ---------------------------------------------------------------------------------


def _customer_ids(session: Session, customer: Customer, given: CustomerIn) -> list[int]:
    """The linked record, the other records with one of the given identifiers, and the
    records of recent complaints whose contact snapshot has the given phone or email (a
    record staff since edited, or one made before another identifier was known)."""
    ids = [customer.id] if customer.id is not None else []  # None: a new record
    keys = [
        (Customer.external_id, given.external_id),
        (Customer.phone, given.phone),
        (Customer.email, given.email),
    ]
    wanted = [column == value for column, value in keys if value]
    if customer.id is not None and wanted:  # a new record: registration found no such record
        others = session.scalars(
            select(Customer.id).where(or_(*wanted)).order_by(Customer.id).limit(MAX_CUSTOMERS)
        )
        ids += [i for i in others if i not in ids]
    # Each a range of at most SNAPSHOT_ROWS on the search indexes (contact_phone | email, id).
    for column, value in (
        (Complaint.contact_phone, given.phone),
        (Complaint.contact_email, given.email),
    ):
        if value and len(ids) < MAX_CUSTOMERS:
            found = session.scalars(
                select(Complaint.customer_id)
                .where(column == value)
                .order_by(Complaint.id.desc())
                .limit(SNAPSHOT_ROWS)
            )
            ids += [i for i in dict.fromkeys(found) if i not in ids]
    return ids[:MAX_CUSTOMERS]


def find_earlier(session: Session, complaint: Complaint, given: CustomerIn) -> Match | None:
    """The earlier complaint this one repeats, if any (the complaint is not yet flushed)."""
    with session.no_autoflush:  # registration writes everything in one flush at commit
        customer_ids = _customer_ids(session, complaint.customer, given)
        return _find(session, complaint, customer_ids) if customer_ids else None


def _find(session: Session, complaint: Complaint, customer_ids: list[int]) -> Match | None:
    config = current(session)
    since = complaint.received_at - timedelta(days=config.window_days)
    recent = (
        select(Complaint)
        .where(
            Complaint.customer_id.in_(customer_ids),
            Complaint.received_at >= since,
            Complaint.merged_into_id.is_(None),
        )
        .order_by(Complaint.received_at.desc(), Complaint.id.desc())
    )
    same_matter = _same_matter(session, recent, complaint)
    if same_matter is not None:
        return same_matter
    candidates = list(session.scalars(recent.limit(MAX_CANDIDATES)))
    if not candidates:
        return None
    mine = _features_of_new(session, complaint)
    best: tuple[float, Complaint] | None = None
    for earlier in candidates:
        if complaint.order_no and earlier.order_no and complaint.order_no != earlier.order_no:
            continue  # two orders: two matters
        score = similarity(mine, features(complaint_text(earlier.title, earlier.content)))
        if score >= config.threshold and (best is None or score > best[0]):
            best = (score, earlier)
    if best is None:
        return None
    return Match(best[1], "text", round(best[0], 3))


def _same_matter(session: Session, recent: Any, complaint: Complaint) -> Match | None:
    if complaint.order_no:
        reason, matter = "order", Complaint.order_no == complaint.order_no
    elif complaint.product:
        reason, matter = "product", Complaint.product == complaint.product
    else:
        return None
    earlier = session.scalar(
        recent.where(matter).order_by(None).order_by(Complaint.received_at, Complaint.id).limit(1)
    )
    return Match(earlier, reason, None) if earlier is not None else None


# -- analytics ---------------------------------------------------------------------------------


def repeat_rate(
    session: Session, since: datetime, until: datetime, channel: str | None = None
) -> dict[str, Any]:
    """Complaints received in ``[since, until]`` (merged ones left out), how many were
    repeats, and the share (``None`` without complaints). A range on ``received_at``."""
    query = select(
        func.count(),
        func.count(Complaint.repeat_of_id),
    ).where(
        Complaint.received_at >= since,
        Complaint.received_at <= until,
        Complaint.merged_into_id.is_(None),
    )
    if channel:
        query = query.where(Complaint.channel == channel)
    total, repeats = session.execute(query).one()
    return {
        "since": since,
        "until": until,
        "channel": channel,
        "complaints": int(total or 0),
        "repeats": int(repeats or 0),
        "rate": round(repeats / total, 4) if total else None,
    }
