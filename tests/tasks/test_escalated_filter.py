"""The workbench's "escalated" filter and the escalation level on the complaint page."""

from __future__ import annotations

from tests.flows import complaint, create, worker

NEUTRAL = "上周的事情到现在还没有人联系我，请尽快给个答复。"


def test_the_workbench_lists_only_escalated_complaints_when_asked(db, settings, clock, signed_in):
    browser = signed_in("lead1", role="team_lead", team="service")
    late = complaint(db, create(db, clock, content=NEUTRAL)).number
    clock.advance(minutes=70)
    worker(db, settings, clock).run_until_idle()
    fresh = complaint(db, create(db, clock, content=NEUTRAL)).number
    everything = browser.get("/?tab=team").text
    assert late in everything and fresh in everything
    escalated = browser.get("/?tab=team&escalated=1").text
    assert late in escalated and fresh not in escalated
    assert 'name="escalated"' in escalated
    page = browser.get(f"/complaints/{late}").text
    assert "升级 1 级" in page
    assert "升级 1 级" not in browser.get(f"/complaints/{fresh}").text
