"""Schemathesis over the attachment operations only (the suite's fuzz covers them too; this
runs in seconds while working on them)."""

from __future__ import annotations

import contextlib

import schemathesis
from hypothesis.errors import Unsatisfiable

from kesu.web.app import create_app
from tests.api.test_openapi_fuzz import _fuzzer, _order
from tests.complaints.helpers import new_complaint


def test_attachment_operations_answer_as_documented(backend, db, settings, clock, make_user):
    app = create_app(settings, clock=clock, db=db)
    _, headers = make_user("fuzzer", "admin", None)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        new_complaint(client, headers)  # complaint 1 exists, so some cases reach the service
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = sorted(
        (r.ok() for r in schema.get_all_operations() if "attachments" in r.ok().label),
        key=_order,
    )
    assert len(operations) == 4
    failures: list[str] = []
    for operation in operations:
        for mode in ("positive", "negative"):
            with contextlib.suppress(Unsatisfiable):
                _fuzzer(operation, mode, headers, failures)()
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} failures:\n" + "\n".join(unique[:60])
