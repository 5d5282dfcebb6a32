"""The warm-up a server process runs before its first request (kesu.web.warmup)."""

from __future__ import annotations

from typing import Any

import pytest

from kesu.triage import text
from kesu.web import warmup
from kesu.web.templating import templates


def test_warm_up_prepares_segmenter_templates_and_triage(app: Any) -> None:
    timings = warmup.warm(app)
    assert set(timings) == {"templates", "segmenters", "triage", "configuration"}
    assert text._base_tokenizer.cache_info().currsize == 1  # jieba's dictionary is loaded
    compiled = {name for _loader, name in templates.env.cache}  # kept by Jinja
    assert {"complaints/detail.html", "complaints/workbench.html", "base.html"} <= compiled


def test_a_failing_step_never_stops_the_start(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database not reachable")

    monkeypatch.setattr(app.state.db, "session", broken)
    timings = warmup.warm(app)  # logs the failures, returns
    assert set(timings) == {"templates", "segmenters", "triage", "configuration"}
