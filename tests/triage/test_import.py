"""Training from an uploaded history of past complaints (CSV or Excel), by API and by page."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from kesu.triage.models import TriageModel
from tests.triage.conftest import sample
from tests.triage.test_intake import LATE, SMELL, WRONG_CHARGE, texts_for
from tests.web import conftest as web
from tests.web.conftest import csrf_of

browser = web.browser
signed_in = web.signed_in

IMPORT = "/api/v1/triage/models/import"


def history_csv(rows: list[tuple[str, str]], header: tuple[str, ...] = ("内容", "分类")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def history() -> list[tuple[str, str]]:
    return [(t, c) for c in (WRONG_CHARGE, LATE, SMELL) for t in texts_for(c, 10)]


def upload(client, headers, data: bytes, name: str = "history.csv", **form: str):
    fields = {"text_column": "内容", "label_column": "分类", **form}
    return client.post(IMPORT, headers=headers, files={"file": (name, data)}, data=fields)


def test_an_admin_trains_a_version_from_an_uploaded_history(client, admin, agent, db):
    response = upload(client, agent, history_csv(history()))
    assert response.status_code == 403
    response = upload(client, admin, history_csv(history()))
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["kind"] == "category" and outcome["activated"] and outcome["version"] == 1
    with db.session(write=False) as session:
        model = session.scalar(select(TriageModel))
        assert model is not None and model.source == "history.csv"
        assert set(model.labels) == {WRONG_CHARGE, LATE, SMELL}


def test_a_complaint_detector_from_an_uploaded_file(client, admin, os10_rows):
    rows = [(r["review"], r["label"]) for r in sample(os10_rows, ("cat", "label"), 20)]
    data = history_csv(rows, ("review", "label"))
    response = upload(
        client,
        admin,
        data,
        "posts.csv",
        kind="detection",
        text_column="review",
        label_column="label",
        complaint_label="0",
    )
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "detection" and response.json()["activated"]


def test_bad_uploads_are_refused_naming_the_problem(client, admin, db):
    cases = [
        (history_csv(history()), "history.txt", {}, ".csv 或 .xlsx"),
        (b"", "history.csv", {}, "文件是空的"),
        (history_csv(history()), "history.csv", {"text_column": "text"}, "缺少列 text"),
        (history_csv(history()).decode().encode("gb18030"), "history.csv", {}, "UTF-8"),
        (b"not a zip file", "history.xlsx", {}, "Excel"),
        (history_csv([("一条投诉", "没有这个分类"), *history()]), "h.csv", {}, "没有这个分类"),
    ]
    for data, name, form, message in cases:
        response = upload(client, admin, data, name, **form)
        assert response.status_code == 422, (name, form, response.text)
        assert message in response.json()["detail"], response.json()
    with db.session(write=False) as session:
        assert session.scalar(select(TriageModel)) is None  # nothing half-written


def test_uploads_may_be_larger_than_other_requests(client, admin, settings):
    padding = "说明" * 20_000  # a long extra column: ~120 KB per row, ~3.6 MB in all
    rows = [(text, label, padding) for text, label in history()]
    data = history_csv(rows, ("内容", "分类", "备注"))
    assert len(data) > settings.max_body_bytes
    assert upload(client, admin, data).status_code == 200
    too_big = client.post(
        "/api/v1/triage/analyze", headers=admin, content=b"x" * (settings.max_body_bytes + 1)
    )
    assert too_big.status_code == 413


def test_the_overview_page_imports_a_history(signed_in, db):
    client = signed_in("admin1", role="admin", team=None)
    page = client.get("/admin/triage").text
    assert 'action="/admin/triage/import"' in page
    response = client.post(
        "/admin/triage/import",
        data={
            "csrf_token": csrf_of(page),
            "kind": "category",
            "text_column": "内容",
            "label_column": "分类",
        },
        files={"file": ("past.csv", history_csv(history()))},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "已训练版本 1 并启用" in response.text
    missing = client.post(
        "/admin/triage/import",
        data={"csrf_token": csrf_of(response.text), "text_column": "内容"},
        files={"file": ("past.csv", history_csv(history()))},
    )
    assert missing.status_code == 422 and "缺少列 label" in missing.text
