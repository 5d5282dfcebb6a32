"""Demo: the knowledge base alive — one resolved demo complaint turned into a published
solution (as the manager), with an agent's helpfulness vote, beside the shipped articles."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.accounts.models import User
from kesu.clock import Clock
from kesu.complaints.models import Complaint, Stage
from kesu.db import Database
from kesu.knowledge import service
from kesu.knowledge.models import Article


def show(db: Database, clock: Clock) -> int:
    """Returns the number of articles in the knowledge base afterwards."""
    with db.session() as session:
        manager = session.scalar(select(User).where(User.role == "manager").limit(1))
        agent = session.scalar(select(User).where(User.role == "agent").limit(1))
        resolved = select(Stage.code).where(Stage.category.in_(("resolved", "closed")))
        candidates = session.scalars(
            select(Complaint)
            .where(Complaint.stage.in_(resolved), Complaint.merged_into_id.is_(None))
            .order_by(Complaint.id.desc())
            .limit(50)
        )
        complaint = next((c for c in candidates if (c.outputs or {}).get("solution")), None)
        if manager is not None and complaint is not None:
            article = service.from_complaint(session, clock, manager, complaint)
            service.transition(session, clock, manager, article, "publish", "演示")
            if agent is not None:
                service.vote(session, clock, agent, article, True)
        session.commit()
        return session.scalar(select(func.count()).select_from(Article)) or 0
