"""/api/v1/views: private by default; only an admin shares a view with a team or everyone."""

from __future__ import annotations

from sqlalchemy import select

from kesu.accounts.models import Team


def test_private_views_and_sharing(client, db, make_user, admin):
    _, agent = make_user("agent1", "agent", "service")
    _, colleague = make_user("agent2", "agent", "service")
    _, stranger = make_user("carrier", "agent", "logistics")
    mine = client.post(
        "/api/v1/views",
        json={"name": "超时", "query": {"tab": "team", "overdue": "1"}},
        headers=agent,
    )
    assert mine.status_code == 201, mine.text
    assert mine.json()["url"].startswith("/?tab=team&overdue=1&view=")
    again = client.post("/api/v1/views", json={"name": "超时"}, headers=agent)
    assert again.status_code == 409 and again.json()["field"] == "name"
    shared = client.post("/api/v1/views", json={"name": "x", "visibility": "all"}, headers=agent)
    assert shared.status_code == 403
    bad = client.post(
        "/api/v1/views", json={"name": "y", "query": {"cursor": "abc"}}, headers=agent
    )
    assert bad.status_code == 422 and bad.json()["field"] == "query"
    with db.session() as session:
        service = session.scalar(select(Team.id).where(Team.code == "service"))
    team_view = client.post(
        "/api/v1/views",
        json={"name": "客服组", "query": {"tab": "team"}, "visibility": "team", "team_id": service},
        headers=admin,
    )
    assert team_view.status_code == 201, team_view.text
    names = lambda headers: [v["name"] for v in client.get("/api/v1/views", headers=headers).json()]  # noqa: E731
    assert names(agent) == ["超时", "客服组"]
    assert names(colleague) == ["客服组"]
    assert names(stranger) == []
    view_id = mine.json()["id"]
    assert client.delete(f"/api/v1/views/{view_id}", headers=colleague).status_code == 404
    assert (
        client.patch(f"/api/v1/views/{view_id}", json={"name": "z"}, headers=stranger).status_code
        == 404
    )
    shared_id = team_view.json()["id"]
    assert client.delete(f"/api/v1/views/{shared_id}", headers=colleague).status_code == 403
    renamed = client.patch(f"/api/v1/views/{view_id}", json={"name": "已超时"}, headers=agent)
    assert renamed.json()["name"] == "已超时"
    assert client.delete(f"/api/v1/views/{view_id}", headers=agent).status_code == 204
    assert client.delete(f"/api/v1/views/{view_id}", headers=agent).status_code == 404
    assert client.delete("/api/v1/views/99999999999", headers=agent).status_code == 422
