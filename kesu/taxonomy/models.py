from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kesu.db import Base


class Category(Base):
    """A node of the 3-level taxonomy: business module / problem type / phenomenon."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    level: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    path: Mapped[str] = mapped_column(String(255), unique=True)
    default_severity: Mapped[str | None] = mapped_column(String(16))
    team_code: Mapped[str | None] = mapped_column(String(64))
    sort: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    parent: Mapped[Category | None] = relationship(remote_side=[id])


class FormField(Base):
    """A custom field of the complaint form, defined by the admin (the form engine)."""

    __tablename__ = "form_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128))
    label_en: Mapped[str] = mapped_column(String(128), default="")
    # text | textarea | number | date | select | boolean
    field_type: Mapped[str] = mapped_column(String(16), default="text")
    options: Mapped[list[str]] = mapped_column(default=list)
    required: Mapped[bool] = mapped_column(default=False)
    public: Mapped[bool] = mapped_column(default=True)
    sort: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
