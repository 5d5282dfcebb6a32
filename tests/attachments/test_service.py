"""The service (contract 2): add/check, limits, dedup, thumbnails, the orphan sweep."""

from __future__ import annotations

import io
import os
import time

import pytest
from PIL import Image
from sqlalchemy import func, select

from kesu.attachments import service
from kesu.attachments.detect import detect
from kesu.attachments.models import Attachment
from kesu.complaints.models import Complaint, ComplaintEvent
from kesu.errors import InvalidInput
from tests.attachments.conftest import (
    EXE,
    HTML_AS_JPG,
    blob_files,
    docx,
    pdf,
    plain_zip,
    png,
)
from tests.flows import create


def test_detects_by_content_not_name():
    assert detect(png()).content_type == "image/png"
    assert detect(pdf()).content_type == "application/pdf"
    assert detect(docx()).extension == "docx"
    assert detect(plain_zip()) is None
    assert detect(HTML_AS_JPG) is None
    assert detect(EXE) is None
    assert detect(b"") is None


def test_check_names_the_file():
    service.check("photo.jpg", png())
    with pytest.raises(InvalidInput) as caught:
        service.check("evil.jpg", HTML_AS_JPG)
    assert "evil.jpg" in caught.value.message
    assert caught.value.code == "forbidden_type"


def test_add_stores_once_by_hash_and_records_the_timeline(db, clock, settings):
    complaint_id = create(db, clock)
    data = png()
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        first = service.add(
            session,
            clock,
            complaint,
            filename="a.png",
            data=data,
            visibility="public",
            source="customer",
        )
        second = service.add(
            session,
            clock,
            complaint,
            filename="b.png",
            data=data,
            visibility="internal",
            source="staff",
        )
        assert first.sha256 == second.sha256
        assert first.thumbnail_sha256 is not None
    # the original and one thumbnail, each stored once
    assert len(blob_files(settings)) == 2
    with db.session(write=False) as session:
        kinds = session.scalars(
            select(ComplaintEvent.visibility)
            .where(
                ComplaintEvent.complaint_id == complaint_id,
                ComplaintEvent.kind == "attachment_added",
            )
            .order_by(ComplaintEvent.id)
        ).all()
        assert kinds == ["public", "internal"]
        row = session.scalar(select(Attachment).where(Attachment.filename == "a.png"))
        assert row.event_id is not None


def test_thumbnail_has_no_exif(db, clock, settings):
    prepared = service.prepare("gps.jpg", png(800, 600, exif=True))
    assert Image.open(io.BytesIO(png(800, 600, exif=True))).getexif()
    thumb = Image.open(io.BytesIO(prepared.thumbnail))
    assert max(thumb.size) <= 320
    assert not thumb.getexif()
    assert "exif" not in thumb.info


def test_too_large_and_too_many(db, clock, settings):
    settings.attachment_max_bytes = 100
    with pytest.raises(InvalidInput) as caught:
        service.check("big.png", png(200, 200))
    assert caught.value.code == "too_large"
    settings.attachment_max_bytes = 10_000_000
    settings.attachments_per_complaint = 1
    complaint_id = create(db, clock)
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        service.add(
            session,
            clock,
            complaint,
            filename="1.pdf",
            data=pdf(),
            visibility="public",
            source="customer",
        )
        with pytest.raises(InvalidInput) as caught:
            service.add(
                session,
                clock,
                complaint,
                filename="2.png",
                data=png(),
                visibility="public",
                source="customer",
            )
        assert "2.png" in caught.value.message
    with db.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 1
    assert len(blob_files(settings)) == 1


def test_decompression_bomb_is_refused(settings):
    image = Image.new("1", (12000, 12000))
    out = io.BytesIO()
    image.save(out, "PNG")
    with pytest.raises(InvalidInput) as caught:
        service.check("bomb.png", out.getvalue())
    assert caught.value.code == "bad_image"


def test_sweep_removes_only_old_orphans(db, clock, settings):
    storage = service.current_storage()
    orphan = storage.put(b"%PDF-1.4 orphan")
    complaint_id = create(db, clock)
    with db.session() as session:
        complaint = session.get(Complaint, complaint_id)
        kept = service.add(
            session,
            clock,
            complaint,
            filename="k.pdf",
            data=pdf(),
            visibility="public",
            source="customer",
        )
    with db.session() as session:
        assert service.sweep_orphans(session) == 0  # young: maybe an upload in flight
        for path in blob_files(settings):
            old = time.time() - 7200
            os.utime(path, (old, old))
        assert service.sweep_orphans(session) == 1
    assert not storage.exists(orphan)
    assert storage.exists(kept.sha256)


def test_office_zips_are_verified():
    import zipfile

    def office(content_type: str, folder: str, extra: str | None = None) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr(
                "[Content_Types].xml", f'<Types><Override ContentType="{content_type}"/></Types>'
            )
            archive.writestr(f"{folder}main.xml", "<x/>")
            if extra:
                archive.writestr(extra, b"\x00")
        return out.getvalue()

    sheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    assert detect(office(sheet, "xl/")).extension == "xlsx"
    assert detect(office(sheet, "word/")) is None  # declared a sheet, carries no xl/
    assert detect(office(sheet, "xl/", "xl/vbaProject.bin")) is None  # macros
    macro = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    assert detect(office(macro, "xl/")) is None
    assert detect(b"PK\x03\x04" + b"\x00" * 100) is None  # a broken zip
