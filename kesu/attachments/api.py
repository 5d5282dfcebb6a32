"""JSON routes: upload, list and download a complaint's attachments (staff, by team scope)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import Response

from kesu.accounts.permissions import Needs, NeedsW
from kesu.accounts.roles import Permission
from kesu.attachments import service, web
from kesu.attachments.schemas import AttachmentOut
from kesu.complaints.access import get_complaint_for_user
from kesu.web.deps import ClockDep, DatabaseDep, ReadSession, UserR, UserW
from kesu.web.params import ComplaintRef, Id

router = APIRouter(prefix="/api/v1/complaints", tags=["attachments"])


@router.post(
    "/{ref}/attachments",
    dependencies=[NeedsW(Permission.complaint_handle)],
    status_code=status.HTTP_201_CREATED,
    response_model=list[AttachmentOut],
)
def upload(
    ref: ComplaintRef,
    file: Annotated[list[UploadFile], File(description="One or more files (`file` repeated).")],
    db: DatabaseDep,
    user: UserW,
    clock: ClockDep,
    visibility: Annotated[Literal["public", "internal"], Form()] = "internal",
) -> list[dict[str, Any]]:
    """Attaches files (images, PDF, Office, call recordings, video clips; checked by content).
    ``internal`` (the default) is for staff only; ``public`` shows on the tracking page.
    A forbidden type, a file over the size limit or too many files: 422 naming the file, and
    nothing is stored."""
    prepared = web.read_uploads(file)  # checked and thumbnailed before the write lock
    if not prepared:
        raise web.refuse_empty()
    with db.session() as session:
        complaint = get_complaint_for_user(session, user, ref, Permission.complaint_handle)
        rows = service.add_many(
            session,
            clock,
            complaint,
            prepared,
            visibility=visibility,
            source="staff",
            uploaded_by=user,
        )
        session.commit()
        return [web.out(r) for r in rows]


@router.get(
    "/{ref}/attachments",
    dependencies=[Needs(Permission.complaint_read)],
    response_model=list[AttachmentOut],
)
def list_(ref: ComplaintRef, session: ReadSession, user: UserR) -> list[dict[str, Any]]:
    complaint = get_complaint_for_user(session, user, ref)
    return [web.out(r) for r in service.list_for(session, complaint, public_only=False)]


@router.get(
    "/{ref}/attachments/{attachment_id}",
    dependencies=[Needs(Permission.complaint_read)],
    response_class=Response,
    responses={200: {"description": "The file, as a download.", "content": {"*/*": {}}}},
)
def download(ref: ComplaintRef, attachment_id: Id, session: ReadSession, user: UserR) -> Response:
    complaint = get_complaint_for_user(session, user, ref)
    row = service.get_for_complaint(session, complaint, attachment_id, public_only=False)
    if row is None:
        raise web.not_found(attachment_id)
    return web.download(row)


@router.get(
    "/{ref}/attachments/{attachment_id}/thumbnail",
    dependencies=[Needs(Permission.complaint_read)],
    response_class=Response,
    responses={200: {"description": "A JPEG thumbnail.", "content": {"image/jpeg": {}}}},
)
def thumbnail(ref: ComplaintRef, attachment_id: Id, session: ReadSession, user: UserR) -> Response:
    complaint = get_complaint_for_user(session, user, ref)
    row = service.get_for_complaint(session, complaint, attachment_id, public_only=False)
    if row is None:
        raise web.not_found(attachment_id)
    return web.thumbnail(row)
