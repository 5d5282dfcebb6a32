"""Sources: created and edited by admins (API and page), mappings validated when saved,
the secret shown once."""

from __future__ import annotations

import pytest

from kesu.intake.social import service
from tests.intake.social.conftest import COMPLAINT, WEIBO_MAPPING, deliver, weibo_post
from tests.web.conftest import csrf_of

URL = "/api/v1/intake/social/sources"


def _create(client, admin, **fields):
    body = {"code": "src", "name": "来源", "platform": "weibo", "mapping": WEIBO_MAPPING}
    return client.post(URL, json={**body, **fields}, headers=admin)


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"mapping": {"author": "a.b"}}, 422, "mapping.content"),
        ({"mapping": {"content": "a..b"}}, 422, "mapping.content"),
        ({"mapping": {"content": "a b"}}, 422, "mapping.content"),
        ({"mapping": {"content": "x", "password": "y"}}, 422, "mapping.password"),
        ({"mapping": {"content": 3}}, 422, "mapping.content"),
        ({"mapping": {"content": ".".join(["k"] * 17)}}, 422, "mapping.content"),
        ({"platform": "myspace"}, 422, "platform"),
        ({"code": "sources"}, 422, "code"),
        ({"code": "Bad Code"}, 422, None),
    ],
)
def test_a_bad_source_is_refused_naming_the_field(client, admin, fields, status, field):
    answer = _create(client, admin, **fields)
    assert answer.status_code == status, answer.text
    if field:
        assert answer.json()["field"] == field
    assert client.get(URL, headers=admin).json() == []


def test_duplicate_code_is_409(client, admin):
    assert _create(client, admin).status_code == 201
    again = _create(client, admin)
    assert again.status_code == 409 and again.json()["field"] == "code"


def test_patch_validates_the_mapping(client, admin):
    created = _create(client, admin).json()
    bad = client.patch(f"{URL}/{created['id']}", json={"mapping": {"title": "t"}}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "mapping.content"
    good = client.patch(
        f"{URL}/{created['id']}",
        json={"mapping": {"content": "body.text"}, "name": "新名称"},
        headers=admin,
    )
    assert good.status_code == 200, good.text
    assert good.json()["mapping"] == {"content": "body.text"} and good.json()["name"] == "新名称"
    delivered = deliver(client, "src", created["secret"], {"body": {"text": COMPLAINT}})
    assert delivered.status_code == 201


def test_every_example_mapping_is_valid():
    examples = service.examples()
    assert {e["platform"] for e in examples} >= {
        "weibo",
        "douyin",
        "xiaohongshu",
        "kuaishou",
        "heimao",
    }
    for example in examples:
        assert service.validate_mapping(example["mapping"]) == example["mapping"]


def test_the_admin_page_creates_a_source_and_shows_the_secret_once(client, db, signed_in):
    browser = signed_in("admin9", role="admin", team=None)
    page = browser.get("/admin/social?preset=douyin")
    assert page.status_code == 200
    assert 'value="item.desc"' in page.text  # the example mapping prefilled
    token = csrf_of(page.text)
    form = {
        "csrf_token": token,
        "code": "dy",
        "name": "抖音",
        "platform": "douyin",
        "map_content": "item.desc",
        "map_author": "item.author.nickname",
        "is_active": "1",
    }
    bad = browser.post("/admin/social", data={**form, "map_content": "a..b"})
    assert bad.status_code == 422
    assert "路径无效" in bad.text
    created = browser.post("/admin/social", data={**form, "csrf_token": csrf_of(bad.text)})
    assert created.status_code == 200, created.text
    assert 'id="secret-value"' in created.text
    with db.session(write=False) as session:
        source = session.scalar(
            __import__("sqlalchemy")
            .select(service.SocialSource)
            .where(service.SocialSource.code == "dy")
        )
        secret, source_id = source.secret, source.id
    assert secret in created.text
    shown = browser.get(f"/admin/social/{source_id}")
    assert secret not in shown.text and "/api/v1/intake/social/dy" in shown.text
    post = {"item": {"desc": COMPLAINT, "author": {"nickname": "抖友"}, "aweme_id": "7"}}
    assert deliver(client, "dy", secret, post).status_code == 201
    rotated = browser.post(
        f"/admin/social/{source_id}/rotate", data={"csrf_token": csrf_of(shown.text)}
    )
    assert rotated.status_code == 200 and 'id="secret-value"' in rotated.text
    assert secret not in rotated.text
    edited = browser.post(
        f"/admin/social/{source_id}",
        data={**form, "csrf_token": csrf_of(rotated.text), "name": "抖音官方号", "is_active": ""},
        follow_redirects=True,
    )
    assert edited.status_code == 200 and "抖音官方号" in edited.text
    assert deliver(client, "dy", secret, weibo_post(COMPLAINT)).status_code == 404  # inactive


def test_an_agent_cannot_open_the_sources_page(signed_in):
    browser = signed_in("agent8", role="agent")
    assert browser.get("/admin/social").status_code == 403
