from __future__ import annotations

import pickle

from hypothesis import given
from hypothesis import strategies as st

from kesu.triage.text import (
    Segmenter,
    extract_keywords,
    get_segmenter,
    load_stopwords,
    normalize,
    tokenize,
)


def test_normalize_folds_width_case_space_and_invisible_characters():
    assert normalize("\ufeffＡＰＰ太卡了！！  服务\t\n差") == "app太卡了!! 服务 差"
    assert normalize("１２３１５") == "12315"


def test_normalize_simplifies_common_traditional_characters():
    assert normalize("這個服務態度太差，要求退貨") == "这个服务态度太差,要求退货"
    assert normalize("這個", simplify=False) == "這個"


@given(st.text(max_size=60))
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


def test_tokenize_keeps_domain_words_whole():
    tokens = tokenize("我要去黑猫投诉，还要打12315")
    assert "黑猫投诉" in tokens
    assert "12315" in tokens


def test_user_words_stay_in_their_own_segmenter():
    custom = Segmenter(["卡顿王"])
    assert "卡顿王" in custom.cut("这手机是卡顿王")
    assert "卡顿王" not in get_segmenter().cut("这手机是卡顿王")
    custom.add_words(["慢吞吞"])
    assert "慢吞吞" in custom.cut("客服慢吞吞的")


def test_segmenter_pickles_without_jieba_state():
    custom = Segmenter(["卡顿王"])
    custom.cut("预热")
    restored = pickle.loads(pickle.dumps(custom))
    assert restored.words == ("卡顿王",)
    assert len(pickle.dumps(custom)) < 500
    assert "卡顿王" in restored.cut("这手机是卡顿王")


def test_shared_segmenter_is_cached_per_word_set():
    assert get_segmenter(["甲乙丙"]) is get_segmenter(["甲乙丙"])
    assert get_segmenter(["甲乙丙"]) is not get_segmenter()


def test_stopwords_file_loads_and_keeps_negations_out():
    words = load_stopwords()
    assert {"的", "了", "我们"} <= words
    assert not {"不", "没", "没有", "别"} & words
    assert "客服" in load_stopwords(extra=["客服"])


def test_keywords_rank_specific_words_and_skip_stop_words():
    text = "热水器漏水，漏水严重，客服态度恶劣，师傅上门三次都没修好热水器"
    keywords = extract_keywords(text, top_k=4)
    words = [k.word for k in keywords]
    assert len(keywords) == 4
    assert {"漏水", "热水器"} <= set(words)
    assert not set(words) & load_stopwords()
    weights = [k.weight for k in keywords]
    assert weights == sorted(weights, reverse=True)
    assert 0 < sum(weights) <= 1.0 + 1e-6


def test_keywords_of_empty_or_stopword_text():
    assert extract_keywords("") == []
    assert extract_keywords("的了吗") == []
    assert extract_keywords("漏水", top_k=0) == []


def test_only_a_few_segmenters_are_kept():
    """Each word set's tokenizer carries jieba's whole dictionary: old sets are dropped."""
    from kesu.triage import text

    first = get_segmenter(["旧词甲"])
    assert get_segmenter(["旧词甲"]) is first
    for i in range(text.MAX_SEGMENTERS):
        get_segmenter([f"新词{i}"])
    assert len(text._segmenters) == text.MAX_SEGMENTERS
    assert get_segmenter(["旧词甲"]) is not first  # evicted, built again (lazily)
