"""Attachments on the pages: the public form, the tracking page (token scope, internal files
hidden), the complaint page's notes and the agent's entry form."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.attachments.models import Attachment
from kesu.complaints.models import Complaint, ComplaintEvent
from tests.attachments.conftest import HTML_AS_JPG, blob_files, pdf, png
from tests.web.conftest import csrf_of, hidden

FORM = {"name": "李先生", "phone": "13900000001", "content": "快递送到时外箱破损，屏幕碎了"}


def _rows(db) -> list[Attachment]:
    with db.session(write=False) as session:
        return list(session.scalars(select(Attachment).order_by(Attachment.id)))


def _submit(browser, files):
    page = browser.get("/submit").text
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page
    data = {"csrf_token": csrf_of(page), "form_key": hidden(page, "form_key"), **FORM}
    return browser.post(
        "/submit", data=data, files=[("files", f) for f in files], follow_redirects=False
    )


def test_public_form_attaches_a_photo_shown_on_the_tracking_page(browser, db, settings):
    response = _submit(browser, [("破损.jpg", png(), "image/jpeg")])
    assert response.status_code == 303, response.text
    token = response.headers["location"].split("/t/")[1].split("?")[0]
    page = browser.get(f"/t/{token}").text
    [row] = _rows(db)
    assert row.visibility == "public" and row.source == "customer"
    assert f"/t/{token}/files/{row.id}/thumbnail" in page and "破损.jpg" in page
    thumb = browser.get(f"/t/{token}/files/{row.id}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    got = browser.get(f"/t/{token}/files/{row.id}")
    assert got.status_code == 200 and got.content == png()
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"


def test_a_refused_file_on_the_form_creates_nothing(browser, db, settings):
    response = _submit(browser, [("photo.jpg", HTML_AS_JPG, "image/jpeg")])
    assert response.status_code == 422
    assert "photo.jpg" in response.text
    assert 'value="李先生"' in response.text  # what was typed is kept
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0
    assert _rows(db) == [] and blob_files(settings) == []


def test_another_complaints_token_and_internal_files_are_404(
    browser, db, clock, settings, make_complaint, signed_in
):
    first = make_complaint()
    second = make_complaint("另一件事")
    client = signed_in("agent1")
    page = client.get(f"/complaints/{first.number}").text
    note = client.post(
        f"/complaints/{first.number}/note",
        data={
            "csrf_token": csrf_of(page),
            "version": str(first.version),
            "body": "内部：仓库照片",
            "public": "0",
        },
        files=[("files", ("仓库.png", png(color="blue"), "image/png"))],
        follow_redirects=False,
    )
    assert note.status_code == 303, note.text
    page = client.get(f"/complaints/{first.number}").text
    reply = client.post(
        f"/complaints/{first.number}/note",
        data={
            "csrf_token": csrf_of(page),
            "version": str(first.version),
            "body": "请看附件",
            "public": "1",
        },
        files=[("files", ("说明.pdf", pdf(), "application/pdf"))],
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    internal, public = _rows(db)
    assert internal.visibility == "internal" and public.visibility == "public"
    with db.session(write=False) as session:
        note_event = session.get(ComplaintEvent, internal.event_id)
        assert note_event.kind == "note"
    staff_page = client.get(f"/complaints/{first.number}").text
    assert "仓库.png" in staff_page and "说明.pdf" in staff_page

    tracking = browser.get(f"/t/{first.tracking_token}").text
    assert "说明.pdf" in tracking and "仓库.png" not in tracking
    assert browser.get(f"/t/{first.tracking_token}/files/{public.id}").status_code == 200
    assert browser.get(f"/t/{first.tracking_token}/files/{internal.id}").status_code == 404
    assert (
        browser.get(f"/t/{first.tracking_token}/files/{internal.id}/thumbnail").status_code == 404
    )
    assert browser.get(f"/t/{second.tracking_token}/files/{public.id}").status_code == 404
    assert browser.get(f"/t/nope/files/{public.id}").status_code == 404


def test_customer_uploads_with_a_message_on_the_tracking_page(
    browser, db, settings, make_complaint
):
    complaint = make_complaint()
    page = browser.get(f"/t/{complaint.tracking_token}").text
    response = browser.post(
        f"/t/{complaint.tracking_token}/message",
        data={"csrf_token": csrf_of(page), "body": "补充照片"},
        files=[("files", ("补充.png", png(), "image/png"))],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    [row] = _rows(db)
    with db.session(write=False) as session:
        assert session.get(ComplaintEvent, row.event_id).kind == "customer_message"
    # only a file, no words
    page = browser.get(f"/t/{complaint.tracking_token}").text
    response = browser.post(
        f"/t/{complaint.tracking_token}/message",
        data={"csrf_token": csrf_of(page), "body": ""},
        files=[("files", ("录音.pdf", pdf(), "application/pdf"))],
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert len(_rows(db)) == 2


def test_agent_entry_form_attaches_files(db, settings, signed_in):
    client = signed_in("agent1")
    page = client.get("/complaints/new").text
    assert 'enctype="multipart/form-data"' in page
    response = client.post(
        "/complaints/new",
        data={
            "csrf_token": csrf_of(page),
            "form_key": hidden(page, "form_key"),
            "channel": "phone",
            "name": "张女士",
            "phone": "13700000000",
            "content": "来电反映冰箱不制冷",
            "files_visibility": "internal",
        },
        files=[("files", ("通话.pdf", pdf(), "application/pdf"))],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    [row] = _rows(db)
    assert row.visibility == "internal" and row.source == "staff"
    assert row.uploaded_by_id is not None
