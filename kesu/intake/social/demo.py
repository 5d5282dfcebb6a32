"""Demo data for social intake: one source per example platform, a few posts delivered
through the real signed webhook path (``api.receive``): mentions waiting in the review queue
and a complaint the detection registered."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from kesu.accounts.service import SYSTEM
from kesu.clock import Clock
from kesu.db import Database
from kesu.errors import KesuError
from kesu.intake.social import service
from kesu.intake.social.models import SocialSource

# (source code, the post as the platform sends it: the example mapping's shape)
POSTS: list[tuple[str, dict[str, Any]]] = [
    (
        "weibo",
        {
            "data": {
                "post": {
                    "id": "demo-wb-1",
                    "text": "买的空调用了三天就坏了，客服一直不回复，"
                    "太气愤了，我要投诉，要求退款！",
                    "url": "https://weibo.com/1000000001/demo-wb-1",
                },
                "user": {"screen_name": "空调受害者小李"},
            }
        },
    ),
    (
        "xiaohongshu",
        {
            "note": {
                "note_id": "demo-xhs-1",
                "title": "新买的扫地机器人开箱",
                "desc": "今天收到了新买的扫地机器人，颜值很高，周末试试效果",
                "user": {"nickname": "爱生活的小美"},
                "link": "https://www.xiaohongshu.com/explore/demo-xhs-1",
            }
        },
    ),
    (
        "douyin",
        {
            "item": {
                "aweme_id": "demo-dy-1",
                "desc": "请问这款冰箱有没有人用过，容量够不够一家三口",
                "author": {"nickname": "厨房达人老王"},
                "share_url": "https://www.douyin.com/video/demo-dy-1",
            }
        },
    ),
    (
        "kuaishou",
        {
            "photo": {
                "photo_id": "demo-ks-1",
                "caption": "门店的店员挺热情的，就是排队的人有点多",
                "user_name": "快手用户阿强",
                "share_url": "https://www.kuaishou.com/short-video/demo-ks-1",
            }
        },
    ),
]


def seed(db: Database, clock: Clock) -> dict[str, int]:
    """Creates the example sources (once) and delivers the demo posts, signed. Returns how
    many posts became complaints and how many wait in the queue."""
    from kesu.intake.social.api import receive

    secrets: dict[str, str] = {}
    with db.session() as session:
        for example in service.examples():
            code = example.get("code") or example["platform"]
            row = session.scalar(select(SocialSource).where(SocialSource.code == code))
            if row is None:
                row = service.create_source(
                    session,
                    clock,
                    SYSTEM,
                    code=code,
                    name=example["name"],
                    platform=example["platform"],
                    mapping=example["mapping"],
                )
            secrets[code] = row.secret
        session.commit()
    made = {"complaints": 0, "mentions": 0}
    for code, post in POSTS:
        body = json.dumps(post, ensure_ascii=False).encode()
        timestamp = str(int(clock.now().timestamp()))
        headers = {
            service.TIMESTAMP_HEADER: timestamp,
            service.SIGNATURE_HEADER: service.sign(secrets[code], timestamp, body),
        }
        try:
            answer, _status = receive(db, clock, code, headers, body)
        except KesuError:
            continue
        made["complaints" if answer["result"] == "complaint" else "mentions"] += 1
    return made
