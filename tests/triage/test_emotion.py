from __future__ import annotations

from pathlib import Path

import pytest

from kesu.triage.emotion import (
    EMOTION_LEXICON_PATH,
    RISK_LEXICON_PATH,
    RiskSignal,
    assess,
    load_risk_lexicon,
    read_lexicon,
    risk_level,
)


def test_calm_text_has_no_risk_and_no_anger():
    result = assess("东西不错，物流很快，谢谢")
    assert result.risk_level == 0
    assert result.risk_signals == ()
    assert result.anger == 0
    assert result.urgency == 0


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("再不处理我就找媒体曝光", "media"),
        ("我已经打了12315", "regulator"),
        ("我会找律师起诉你们", "legal"),
        ("热水器漏电，差点触电", "safety"),
    ],
)
def test_media_regulator_legal_and_safety_words_are_critical(text, category):
    result = assess(text)
    assert result.risk_level == 3
    assert category in result.risk_categories


def test_risk_grows_with_agreeing_categories():
    assert assess("我要发微博").risk_level == 2
    assert assess("我要发微博曝光你们").risk_level == 3
    assert assess("我要投诉到底").risk_level == 2


def test_numbers_match_only_whole():
    assert assess("这台电视3150元").risk_level == 0
    assert [s.word for s in assess("打315热线").risk_signals] == ["315"]


def test_signals_are_distinct_and_longest_first():
    signals = assess("食物中毒了！食物中毒！").risk_signals
    assert signals == (RiskSignal("食物中毒", "safety", 3),)


def test_anger_and_urgency_rise_with_cues():
    calm = assess("商品有点问题，麻烦处理一下")
    angry = assess("垃圾商家！！！骗子，太恶心了")
    urgent = assess("等了三天还没发货，请马上处理，紧急")
    assert angry.anger > 0.8 > calm.anger
    assert urgent.urgency > 0.8 > calm.urgency
    assert 0 <= angry.anger <= 1 and 0 <= urgent.urgency <= 1


def test_full_width_and_traditional_text_is_matched():
    assert assess("我要找媒體曝光！").risk_level == 3
    assert assess("ＴＭＤ！").anger > 0.5


def test_lexicon_can_be_overridden_by_data():
    lexicon = load_risk_lexicon(data={"brand": {"竞品名": 2}})
    result = assess("我要去买竞品名，还要找媒体", risk_lexicon=lexicon)
    assert result.risk_signals == (RiskSignal("竞品名", "brand", 2),)
    assert result.risk_level == 2


def test_risk_level_is_capped():
    signals = (RiskSignal("a", "media", 3), RiskSignal("b", "legal", 3))
    assert risk_level(signals) == 3
    assert risk_level(()) == 0


def test_shipped_lexicons_parse():
    risk = read_lexicon(RISK_LEXICON_PATH)
    assert {"media", "regulator", "legal", "safety"} <= set(risk)
    assert risk["regulator"]["12315"] == 3
    emotion = read_lexicon(EMOTION_LEXICON_PATH)
    assert {"anger", "urgency"} <= set(emotion)


def test_bad_lexicon_file_names_the_entry(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text('[media]\n"曝光" = "high"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="曝光"):
        read_lexicon(path)
