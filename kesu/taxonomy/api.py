"""JSON routes for categories, stages and custom form fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.complaints.access import require
from kesu.taxonomy import service
from kesu.taxonomy.enums import Severity
from kesu.taxonomy.models import Category
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW, actor_for
from kesu.web.params import TIME_LIMIT_MAX, Code

router = APIRouter(prefix="/api/v1", tags=["configuration"])


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=64)
    name_en: str = Field(default="", max_length=128)
    parent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    default_severity: Severity | None = None
    team: str | None = Field(default=None, max_length=64)


class StagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=64)
    name_en: str | None = Field(default=None, max_length=128)
    public_name: str | None = Field(default=None, max_length=64)
    time_limit_minutes: int | None = Field(default=None, gt=0, le=TIME_LIMIT_MAX)
    allowed_roles: list[str] | None = None
    required_outputs: list[dict[str, str]] | None = None
    back_to: list[str] | None = None


def category_out(c: Category) -> dict[str, Any]:
    return {
        "id": c.id,
        "parent_id": c.parent_id,
        "level": c.level,
        "name": c.name,
        "name_en": c.name_en,
        "path": c.path,
        "default_severity": c.default_severity,
        "team": c.team_code,
    }


@router.get("/categories", dependencies=[Needs(Permission.signed_in)])
def list_categories(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    return [category_out(c) for c in service.category_tree(session)]


@router.post(
    "/categories", dependencies=[NeedsW(Permission.admin)], status_code=status.HTTP_201_CREATED
)
def create_category(
    body: CategoryIn, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        category = service.create_category(
            session,
            clock,
            actor_for(user),
            name=body.name,
            parent_id=body.parent_id,
            name_en=body.name_en,
            default_severity=body.default_severity.value if body.default_severity else None,
            team_code=body.team,
        )
        session.commit()
        return category_out(category)


@router.get("/stages", dependencies=[Needs(Permission.signed_in)])
def list_stages(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    return [
        {
            "code": s.code,
            "name": s.name,
            "name_en": s.name_en,
            "position": s.position,
            "category": s.category,
            "allowed_roles": s.allowed_roles,
            "time_limit_minutes": s.time_limit_minutes,
            "required_outputs": s.required_outputs,
            "back_to": s.back_to,
        }
        for s in service.active_stages(session)
    ]


@router.patch("/stages/{code}", dependencies=[NeedsW(Permission.admin)])
def update_stage(
    code: Code, body: StagePatch, db: DatabaseDep, user: UserW, clock: ClockDep
) -> dict[str, Any]:
    with db.session() as session:
        require(user, Permission.admin)
        stage = service.update_stage(
            session, clock, actor_for(user), code, body.model_dump(exclude_unset=True)
        )
        session.commit()
        return {
            "code": stage.code,
            "name": stage.name,
            "time_limit_minutes": stage.time_limit_minutes,
            "allowed_roles": stage.allowed_roles,
            "required_outputs": stage.required_outputs,
            "back_to": stage.back_to,
        }


@router.get("/form-fields", dependencies=[Needs(Permission.signed_in)])
def list_form_fields(session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    return [
        {
            "code": f.code,
            "label": f.label,
            "label_en": f.label_en,
            "type": f.field_type,
            "options": f.options,
            "required": f.required,
        }
        for f in service.active_form_fields(session)
    ]
