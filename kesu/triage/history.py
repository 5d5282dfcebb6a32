"""Past complaints from a file — a CSV (UTF-8) or Excel export of the company's history —
as training examples, and training a model version from an uploaded file."""

from __future__ import annotations

import csv
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kesu.clock import Clock
from kesu.db import Database
from kesu.errors import InvalidInput
from kesu.taxonomy.models import Category
from kesu.triage.registry import ModelKind
from kesu.triage.training import (
    COMPLAINT_LABEL,
    OTHER_LABEL,
    Example,
    TrainOutcome,
    train_model,
)
from kesu.web.i18n import gettext as _


def read_table(path: Path, text_column: str, label_column: str) -> list[tuple[str, str]]:
    """(text, label) rows of a CSV (UTF-8) or Excel (.xlsx) file; InvalidInput names a
    missing file or column."""
    if not path.is_file():
        raise InvalidInput(_("文件不存在：%(path)s") % {"path": path}, field="file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, rows = _read_excel(path)
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = [list(row) for row in reader]
    missing = [c for c in (text_column, label_column) if c not in header]
    if missing:
        raise InvalidInput(
            _("%(file)s 缺少列 %(missing)s（文件中的列：%(columns)s）")
            % {"file": path.name, "missing": ", ".join(missing), "columns": ", ".join(header)},
            field="file",
        )
    text_at, label_at = header.index(text_column), header.index(label_column)
    return [
        (row[text_at], row[label_at])
        for row in rows
        if len(row) > max(text_at, label_at) and row[text_at].strip() and row[label_at].strip()
    ]


def _read_excel(path: Path) -> tuple[list[str], list[list[str]]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    cells = [
        ["" if v is None else str(v).strip() for v in row]
        for row in sheet.iter_rows(values_only=True)
    ]
    book.close()
    return (cells[0], cells[1:]) if cells else ([], [])


def category_examples_from_file(
    session: Session, path: Path, text_column: str, label_column: str
) -> list[Example]:
    """Past complaints from a file, labelled by category path (or a unique category name)."""
    rows = read_table(path, text_column, label_column)
    by_path = {p: p for p in session.scalars(select(Category.path).where(Category.is_active))}
    by_name: dict[str, list[str]] = defaultdict(list)
    for path_value in by_path:
        by_name[path_value.rsplit("/", 1)[-1]].append(path_value)
    examples, unknown = [], Counter[str]()
    for text, label in rows:
        label = label.strip().strip("/")
        resolved = by_path.get(label) or (
            by_name[label][0] if len(by_name.get(label, [])) == 1 else None
        )
        if resolved is None:
            unknown[label] += 1
            continue
        examples.append(Example(text, resolved))
    if unknown:
        shown = ", ".join(f"{label} ({n})" for label, n in unknown.most_common(5))
        raise InvalidInput(
            _("这些标签不是分类路径或唯一的分类名称：%(labels)s") % {"labels": shown},
            field=label_column,
        )
    return examples


def detection_examples_from_file(
    path: Path, text_column: str, label_column: str, complaint_label: str
) -> list[Example]:
    """Texts labelled complaint / other for the complaint detector."""
    rows = read_table(path, text_column, label_column)
    return [
        Example(text, COMPLAINT_LABEL if label.strip() == complaint_label else OTHER_LABEL)
        for text, label in rows
    ]


UPLOAD_SUFFIXES = (".csv", ".xlsx")


def train_from_upload(
    db: Database,
    clock: Clock,
    *,
    filename: str,
    data: bytes,
    kind: ModelKind,
    text_column: str,
    label_column: str,
    complaint_label: str = "0",
    trained_by: str,
) -> TrainOutcome:
    """Trains a version from an uploaded CSV (UTF-8) or Excel file of past complaints: category
    paths as labels, or for ``detection`` the label value meaning "a complaint"."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InvalidInput(_("请上传 .csv 或 .xlsx 文件"), field="file")
    if not data:
        raise InvalidInput(_("文件是空的"), field="file")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            if kind == ModelKind.detection:
                examples = detection_examples_from_file(
                    path, text_column, label_column, complaint_label
                )
            else:
                with db.session(write=False) as session:
                    examples = category_examples_from_file(session, path, text_column, label_column)
        except UnicodeDecodeError:
            raise InvalidInput(_("CSV 须为 UTF-8 编码"), field="file") from None
        except (zipfile.BadZipFile, KeyError, OSError):
            raise InvalidInput(_("无法读取这个 Excel 文件"), field="file") from None
    return train_model(db, clock, kind, examples, source=Path(filename).name, trained_by=trained_by)
