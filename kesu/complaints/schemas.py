"""Request and response shapes of the complaint API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from kesu.attachments.schemas import AttachmentOut
from kesu.complaints.enums import Channel, Remedy, Tier
from kesu.taxonomy.enums import Severity
from kesu.web.i18n import gettext as _

PHONE_PATTERN = r"^\+?[0-9][0-9\- ]{4,19}$"
ORDER_VALUE_MAX = Decimal("10000000.00")
# The order's value in CNY: a decimal string ("199.90") or a number, two places at most.
OrderValue = Annotated[
    Decimal | None,
    Field(
        default=None,
        ge=0,
        le=ORDER_VALUE_MAX,
        max_digits=10,
        decimal_places=2,
        allow_inf_nan=False,
        description="order value in CNY, a decimal string such as 199.90",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    email: EmailStr | None = None
    tier: Tier = Tier.standard
    region: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _reachable(self) -> CustomerIn:
        if not (self.phone or self.email or self.external_id):
            raise ValueError(_("请至少填写电话、邮箱或外部编号"))
        return self


class ComplaintCreate(Strict):
    channel: Channel
    customer: CustomerIn
    title: str | None = Field(default=None, max_length=200)
    content: str = Field(min_length=1, max_length=20000)
    order_no: str | None = Field(default=None, max_length=64)
    product: str | None = Field(default=None, max_length=128)
    order_value: OrderValue = None
    remedy: Remedy | None = None
    category: str | None = Field(default=None, max_length=255, description="category path or id")
    severity: Severity | None = None
    priority: int | None = Field(default=None, ge=1, le=4)
    tags: list[str] = Field(default_factory=list, max_length=20)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    received_at: datetime | None = None
    # The customer's language: the messages kesu sends them are in it (kesu.notify.customer).
    locale: Literal["zh_CN", "en"] | None = None

    @field_validator("received_at")
    @classmethod
    def _received_at(cls, value: datetime | None) -> datetime | None:
        # The range against now (KESU_RECEIVED_AT_MAX_AGE_DAYS) is checked at registration;
        # here only what no clock can make valid: a naive time, or one UTC cannot hold.
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(_("受理时间需要带时区"))
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError(_("受理时间超出可表示的范围")) from None
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned = [t.strip() for t in tags if t.strip()]
        if any(len(t) > 32 for t in cleaned):
            raise ValueError("a tag has at most 32 characters")
        return sorted(set(cleaned))


class ComplaintUpdate(Strict):
    version: int = Field(ge=0, le=2**31 - 1)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=255)
    severity: Severity | None = None
    priority: int | None = Field(default=None, ge=1, le=4)
    tags: list[str] | None = Field(default=None, max_length=20)
    custom_fields: dict[str, Any] | None = None
    order_value: OrderValue = None
    reason: str | None = Field(default=None, max_length=500)


class TransitionIn(BaseModel):
    """``{"to", "version", …outputs}``; outputs may also be nested under ``outputs``."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    to: str = Field(min_length=1, max_length=32)
    version: int = Field(ge=0, le=2**31 - 1)
    comment: str | None = Field(default=None, max_length=5000)
    message: str | None = Field(
        default=None, max_length=5000, description="text sent to the customer"
    )
    outputs: dict[str, str] = Field(default_factory=dict)

    def all_outputs(self) -> dict[str, Any]:
        merged: dict[str, Any] = dict(self.model_extra or {})
        merged.update(self.outputs)
        return merged


class NoteIn(Strict):
    body: str = Field(min_length=1, max_length=20000)
    public: bool = Field(default=False, description="true: a message the customer sees")
    version: int | None = Field(default=None, ge=0, le=2**31 - 1)


class AssignIn(Strict):
    version: int = Field(ge=0, le=2**31 - 1)
    team_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    team: str | None = Field(
        default=None, max_length=64, description="team code, instead of team_id"
    )
    assignee_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    assignee: str | None = Field(
        default=None, max_length=64, description="username, instead of assignee_id"
    )
    reason: str | None = Field(default=None, max_length=500)


class ReopenIn(Strict):
    version: int = Field(ge=0, le=2**31 - 1)
    reason: str = Field(min_length=1, max_length=2000)


class MergeIn(Strict):
    version: int = Field(ge=0, le=2**31 - 1)
    into: str = Field(
        min_length=1, max_length=64, description="id or number of the complaint to keep"
    )
    reason: str | None = Field(default=None, max_length=500)


class CustomerResponseIn(Strict):
    accept: bool
    comment: str | None = Field(default=None, max_length=5000)


class Ref(BaseModel):
    id: int
    code: str | None = None
    name: str


class ComplaintOut(BaseModel):
    id: int
    number: str
    title: str
    content: str
    channel: str
    locale: str = "zh_CN"
    stage: str
    stage_name: str
    severity: str
    priority: int
    category: dict[str, Any] | None
    team: dict[str, Any] | None
    assignee: dict[str, Any] | None
    customer: dict[str, Any]
    order_no: str | None
    product: str | None
    order_value: str | None = Field(default=None, description="decimal string, CNY")
    remedy: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    outputs: dict[str, Any]
    tracking_url: str
    received_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None
    overdue: bool
    repeat_of: int | None
    # 重复投诉: linked to an earlier complaint of the same customer (kesu.complaints.repeats).
    is_repeat: bool
    merged_into: int | None
    reopen_count: int
    version: int = Field(ge=0, le=2**31 - 1)
    created_at: datetime
    updated_at: datetime
    attachments: list[AttachmentOut] = Field(default_factory=list)


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    next_cursor: str | None


class EventOut(BaseModel):
    id: int
    at: datetime
    kind: str
    visibility: str
    actor_kind: str
    actor: str
    body: str
    # The event as a sentence in the caller's language (``body`` is the text as recorded).
    text: str
    data: dict[str, Any]
