"""What a server process prepares before it accepts its first request (the app's lifespan).

Without this the first requests of each process paid for it: jieba's dictionary (~0.5–1 s of
CPU), the triage models unpickled from the database, every template compiled on first use,
the lexicons and the configuration read — 2.6–8.5 s for the first complaint page after a
start (issue 13). Each step is timed; a step that fails is logged and skipped, so a database
that cannot be read yet never stops the server from starting (the request that needs it will
then fail or pay the cost itself, as before).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

log = logging.getLogger("kesu.warmup")

# A complaint-like text: every triage step (keywords, emotion and risk, the category and
# detection models) runs on it once.
SAMPLE_TEXT = "快递一直没有送到，客服电话打不通，要求退款并赔偿，否则投诉到消费者协会"


def _templates() -> None:
    """Compiles every template once (Jinja keeps them; a page then only renders)."""
    from kesu.web.templating import templates

    env = templates.env
    for name in env.list_templates(extensions=["html", "txt", "xml"]):
        env.get_template(name)


def _segmenters() -> None:
    """jieba's dictionary and IDF table: the shared segmenter (knowledge search, similar
    cases) and the keyword extractor."""
    from kesu.triage.text import extract_keywords, get_segmenter

    get_segmenter().cut_for_search(SAMPLE_TEXT)
    extract_keywords(SAMPLE_TEXT, 8)


def _triage(app: FastAPI) -> None:
    """The triage of a text as intake runs it: lexicons, their segmenter (with the admin's
    user dictionary), the active category and detection models; reads, writes nothing."""
    from kesu.triage.service import analyze

    with app.state.db.session(write=False) as session:
        analyze(session, SAMPLE_TEXT, with_detection=True)


def _configuration(app: FastAPI) -> None:
    """The configuration the pages read on every request, and the lazily imported modules of
    the complaint page (a first import costs tens of milliseconds each)."""
    from kesu.compensation import ledger  # noqa: F401  (imported by similar cases)
    from kesu.complaints import event_text  # noqa: F401  (imported by timeline_of)
    from kesu.complaints.queries import stage_names
    from kesu.sla import models  # noqa: F401  (imported by the escalated filter)
    from kesu.taxonomy.service import active_form_fields, active_stages, category_tree

    with app.state.db.session(write=False) as session:
        stage_names(session)
        active_stages(session)
        active_form_fields(session)
        category_tree(session)


def warm(app: FastAPI) -> dict[str, float]:
    """Runs every step; returns how long each took (ms). Never raises."""
    steps: dict[str, Callable[[], Any]] = {
        "templates": _templates,
        "segmenters": _segmenters,
        "triage": lambda: _triage(app),
        "configuration": lambda: _configuration(app),
    }
    timings: dict[str, float] = {}
    for name, step in steps.items():
        started = time.perf_counter()
        try:
            step()
        except Exception:  # a warm-up must never stop the server from starting
            log.warning("warm-up step %s failed", name, exc_info=True)
        timings[name] = round((time.perf_counter() - started) * 1000, 1)
    log.info("warmed up in %s ms", timings)
    return timings
