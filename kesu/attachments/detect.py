"""What a file is, from its bytes (never its name or the client's Content-Type).

``filetype`` reads the magic numbers; Office Open XML files (docx/xlsx/pptx) are then opened
as zips and must declare the right main part in ``[Content_Types].xml`` and carry their
folder (``word/``, ``xl/``, ``ppt/``); macro-enabled variants and zips with a VBA project are
refused. Anything not in ``ALLOWED`` is refused.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import filetype


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extension: str
    group: str  # image | pdf | office | audio | video

    @property
    def is_image(self) -> bool:
        return self.group == "image"


_K = FileKind
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

ALLOWED: dict[str, FileKind] = {
    k.content_type: k
    for k in (
        _K("image/jpeg", "jpg", "image"),
        _K("image/png", "png", "image"),
        _K("image/gif", "gif", "image"),
        _K("image/webp", "webp", "image"),
        _K("image/heic", "heic", "image"),
        _K("application/pdf", "pdf", "pdf"),
        _K(DOCX, "docx", "office"),
        _K(XLSX, "xlsx", "office"),
        _K(PPTX, "pptx", "office"),
        _K("application/msword", "doc", "office"),
        _K("application/vnd.ms-excel", "xls", "office"),
        _K("application/vnd.ms-powerpoint", "ppt", "office"),
        _K("audio/mpeg", "mp3", "audio"),
        _K("audio/mp4", "m4a", "audio"),
        _K("audio/aac", "aac", "audio"),
        _K("audio/x-wav", "wav", "audio"),
        _K("audio/amr", "amr", "audio"),
        _K("video/mp4", "mp4", "video"),
        _K("video/x-m4v", "m4v", "video"),
        _K("video/quicktime", "mov", "video"),
        _K("video/webm", "webm", "video"),
        _K("video/3gpp", "3gp", "video"),
    )
}

# The main part each Office Open XML type declares, and the folder it lives in.
_OOXML = {
    DOCX: (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "word/",
    ),
    XLSX: ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "xl/"),
    PPTX: (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "ppt/",
    ),
}
_ZIPS = {"application/zip", DOCX, XLSX, PPTX}
_MAX_ZIP_ENTRIES = 10_000
_MAX_CONTENT_TYPES_BYTES = 1_048_576


def detect(data: bytes) -> FileKind | None:
    """The allowed kind of ``data``, or None when it is not one we accept."""
    guess = filetype.guess_mime(data[:8192]) if data else None
    if guess is None:
        return None
    if guess in _ZIPS:
        office = _office_kind(data)
        return ALLOWED[office] if office else None
    return ALLOWED.get(guess)


def _office_kind(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > _MAX_ZIP_ENTRIES:
                return None
            names = {info.filename for info in infos}
            if "[Content_Types].xml" not in names:
                return None
            if any(name.lower().endswith("vbaproject.bin") for name in names):
                return None  # macros
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                return None
            declared = archive.read(info).decode("utf-8", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, NotImplementedError):
        return None
    if "macroEnabled" in declared:
        return None
    for mime, (main_part, folder) in _OOXML.items():
        if main_part in declared and any(name.startswith(folder) for name in names):
            return mime
    return None
