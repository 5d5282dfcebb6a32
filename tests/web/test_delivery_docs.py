"""Issue 8 (smaller): some webhooks arrive twice after kill -9. Delivery stays at least once;
the admin pages say so and tell receivers to deduplicate on X-Kesu-Delivery."""

from __future__ import annotations


def test_outbox_and_endpoint_pages_explain_at_least_once(signed_in):
    admin = signed_in("admin1", role="admin", team=None)
    outbox = admin.get("/admin/outbox")
    assert outbox.status_code == 200
    assert "至少送达一次" in outbox.text and "X-Kesu-Delivery" in outbox.text
    endpoints = admin.get("/admin/endpoints")
    assert endpoints.status_code == 200 and "X-Kesu-Delivery" in endpoints.text
    admin.cookies.set("lang", "en")
    assert "at least once" in admin.get("/admin/outbox").text
