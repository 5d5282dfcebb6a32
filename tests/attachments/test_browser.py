"""In a real browser on a phone-sized viewport (Debian's Chromium via Playwright, a real
uvicorn on 127.0.0.1): a customer attaches a photo on the public form and sees its thumbnail
on the tracking page; another complaint's tracking token gets 404 for that file."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kesu.accounts.service import CUSTOMER
from kesu.attachments.models import Attachment
from kesu.clock import SystemClock
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.schemas import ComplaintCreate
from tests.attachments.conftest import png
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, Server, _shoot, server

pytestmark = pytest.mark.e2e
__all__ = ["server"]


def fetch(url: str) -> httpx.Response:
    """A GET bounded for a hung server only (a loaded CI machine answers slowly)."""
    return httpx.get(url, timeout=60, trust_env=False)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not at /usr/bin/chromium")
def test_phone_uploads_a_photo_and_sees_it_on_the_tracking_page(
    server: Server, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    photo = tmp_path / "破损照片.jpg"
    photo.write_bytes(png(1200, 900, color="orange"))  # PNG bytes under a .jpg name: fine
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            problems: list[str] = []
            page = browser.new_context(viewport=PHONE, locale="zh-CN").new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.goto(f"{server.url}/submit")
            page.fill("#f-name", "周女士")
            page.fill("#f-phone", "13912345678")
            page.fill("#f-content", "快递送到时外箱破损，电视屏幕碎了，附照片。")
            page.set_input_files("#f-files", str(photo))
            # the form fits the phone: nothing wider than the viewport
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            _shoot(page, "attachments-form")
            page.click("button[type=submit]")
            expect(page.locator("#tracking-number")).to_have_text(re.compile(r"TS\d{8}-\d{6}"))
            thumb = page.locator("#attachments img")
            expect(thumb).to_be_visible()
            expect(page.locator("#attachments")).to_contain_text("破损照片.jpg")
            # the thumbnail really loads (our JPEG, allowed by the page's CSP)
            thumb.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => { const i = document.querySelector('#attachments img');"
                " return i && i.complete && i.naturalWidth > 0; }",
                timeout=10_000,
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            _shoot(page, "attachments-tracking")
            assert problems == [], problems
            token = page.url.split("/t/")[1].split("?")[0]
        finally:
            browser.close()

    with server.db.session(write=False) as session:
        [row] = session.scalars(select(Attachment)).all()
        assert row.content_type == "image/png" and row.thumbnail_sha256
        complaint = session.get(Complaint, row.complaint_id)
        assert complaint is not None and complaint.tracking_token == token
    mine = fetch(f"{server.url}/t/{token}/files/{row.id}")
    assert mine.status_code == 200 and mine.content == photo.read_bytes()
    assert mine.headers["content-disposition"].startswith("attachment;")
    # another complaint's token: 404 for this file
    with server.db.session() as session:
        other, _ = registration.create_complaint(
            session,
            SystemClock(),
            CUSTOMER,
            ComplaintCreate.model_validate(
                {
                    "channel": "web",
                    "content": "另一件事",
                    "customer": {"name": "王", "phone": "13800000000"},
                }
            ),
        )
        other_token = other.tracking_token
    assert fetch(f"{server.url}/t/{other_token}/files/{row.id}").status_code == 404
    assert fetch(f"{server.url}/t/{other_token}/files/{row.id}/thumbnail").status_code == 404
