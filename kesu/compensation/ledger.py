"""The ledger: one payout row per approved request, budgets, the execution webhook
(placeholder: filled by its owner)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.compensation.models import CompensationPayout, CompensationRequest


def record_payout(
    session: Session, clock: Clock, request: CompensationRequest
) -> CompensationPayout:
    """Writes the payout of ``request`` (just approved) in the caller's transaction.

    Contract: kesu.compensation.service calls this exactly once, in the transaction that
    makes the request ``approved``; the unique ``request_id`` refuses a second payout."""
    from kesu.complaints.models import Complaint

    complaint = session.get(Complaint, request.complaint_id)
    payout = CompensationPayout(
        request_id=request.id,
        complaint_id=request.complaint_id,
        team_id=complaint.team_id if complaint is not None else None,
        method=request.method,
        amount=request.amount,
        currency=request.currency,
        standard_version=request.standard_version,
        approved_at=clock.now(),
    )
    session.add(payout)
    session.flush()
    return payout
