"""Request shapes of the routing API (conditions and actions are checked by the service)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

MAX_POSITION = 1_000_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RuleIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=2000)
    position: int | None = Field(default=None, ge=0, le=MAX_POSITION)
    is_active: bool = True
    events: list[str] = Field(default_factory=lambda: ["created"], max_length=20)
    conditions: dict[str, Any] = Field(default_factory=dict)
    actions: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    stop: bool = False


class RulePatch(Strict):
    version: int = Field(ge=0, le=2**31 - 1)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=2000)
    position: int | None = Field(default=None, ge=0, le=MAX_POSITION)
    is_active: bool | None = None
    events: list[str] | None = Field(default=None, max_length=20)
    conditions: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    stop: bool | None = None


class ReorderIn(Strict):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=1000)


class DryRunIn(Strict):
    complaint: str = Field(min_length=1, max_length=64, description="complaint id or number")
    event: str = Field(default="created", max_length=32)
    rule: RuleIn | None = Field(default=None, description="a draft rule to try instead")


class ProfileIn(Strict):
    skills: list[str] = Field(default_factory=list, max_length=50)
    absent_until: datetime | None = None
    shift: dict[str, Any] | None = None
    auto_assign: bool = True
