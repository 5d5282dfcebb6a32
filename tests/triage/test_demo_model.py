"""The demo's generated text tells the leaf categories apart, so the triage model that
``kesu demo`` trains is one a newcomer can trust on the demo's own complaints."""

from __future__ import annotations

from kesu import demo
from kesu.triage.training import train_categories_from_database


def test_the_demo_model_scores_at_least_0_8_macro_f1_on_held_out_demo_complaints(db, clock):
    demo.generate(db, clock, 1200, days=60)
    outcome = train_categories_from_database(db, clock, trained_by="demo", limit=20_000)
    assert outcome.n_test >= 150
    assert outcome.macro_f1 >= 0.8
