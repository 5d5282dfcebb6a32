"""Attachments tests: a data directory per test (the blobs live there), sample files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from kesu.attachments import service
from kesu.config import Settings
from kesu.db import Database


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    made = Settings(
        database_url=db.url,
        environment="test",
        base_url="http://testserver",
        data_dir=tmp_path / "data",
    )
    service.configure(made)
    return made


def blob_files(settings: Settings) -> list[Path]:
    root = settings.resolved_data_dir() / "attachments"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def png(width: int = 64, height: int = 48, color: str = "red", exif: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "CameraMaker"  # Make
        data[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # GPSInfo: latitude
        image.save(out, "JPEG", exif=data)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Override PartName="/word/document.xml" ContentType="'
            'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"'
            "/></Types>",
        )
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


HTML_AS_JPG = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"


# The page fixtures (a browser-like client, signing in, a complaint made through the service).
from tests.web.conftest import (  # noqa: E402
    browser,
    fresh_configuration_cache,
    make_complaint,
    signed_in,
)

__all__ = ["browser", "fresh_configuration_cache", "make_complaint", "signed_in"]
