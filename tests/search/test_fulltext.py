"""Full-text ``q`` (issue 13): words inside Chinese text through the index, the index kept in
the transaction of every change (ORM, Core statements, SAVEPOINTs), the agent's scope, keyset
pages, ranking, the rebuild, hostile input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from kesu.accounts.models import Team, User
from kesu.accounts.service import Actor
from kesu.complaints import registration
from kesu.complaints.models import Complaint
from kesu.complaints.queries import ComplaintFilters, list_complaints
from kesu.complaints.schemas import ComplaintCreate
from kesu.search import index, matching
from kesu.search.query import list_plan

CUSTOMER = Actor("customer", None, "客户")


def _body(**overrides: Any) -> ComplaintCreate:
    body: dict[str, Any] = {
        "channel": "web",
        "content": "手机电池鼓包了，充电的时候特别烫，担心会爆炸",
        "customer": {"name": "欧阳娜娜", "phone": "13912345678", "email": "na@example.com"},
    }
    body.update(overrides)
    return ComplaintCreate.model_validate(body)


def _make(db: Any, clock: Any, **overrides: Any) -> Complaint:
    with db.session() as session:
        complaint, _ = registration.create_complaint(session, clock, CUSTOMER, _body(**overrides))
        return complaint


def _numbers(client: Any, headers: dict[str, str], q: str, **params: Any) -> list[str]:
    response = client.get(
        "/api/v1/complaints", params={"q": q, "limit": 50, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


def _every_page(client: Any, headers: dict[str, str], q: str, limit: int) -> list[str]:
    """The numbers of every page of ``q``'s list, following the cursor (at most 10 pages)."""
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"q": q, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/complaints", params=params, headers=headers).json()
        seen += [item["number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    return seen


def _in_index(session: Any, q: str) -> list[int]:
    """The ids the index matches for ``q`` (in this session's transaction)."""
    found = matching.estimate(session, q)
    if found.matches == 0:
        return []
    stmt = select(Complaint.id).where(matching.text_condition(session, q))
    return sorted(session.scalars(stmt))


def _indexed_count(session: Any) -> int:
    name = index.FTS_TABLE if session.get_bind().dialect.name == "sqlite" else index.PG_TABLE
    return int(session.scalar(text(f"SELECT count(*) FROM {name}")))


def _to_team(db: Any, number: str, code: str | None) -> None:
    with db.session() as session:
        complaint = session.scalar(select(Complaint).where(Complaint.number == number))
        complaint.team_id = session.scalar(select(Team.id).where(Team.code == code))
        complaint.assignee_id = None


def test_words_inside_chinese_text_are_found(
    client: Any, admin: dict[str, str], db: Any, clock: Any
) -> None:
    agent = admin  # routing puts each complaint in some team: the scope is tested below
    battery = _make(db, clock, title="电池鼓包")
    heater = _make(db, clock, content="热水器不加热，师傅上门两次还是坏的")
    assert _numbers(client, agent, "鼓包") == [battery.number]  # inside 电池鼓包
    assert _numbers(client, agent, "电池") == [battery.number]
    assert _numbers(client, agent, "充电 烫") == [battery.number]  # every word, any order
    assert _numbers(client, agent, "熱水器") == [heater.number]  # traditional → simplified
    assert _numbers(client, agent, "师傅 电池") == []
    assert _numbers(client, agent, "洗衣机") == []  # in no complaint: answered from the vocabulary
    # the contact snapshot and the order number are in the index too, with words around them
    assert _numbers(client, agent, "欧阳娜娜 热水器") == [heater.number]
    assert _numbers(client, agent, "13912345678 鼓包") == [battery.number]


def test_order_and_tracking_numbers_are_found_in_text_and_custom_fields(
    client: Any, admin: dict[str, str], db: Any, clock: Any
) -> None:
    agent = admin
    mentioned = _make(db, clock, content="快递单号 SF1234567890 三天没有动静")
    tracked = _make(db, clock, content="包裹丢了")
    with db.session() as session:
        row = session.get(Complaint, tracked.id)
        row.custom_fields = {"waybill": "YT9988776655"}  # an edit through the ORM
    ordered = _make(db, clock, order_no="JD20261201-5566")
    assert _numbers(client, agent, "SF1234567890") == [mentioned.number]
    assert _numbers(client, agent, "YT9988776655") == [tracked.number]
    assert _numbers(client, agent, "JD20261201-5566") == [ordered.number]  # the order index
    assert _numbers(client, agent, "jd20261201") == [ordered.number]  # a prefix, lower case


def test_an_edit_reindexes_in_its_own_transaction(db: Any, clock: Any) -> None:
    complaint = _make(db, clock, title="冰箱不制冷", content="冰箱买了一周就不制冷了")
    with db.session() as session:
        row = session.get(Complaint, complaint.id)
        row.title = "洗衣机漏水"
        row.content = "洗衣机漏水，地板泡坏了"
        session.flush()
        assert _in_index(session, "漏水") == [complaint.id]  # before the commit, same txn
        assert _in_index(session, "冰箱") == []
        session.rollback()
    with db.session(write=False) as session:
        assert _in_index(session, "冰箱") == [complaint.id]
        assert _in_index(session, "漏水") == []


def test_each_create_in_its_savepoint_keeps_or_loses_its_own_index_row(db: Any, clock: Any) -> None:
    """Group commit's shape: several creates in one transaction, each in a SAVEPOINT."""
    with db.session() as session:
        before = _indexed_count(session)
        with session.begin_nested():
            kept, _ = registration.create_complaint(
                session, clock, CUSTOMER, _body(title="投影仪没声音", content="投影仪没声音")
            )
        savepoint = session.begin_nested()
        lost, _ = registration.create_complaint(
            session, clock, CUSTOMER, _body(title="空调异响", content="空调异响吵得睡不着")
        )
        session.flush()
        assert _in_index(session, "空调") == [lost.id]
        savepoint.rollback()
        with session.begin_nested():
            registration.create_complaint(
                session, clock, CUSTOMER, _body(title="路由器断网", content="路由器老断网")
            )
    with db.session(write=False) as session:
        assert _indexed_count(session) == before + 2
        assert _in_index(session, "投影仪") == [kept.id]
        assert _in_index(session, "空调") == []
        assert session.scalar(select(func.count()).select_from(Complaint)) == _indexed_count(
            session
        )


def test_words_cut_before_the_transaction_are_used_only_for_their_own_text(
    db: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _body(title="洗碗机漏电", content="洗碗机漏电，碰到外壳手发麻")
    ahead = registration.prepare(db, body)  # what the API does before the write lock
    assert index.PREPARED_KEY in ahead
    cut_inside: list[tuple[str, ...]] = []  # what the index segments inside the transaction
    real = index.index_tokens

    def counted(*texts: str, **kw: Any) -> list[str]:
        cut_inside.append(texts)
        return real(*texts, **kw)

    monkeypatch.setattr(index, "index_tokens", counted)
    with db.session() as session:
        fresh, _ = registration.create_complaint(session, clock, CUSTOMER, body, prepared=ahead)
    assert not [t for t in cut_inside if body.content in t]  # the prepared words were used
    stale = dict(ahead)
    stale[index.PREPARED_KEY] = (("冰箱", "冰箱不制冷"), ["冰箱", "制冷"])
    other = _body(title="烤箱", content="烤箱温度不准")
    with db.session() as session:
        kept, _ = registration.create_complaint(session, clock, CUSTOMER, other, prepared=stale)
    assert [t for t in cut_inside if other.content in t]  # cut again: prepared for another text
    with db.session(write=False) as session:
        assert _in_index(session, "漏电") == [fresh.id]
        assert _in_index(session, "烤箱 温度") == [kept.id]
        assert _in_index(session, "制冷") == []


def test_core_statements_on_complaints_are_indexed_too(db: Any, clock: Any) -> None:
    complaint = _make(db, clock, title="耳机", content="耳机左边没声音")
    with db.session() as session:
        session.execute(
            update(Complaint).where(Complaint.id == complaint.id).values(content="音箱破音")
        )
        session.execute(update(Complaint).where(Complaint.id == complaint.id).values(priority=1))
    with db.session(write=False) as session:
        assert _in_index(session, "破音") == [complaint.id]
        assert _in_index(session, "左边") == []


@pytest.mark.parametrize("common", [False, True], ids=["few-matches", "many-matches"])
def test_an_agent_never_sees_another_teams_match(
    client: Any,
    agent: dict[str, str],
    admin: dict[str, str],
    db: Any,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
    common: bool,
) -> None:
    if common:  # every word counts as common: the per-row plan (SQLite's EXISTS)
        monkeypatch.setattr(matching, "FEW", -1)
    made = [_make(db, clock, title="电视黑屏", content="电视黑屏没有画面").number for _ in range(4)]
    for number, team in zip(made, ("engineering", None, "service", None), strict=True):
        _to_team(db, number, team)  # the pool (no team) and the agent's team are theirs
    assert _numbers(client, agent, "黑屏") == [made[3], made[2], made[1]]
    assert _numbers(client, admin, "黑屏") == list(reversed(made))
    assert _numbers(client, agent, "黑屏", team="engineering") == []
    assert _numbers(client, admin, "黑屏", team="engineering") == [made[0]]


def test_keyset_pages_with_q_are_newest_first_without_gaps(
    client: Any, agent: dict[str, str], db: Any, clock: Any
) -> None:
    made = [_make(db, clock, content=f"扫地机器人第{i}次卡住").number for i in range(5)]
    for number in made:
        _to_team(db, number, "service")
    _make(db, clock, content="与此无关的投诉")
    assert _every_page(client, agent, "扫地 机器人", limit=2) == list(reversed(made))


def test_a_common_word_is_walked_newest_first_in_scope_without_gaps(
    client: Any,
    agent: dict[str, str],
    admin: dict[str, str],
    db: Any,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An agent's common word reads the matches newest first, a chunk at a time (here two,
    then four), and keeps those in scope: every page in order, none of another team's."""
    from kesu.complaints import queries

    monkeypatch.setattr(matching, "FEW", -1)  # every word is common
    monkeypatch.setattr(queries, "WALK_CHUNK", 2)
    monkeypatch.setattr(queries, "WALK_CHUNK_MAX", 4)
    teams = ["engineering", "service", None, "engineering", "engineering", "service"] * 3
    made = [_make(db, clock, content=f"洗衣机第{i}次漏水").number for i in range(len(teams))]
    for number, team in zip(made, teams, strict=True):
        _to_team(db, number, team)
    _make(db, clock, content="与此无关的投诉")
    with db.session(write=False) as session:  # PostgreSQL's planner makes its own choice
        walked = list_plan(session, "漏水", None).kind == "walk"
        assert walked == db.url.startswith("sqlite")
    theirs = [n for n, t in zip(made, teams, strict=True) if t != "engineering"]
    assert _every_page(client, agent, "漏水", limit=3) == list(reversed(theirs))
    assert _numbers(client, agent, "漏水", stage="registered") == list(reversed(theirs))[:50]
    assert _numbers(client, admin, "漏水") == list(reversed(made))


def test_ranked_search_puts_the_best_match_first(db: Any, clock: Any) -> None:
    weak = _make(db, clock, title="物流慢", content="物流慢，耳机也有点杂音")
    strong = _make(db, clock, title="耳机杂音", content="耳机杂音很大，换了耳机还是杂音")
    _make(db, clock, title="别的", content="别的事情")
    with db.session(write=False) as session:
        found = matching.ranked(session, "耳机 杂音")
        assert [i for i, _ in found] == [strong.id, weak.id]
        assert found[0][1] <= found[1][1]
        assert matching.ranked(session, "量子纠缠") == []
        engineering = session.scalar(select(Team.id).where(Team.code == "engineering"))
        outside = Complaint.team_id == engineering  # a scope no complaint is in
        assert matching.ranked(session, "耳机 杂音", outside & (Complaint.id < 0)) == []


def test_rebuild_restores_a_lost_index(db: Any, clock: Any) -> None:
    complaint = _make(db, clock, title="微波炉", content="微波炉转盘不转")
    with db.session() as session:
        index.remove(session.connection(), [complaint.id])
        assert _in_index(session, "转盘") == []
    done = index.rebuild(db, batch=100)
    with db.session(write=False) as session:
        assert done == session.scalar(select(func.count()).select_from(Complaint))
        assert _in_index(session, "转盘") == [complaint.id]
        assert _indexed_count(session) == done


HOSTILE = ['"', "!!!", "AND", "a OR b", "NEAR(x y)", "*", "电池*", "^鼓包", "'); --", "的"]


@pytest.mark.parametrize("q", [*HOSTILE, "x" * 400])
def test_hostile_queries_never_fail(
    client: Any, agent: dict[str, str], db: Any, clock: Any, q: str
) -> None:
    _make(db, clock)
    response = client.get("/api/v1/complaints", params={"q": q}, headers=agent)
    assert response.status_code == (422 if len(q) > 200 else 200), response.text


def test_the_list_query_itself_with_q(db: Any, clock: Any, admin: dict[str, str]) -> None:
    """list_complaints (what the workbench calls) with a free-text q."""
    made = _make(db, clock, title="门锁失灵", content="智能门锁失灵进不了门")
    with db.session(write=False) as session:
        user = session.scalar(select(User).where(User.username == "admin1"))
        assert user is not None
        rows, cursor = list_complaints(
            session, user, ComplaintFilters(q="门锁"), datetime.now(UTC), 10
        )
        assert [r.id for r in rows] == [made.id] and cursor is None


def test_the_ranked_search_api_keeps_the_scope(
    client: Any, agent: dict[str, str], admin: dict[str, str], db: Any, clock: Any
) -> None:
    theirs = _make(db, clock, title="烤箱温度", content="烤箱温度不准，烤箱烤糊了")
    ours = _make(db, clock, title="烤箱", content="烤箱门关不严")
    _to_team(db, theirs.number, "engineering")
    _to_team(db, ours.number, "service")

    def ranked(headers: dict[str, str], q: str) -> list[str]:
        response = client.get("/api/v1/search/complaints", params={"q": q}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["number"] for item in response.json()["items"]]

    assert ranked(admin, "烤箱") == [theirs.number, ours.number]  # said three times: first
    assert ranked(agent, "烤箱") == [ours.number]  # never another team's
    assert ranked(agent, "温度") == []
    assert ranked(agent, "恐龙") == []
    bad = client.get("/api/v1/search/complaints", params={"q": ""}, headers=agent)
    assert bad.status_code == 422


def test_a_database_without_the_index_keeps_working(
    client: Any, admin: dict[str, str], db: Any, clock: Any
) -> None:
    """Migrated while 0023 was a placeholder: writes go on, q scans as before, the rebuild
    makes the index."""
    with db.engine.begin() as connection:
        index.drop_index(connection)
        if connection.dialect.name != "sqlite":
            connection.execute(text(f"DROP INDEX {index.PG_INDEX}"))
    index._present.clear()
    made = _make(db, clock, title="吸尘器", content="吸尘器吸力变小")
    assert _numbers(client, admin, "吸力") == [made.number]  # the LIKE scan
    index.rebuild(db)
    later = _make(db, clock, title="吸尘器", content="吸尘器电池不耐用")
    assert _numbers(client, admin, "吸尘器") == [later.number, made.number]
    assert _numbers(client, admin, "耐用") == [later.number]
