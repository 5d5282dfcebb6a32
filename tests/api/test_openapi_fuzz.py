"""Schemathesis over the whole OpenAPI, on SQLite and on PostgreSQL: for every operation,
valid data, invalid data, and hostile values (NUL characters, Unicode digits, huge integers)
must answer as documented — no server error, a documented status code and content type, a
body that matches the documented schema (``ErrorBody`` for every error).

A bounded number of examples per operation and mode keeps the run short
(``KESU_FUZZ_EXAMPLES``, 4: about a minute per database); half of the valid cases get hostile
values. Failures are collected (not shrunk) and listed together.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kesu.web.app import create_app

EXAMPLES = int(os.environ.get("KESU_FUZZ_EXAMPLES", "4"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Seconds per call: one example is enough to see the answer's shape.
EXPENSIVE = {"POST /api/v1/triage/models/train", "POST /api/v1/triage/models/import"}
# What broke kesu before: PostgreSQL refuses NUL, "²" passes str.isdigit(), ids past 32/64 bits.
HOSTILE: list[Any] = [
    "a\x00b",
    "\x00",
    "²",
    "٣",
    "99999999999999999999999",
    10**30,
    -(2**63),
    2**31,
    1e308,
    "1e999",
    "",
    " ",
    "𝟙𝟚",
    "ＴＳ２０２６",
]


def _poison(case: schemathesis.Case, draw: Any) -> None:
    """Puts one hostile value into each place a value can go (path, query, a body field)."""
    for name in list(case.path_parameters or {}):
        value = draw(st.sampled_from(HOSTILE))
        case.path_parameters[name] = str(value) if value != "" else "0"
    if case.query:
        name = draw(st.sampled_from(sorted(case.query)))
        case.query[name] = str(draw(st.sampled_from(HOSTILE)))
    if isinstance(case.body, dict) and case.body:
        name = draw(st.sampled_from(sorted(case.body)))
        case.body[name] = draw(st.sampled_from(HOSTILE))


def _order(operation: Any) -> tuple[bool, str]:
    # DELETEs last: revoking the fuzzer's own token early would leave only 401s to test.
    return (operation.method.upper() == "DELETE", operation.label)


def _fuzzer(operation: Any, mode: str, headers: dict[str, str], failures: list[str]) -> Any:
    generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE

    @given(case=operation.as_strategy(generation_mode=generation), data=st.data())
    @hypothesis_settings(
        max_examples=1 if operation.label in EXPENSIVE else EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
        hostile = mode == "positive" and data.draw(st.booleans())
        if hostile:  # half of the valid cases get a hostile value in every place
            _poison(case, data.draw)
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collected, not shrunk
            first = str(exc).strip().splitlines()[:8]
            kind = "hostile" if hostile else mode
            failures.append(f"{operation.label} [{kind}]: {' | '.join(first)}")

    return fuzz


@pytest.mark.slow
def test_every_operation_answers_as_documented(backend, db, settings, clock, make_user):
    app = create_app(settings, clock=clock, db=db)
    _, headers = make_user("fuzzer", "admin", None)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) >= 40
    failures: list[str] = []

    for operation in operations:
        for mode in ("positive", "negative"):
            # Unsatisfiable: nothing to make invalid (no parameters, no body)
            with contextlib.suppress(Unsatisfiable):
                _fuzzer(operation, mode, headers, failures)()

    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} failures:\n" + "\n".join(unique[:60])
