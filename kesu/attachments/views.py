"""The customer's downloads, by the complaint's tracking token: only that complaint's public
attachments (another complaint's token, an internal attachment, an unknown id: 404)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from kesu.accounts.permissions import PUBLIC
from kesu.attachments import service, web
from kesu.attachments.models import Attachment
from kesu.complaints.models import Complaint
from kesu.errors import NotFound
from kesu.web.deps import ReadSession
from kesu.web.i18n import gettext as _
from kesu.web.i18n import locale_dependency
from kesu.web.params import Id, Token
from kesu.web.ratelimit import rate_limit

router = APIRouter(dependencies=[Depends(locale_dependency)], include_in_schema=False)
LIMITED = [PUBLIC, rate_limit("files", "rate_limit_lookup")]


def _public_file(session: ReadSession, token: str, attachment_id: int) -> Attachment:
    complaint = (
        session.scalar(select(Complaint).where(Complaint.tracking_token == token))
        if 0 < len(token) <= 64
        else None
    )
    if complaint is None:
        raise NotFound(_("没有找到这条投诉，请检查链接是否完整。"), field="token")
    row = service.get_for_complaint(session, complaint, attachment_id, public_only=True)
    if row is None:
        raise web.not_found(attachment_id)
    return row


@router.get("/t/{token}/files/{attachment_id}", dependencies=LIMITED)
def customer_download(token: Token, attachment_id: Id, session: ReadSession) -> Response:
    return web.download(_public_file(session, token, attachment_id))


@router.get("/t/{token}/files/{attachment_id}/thumbnail", dependencies=LIMITED)
def customer_thumbnail(token: Token, attachment_id: Id, session: ReadSession) -> Response:
    return web.thumbnail(_public_file(session, token, attachment_id))
