"""Schemathesis fuzzes every operation of the OpenAPI spec: bad input must never cause a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from kesu.web.app import create_app


@pytest.mark.slow
def test_no_operation_answers_500(backend, db, settings, clock, make_user):
    if backend != "sqlite":
        pytest.skip("fuzzing runs once, on SQLite")
    app = create_app(settings, clock=clock, db=db)
    _, headers = make_user("fuzzer", "admin", None)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck)
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
