"""The attachments API on both databases: upload, list, download; forbidden types, limits and
scope, with nothing stored when a request is refused."""

from __future__ import annotations

from sqlalchemy import func, select

from kesu.attachments.models import Attachment
from tests.attachments.conftest import EXE, HTML_AS_JPG, blob_files, docx, pdf, png
from tests.complaints.helpers import new_complaint


def _count(db) -> int:
    with db.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Attachment)) or 0


def _upload(client, headers, complaint_id, files, visibility=None):
    data = {"visibility": visibility} if visibility else {}
    return client.post(
        f"/api/v1/complaints/{complaint_id}/attachments",
        files=[("file", f) for f in files],
        data=data,
        headers=headers,
    )


def test_upload_list_download(client, agent, db, settings):
    complaint = new_complaint(client, agent)
    response = _upload(
        client,
        agent,
        complaint["id"],
        [("破损.png", png(), "image/png"), ("发票.pdf", pdf(), "application/pdf")],
        visibility="public",
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert [a["filename"] for a in made] == ["破损.png", "发票.pdf"]
    assert made[0]["content_type"] == "image/png" and made[0]["thumbnail_url"]
    assert made[1]["thumbnail_url"] is None and made[1]["visibility"] == "public"

    listed = client.get(f"/api/v1/complaints/{complaint['id']}/attachments", headers=agent)
    assert [a["id"] for a in listed.json()] == [a["id"] for a in made]
    shown = client.get(f"/api/v1/complaints/{complaint['id']}", headers=agent).json()
    assert [a["filename"] for a in shown["attachments"]] == ["破损.png", "发票.pdf"]
    page = client.get("/api/v1/complaints", headers=agent).json()
    assert page["items"][0]["attachments"][0]["id"] == made[0]["id"]
    events = client.get(f"/api/v1/complaints/{complaint['id']}/events", headers=agent).json()
    added = [e for e in events if e["kind"] == "attachment_added"]
    assert len(added) == 1 and "破损.png" in added[0]["text"]

    got = client.get(made[0]["url"], headers=agent)
    assert got.status_code == 200
    assert got.content == png()
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E7%A0%B4%E6%8D%9F.png" in disposition
    thumb = client.get(made[0]["thumbnail_url"], headers=agent)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:2] == b"\xff\xd8"
    assert (
        client.get(
            made[1]["thumbnail_url"] or made[1]["url"] + "/thumbnail", headers=agent
        ).status_code
        == 404
    )


def test_default_visibility_is_internal_and_office_is_accepted(client, agent, settings):
    complaint = new_complaint(client, agent)
    response = _upload(client, agent, complaint["id"], [("报告.docx", docx(), "text/plain")])
    assert response.status_code == 201, response.text
    assert response.json()[0]["visibility"] == "internal"
    assert response.json()[0]["content_type"].endswith("wordprocessingml.document")


def test_forbidden_types_store_nothing(client, agent, db, settings):
    complaint = new_complaint(client, agent)
    for name, data in (("photo.jpg", HTML_AS_JPG), ("setup.exe", EXE)):
        response = _upload(
            client,
            agent,
            complaint["id"],
            [("ok.png", png(), "image/png"), (name, data, "image/jpeg")],
        )
        assert response.status_code == 422, response.text
        body = response.json()
        assert name in body["detail"] and body["field"] == "file"
        assert body["code"] == "forbidden_type"
    assert _count(db) == 0
    assert blob_files(settings) == []


def test_over_the_size_limit(client, agent, db, settings):
    settings.attachment_max_bytes = 2000
    complaint = new_complaint(client, agent)
    big = pdf() + b"0" * 3000
    response = _upload(client, agent, complaint["id"], [("big.pdf", big, "application/pdf")])
    assert response.status_code == 422
    assert "big.pdf" in response.json()["detail"]
    assert response.json()["code"] == "too_large"
    assert _count(db) == 0 and blob_files(settings) == []


def test_too_many_files(client, agent, db, settings):
    complaint = new_complaint(client, agent)
    six = [(f"{i}.pdf", pdf() + bytes([i]), "application/pdf") for i in range(6)]
    response = _upload(client, agent, complaint["id"], six)
    assert response.status_code == 422 and response.json()["code"] == "too_many"
    settings.attachments_per_complaint = 3
    assert _upload(client, agent, complaint["id"], six[:3]).status_code == 201
    response = _upload(client, agent, complaint["id"], six[3:4])
    assert response.status_code == 422 and "3.pdf" in response.json()["detail"]
    assert _count(db) == 3
    assert len(blob_files(settings)) == 3


def test_out_of_scope_is_404(client, agent, make_user, db, settings):
    complaint = new_complaint(client, agent)
    made = _upload(client, agent, complaint["id"], [("a.pdf", pdf(), "application/pdf")]).json()
    # assign it to the service team, then look as an agent of another team
    lead = make_user("lead_s", "team_lead", "service")[1]
    moved = client.post(
        f"/api/v1/complaints/{complaint['id']}/assign",
        json={"team": "service", "version": complaint["version"]},
        headers=lead,
    )
    assert moved.status_code == 200, moved.text
    other = make_user("eng1", "agent", "engineering")[1]
    assert client.get(made[0]["url"], headers=other).status_code == 404
    assert (
        client.get(f"/api/v1/complaints/{complaint['id']}/attachments", headers=other).status_code
        == 404
    )
    response = _upload(client, other, complaint["id"], [("b.pdf", pdf(), "application/pdf")])
    assert response.status_code == 404
    # another complaint's id with this attachment's id
    second = new_complaint(client, agent)
    assert (
        client.get(
            f"/api/v1/complaints/{second['id']}/attachments/{made[0]['id']}", headers=agent
        ).status_code
        == 404
    )


def test_empty_upload_is_422(client, agent, settings):
    complaint = new_complaint(client, agent)
    response = client.post(
        f"/api/v1/complaints/{complaint['id']}/attachments", headers=agent, data={"x": "1"}
    )
    assert response.status_code == 422


def test_uploads_may_exceed_the_json_body_limit(client, agent, settings):
    """Attachment routes take the upload limit (files × size), not KESU_MAX_BODY_BYTES."""
    complaint = new_complaint(client, agent)
    bigger = pdf() + b"0" * (settings.max_body_bytes + 500_000)
    response = _upload(client, agent, complaint["id"], [("scan.pdf", bigger, "application/pdf")])
    assert response.status_code == 201, response.text
    assert response.json()[0]["size"] == len(bigger)
