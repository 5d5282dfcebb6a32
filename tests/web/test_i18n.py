"""Chinese by default, English by the switch or the browser's Accept-Language; the catalog
is complete and its compiled .mo matches the .po."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from kesu.web.i18n import from_accept_language, normalize
from tests.web.conftest import post_form

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "kesu/locale/en/LC_MESSAGES/messages.po"


def test_chinese_is_the_default(browser):
    page = browser.get("/submit").text
    assert '<html lang="zh-CN">' in page and "提交投诉" in page


def test_the_switch_shows_english_and_is_remembered(browser):
    response = browser.get("/lang/en?next=/submit", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/submit"
    page = browser.get("/submit").text
    assert '<html lang="en">' in page
    assert "Submit a complaint" in page and "What happened" in page
    assert "提交投诉" not in page
    browser.get("/lang/zh_CN?next=/submit")
    assert "提交投诉" in browser.get("/submit").text


def test_the_switch_only_redirects_locally(browser):
    response = browser.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert response.headers["location"] == "/"


def test_accept_language_is_used_without_a_cookie(browser):
    english = browser.get("/submit", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert "Submit a complaint" in english
    chinese = browser.get("/submit", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert "提交投诉" in chinese.text


def test_english_workbench_uses_english_stage_and_severity_names(signed_in, make_complaint):
    complaint = make_complaint()
    client = signed_in()
    client.get("/lang/en")
    queue = client.get("/?tab=team").text
    assert "Team queue" in queue and "Registered" in queue and "Minor" in queue
    page = post_form(
        client,
        f"/complaints/{complaint.number}",
        f"/complaints/{complaint.number}/transition",
        {"to": "investigating", "version": str(complaint.version)},
    ).text
    assert "Moved to “Investigating”" in page


def test_english_error_pages(browser):
    browser.get("/lang/en")
    assert "We could not find this complaint" in browser.get("/t/nothing-here").text


def test_language_negotiation():
    assert normalize("en-US") == "en" and normalize("zh_Hans") == "zh_CN"
    assert normalize("fr") is None and normalize(None) is None
    assert from_accept_language("fr-CH, fr;q=0.9, en;q=0.8, zh;q=0.7") == "en"
    assert from_accept_language("de, zh-TW;q=0.5, en;q=0.1") == "zh_CN"
    assert from_accept_language("de, fr") is None
    assert from_accept_language("en;q=bad, zh") == "zh_CN"


def test_every_ui_string_is_translated_and_compiled():
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    extracted = {
        message
        for _f, _l, message, _c, _x in extract_from_dir(
            str(ROOT),
            method_map,
            options_map,
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
        )
    }
    extracted = {m if isinstance(m, str) else m[0] for m in extracted}
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(extracted - set(translated))
    assert not missing, f"untranslated (run pybabel extract/update, see babel.cfg): {missing}"
    with PO.with_suffix(".mo").open("rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    assert compiled == translated, "messages.mo is stale: run pybabel compile -d kesu/locale"
