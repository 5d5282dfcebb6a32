"""Search: a word inside a longer Chinese phrase is found, ranked, highlighted and escaped;
drafts are invisible to agents."""

from __future__ import annotations

from kesu.knowledge import search


def test_tokens_reach_inside_longer_words():
    tokens = search.index_tokens("手机电池鼓包严重")
    assert "手机电池" in tokens and "电池" in tokens and "鼓包" in tokens
    assert search.query_tokens("电池") == ["电池"]


def test_a_word_only_inside_a_longer_phrase_is_found(client, agent, write):
    article = write("手机电池鼓包的处理", "客户反映手机电池鼓包，先停止充电。")
    write("物流延误", "包裹配送延误的安抚办法。")
    # 电池 never stands alone: jieba cuts 手机电池 as one word in accurate mode.
    assert "电池" not in search.query_tokens("客户反映手机电池鼓包")
    found = client.get("/api/v1/knowledge/search", params={"q": "电池"}, headers=agent)
    assert found.status_code == 200, found.text
    ids = [h["article"]["id"] for h in found.json()]
    assert article.id in ids
    hit = next(h for h in found.json() if h["article"]["id"] == article.id)
    assert "<mark>电池</mark>" in hit["title_html"]


def test_ranking_puts_the_closer_article_first(client, agent, write):
    weak = write("售后说明", "维修时偶尔会问到屏幕的问题。" + "其他内容。" * 40)
    strong = write("屏幕花屏的处理", "屏幕花屏：重启后屏幕仍花屏的，检测屏幕排线。")
    hits = client.get("/api/v1/knowledge/search", params={"q": "屏幕"}, headers=agent).json()
    ids = [h["article"]["id"] for h in hits]
    assert ids.index(strong.id) < ids.index(weak.id)


def test_highlight_escapes_html(client, agent, write):
    write("<script>alert(1)</script> 退款到账", "退款 <b>到账</b> 时间 & 进度")
    hits = client.get("/api/v1/knowledge/search", params={"q": "退款"}, headers=agent).json()
    hit = next(h for h in hits if "script" in h["article"]["title"])
    assert "<script>" not in hit["title_html"]
    assert "&lt;script&gt;" in hit["title_html"]
    assert "<b>" not in hit["snippet_html"] and "&amp;" in hit["snippet_html"]
    assert "<mark>退款</mark>" in hit["snippet_html"]


def test_highlight_function():
    shown = search.highlight("a<b>电池</b>", ["电池"])
    assert str(shown) == "a&lt;b&gt;<mark>电池</mark>&lt;/b&gt;"


def test_query_syntax_is_not_an_operator(client, agent, write):
    for q in ['"', "AND OR NOT", "*", "a:b", "电池 OR", "(", "'", "&|!"]:
        response = client.get("/api/v1/knowledge/search", params={"q": q}, headers=agent)
        assert response.status_code == 200, (q, response.text)


def test_a_draft_is_invisible_to_agents_in_search(client, agent, lead, write):
    draft = write("草稿：蓝牙耳机断连", "蓝牙耳机断连的排查。", status="draft")
    params = {"q": "蓝牙耳机"}
    agent_ids = [
        h["article"]["id"]
        for h in client.get("/api/v1/knowledge/search", params=params, headers=agent).json()
    ]
    lead_ids = [
        h["article"]["id"]
        for h in client.get("/api/v1/knowledge/search", params=params, headers=lead).json()
    ]
    assert draft.id not in agent_ids
    assert draft.id in lead_ids


def test_seeded_articles_are_searchable(client, agent):
    hits = client.get("/api/v1/knowledge/search", params={"q": "赔付"}, headers=agent).json()
    assert any(h["article"]["kind"] == "compensation" for h in hits)


def test_reindex_rebuilds_the_index(db, client, agent, write):
    from sqlalchemy import text

    from kesu.knowledge.service import reindex

    article = write("洗衣机脱水异响", "洗衣机脱水时异响很大。")
    with db.session() as session:
        session.execute(text("UPDATE knowledge_articles SET search_tokens = ''"))
        search.clear(session)
        session.commit()
    params = {"q": "脱水"}
    assert client.get("/api/v1/knowledge/search", params=params, headers=agent).json() == []
    with db.session() as session:
        assert reindex(session, batch=3) >= 11
        session.commit()
    hits = client.get("/api/v1/knowledge/search", params=params, headers=agent).json()
    assert [h["article"]["id"] for h in hits] == [article.id]


def test_a_query_cannot_name_a_category_marker(client, agent, write, db):
    from sqlalchemy import select

    from kesu.taxonomy.models import Category

    with db.session(write=False) as session:
        category_id = session.scalar(select(Category.id).where(Category.path == "物流服务"))
    q = search.category_marker(category_id)
    assert search.query_tokens(q) == []
    assert client.get("/api/v1/knowledge/search", params={"q": q}, headers=agent).json() == []
