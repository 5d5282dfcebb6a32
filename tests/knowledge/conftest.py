"""Knowledge tests: articles written through the service, page fixtures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kesu.accounts.service import SYSTEM
from kesu.knowledge import service
from kesu.knowledge.models import Article
from kesu.knowledge.service import ArticleData
from tests.web.conftest import (  # noqa: F401
    browser,
    fresh_configuration_cache,
    make_complaint,
    signed_in,
)


@pytest.fixture
def write(db: Any, clock: Any) -> Callable[..., Article]:
    """``write(title, body, status="published", kind="solution", category=path)``."""

    def make(
        title: str,
        body: str,
        *,
        status: str = "published",
        kind: str = "solution",
        category: str | None = None,
        **more: Any,
    ) -> Article:
        from sqlalchemy import select

        from kesu.taxonomy.models import Category

        with db.session() as session:
            category_id = (
                session.scalar(select(Category.id).where(Category.path == category))
                if category
                else None
            )
            article = service.create(
                session,
                clock,
                SYSTEM,
                ArticleData(kind=kind, title=title, body=body, category_id=category_id, **more),
                status="published" if status == "published" else "draft",
            )
            if status == "review":
                article.status = "review"
            session.commit()
            session.refresh(article)
            session.expunge(article)
            return article

    return make
