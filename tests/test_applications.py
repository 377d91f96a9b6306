"""utils.demos.applications and the chapter 06 data generators: tokens, vocab, scores, attention metrics."""

import datetime as dt
import random

import numpy as np
import pytest

from utils.datagen.applications import (
    DATE_FORMATS,
    MONTHS,
    date_example,
    iso_date,
    qa_example,
    report_example,
)
from utils.demos.applications import (
    BOS,
    EOS,
    PAD,
    UNK,
    Vocab,
    attended_sentence,
    build_vocab,
    decoder_input,
    detokenize,
    encode_batch,
    exact_match_by_group,
    exact_match_ids,
    exact_match_tokens,
    load_task,
    qa_batch,
    sentence_attention_mass,
    sentence_ids,
    supporting_fact_rate,
    tokenize_text,
)


def test_tokenize_splits_digits_and_punctuation_and_detokenize_undoes_it():
    assert tokenize_text("28 novembre 2026") == ["2", "8", "novembre", "2", "0", "2", "6"]
    assert tokenize_text("Nov 28, 2026") == ["Nov", "2", "8", ",", "2", "0", "2", "6"]
    assert tokenize_text("1. März") == ["1", ".", "März"]
    for text in ("2026-11-28", "Acme Q3 revenue up 12%", "0987-08-14"):
        assert detokenize(tokenize_text(text)) == text
    with pytest.raises(ValueError, match="text must be a str"):
        tokenize_text(3)


def test_vocab_encode_decode_and_batch():
    vocab = build_vocab([["b", "a"], ["c"]])
    assert vocab.itos[4:] == ["a", "b", "c"] and len(vocab) == 7
    assert vocab.encode(["a", "zzz"]) == [4, UNK]
    assert vocab.decode([BOS, 4, 5, EOS, 6]) == ["a", "b"]
    batch = encode_batch([["a"], ["b", "c"]], vocab, 4, bos=True)
    np.testing.assert_array_equal(batch, [[BOS, 4, EOS, PAD], [BOS, 5, 6, EOS]])
    with pytest.raises(ValueError, match="max_len=3 is too short for example 1"):
        encode_batch([["a"], ["b", "c"]], vocab, 3, bos=True)
    with pytest.raises(ValueError, match="must start with"):
        Vocab(["a", "b"])


def test_exact_match_ids_ignores_after_eos_but_needs_the_eos():
    target = np.array([[5, 6, EOS, PAD], [5, 6, EOS, PAD], [5, 6, EOS, PAD], [7, 7, 7, 7]])
    pred = np.array([[5, 6, EOS, 9], [5, 6, 6, EOS], [5, 7, EOS, PAD], [7, 7, 7, 7]])
    np.testing.assert_array_equal(exact_match_ids(pred, target), [True, False, False, True])
    np.testing.assert_array_equal(exact_match_ids(pred[:, :3], target), [True, False, False, False])
    with pytest.raises(ValueError, match="same batch"):
        exact_match_ids(pred[:2], target)


def test_exact_match_on_tokens_and_by_group():
    pred, tgt = [["a"], ["b"], ["c"], ["d"]], [["a"], ["x"], ["c"], ["d"]]
    assert exact_match_tokens(pred, tgt) == 0.75
    assert exact_match_by_group(pred, tgt, ["g", "g", "h", "h"]) == {"g": (0.5, 2), "h": (1.0, 2)}
    with pytest.raises(ValueError, match="predicted has 1 sequences"):
        exact_match_tokens(pred[:1], tgt)


def test_sentence_ids_and_attention_mass():
    tokens = "mary went home . john left . where is mary ?".split()
    ids = sentence_ids(tokens)
    np.testing.assert_array_equal(ids, [0, 0, 0, 0, 1, 1, 1, -1, -1, -1, -1])
    w = np.zeros((2, 12))  # one padding position past the tokens
    w[0, 4], w[1, 0], w[1, 1], w[1, 8], w[0, 11] = 0.5, 0.3, 0.3, 5.0, 9.0
    np.testing.assert_allclose(sentence_attention_mass(w, ids), [0.6, 0.5])
    assert attended_sentence(w, ids) == 0  # summed over heads and tokens; question and padding ignored
    assert attended_sentence(w[0], ids) == 1
    with pytest.raises(ValueError, match="weights must be"):
        sentence_attention_mass(np.zeros(3), ids)


def test_supporting_fact_rate_and_chance():
    ids = [np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])]
    w = [np.array([0.1, 0.1, 0.4, 0.4]), np.array([0.7, 0.1, 0.1, 0.1])]
    rate, chance = supporting_fact_rate(w, ids, [1, 2])
    assert rate == 0.5 and chance == pytest.approx((1 / 2 + 1 / 4) / 2)


def test_qa_batch_scores_only_the_last_position_and_decoder_input_shifts():
    sv, tv = build_vocab([["mary", "went", "home", "."]]), build_vocab([["mary", "home"]])
    src, tgt_in, tgt_out = qa_batch([["mary", "went", "home", "."]], [["mary"]], ["home"], sv, tv, 5)
    assert src.shape == (1, 5) and tgt_in.tolist() == [[BOS, tv.stoi["mary"]]]
    assert tgt_out.tolist() == [[PAD, tv.stoi["home"]]]
    with pytest.raises(ValueError, match="one question length"):
        qa_batch([["a"], ["b"]], [["mary"], ["mary", "x"]], ["home", "home"], sv, tv, 5)
    np.testing.assert_array_equal(decoder_input(np.array([[7, 8, EOS]])), [[BOS, 7, 8]])


def test_date_generator_targets_are_the_dates_of_their_sources():
    rng = random.Random(1)
    for _ in range(300):
        fmt, source, target = date_example(rng)
        d = dt.date.fromisoformat(target)
        assert source == DATE_FORMATS[fmt](d) and iso_date(d) == target
        if fmt.startswith(("en", "fr", "de", "es")):
            lang = "en_abbr" if fmt == "en_abbr" else fmt.split("_")[0]
            assert MONTHS[lang][d.month - 1] in source.split() or f"{MONTHS[lang][d.month - 1]}" in source
    assert DATE_FORMATS["numeric_us"](dt.date(2026, 11, 28)) == "11/28/2026"
    assert DATE_FORMATS["fr"](dt.date(2026, 3, 1)) == "1er mars 2026"


def test_report_headline_matches_the_key_sentence():
    rng = random.Random(2)
    for _ in range(200):
        report, headline = report_example(rng)
        co, quarter, metric, direction, number = headline.split()
        assert report.startswith(f"{co} published results for the ")
        assert f" {number[:-1]} percent" in report and metric in report.lower()
        assert quarter in {"Q1", "Q2", "Q3", "Q4"} and direction in {"up", "down"}


def test_qa_support_is_the_last_sentence_about_the_asked_person():
    rng = random.Random(3)
    for _ in range(300):
        story, question, answer, support = qa_example(rng)
        who = question.split()[2]
        sentences = [s.split() for s in story.split(" .") if s.strip()]
        assert sentences[support][0] == who and sentences[support][-1] == answer
        assert all(s[0] != who for s in sentences[support + 1:])


def test_data_files_have_disjoint_splits():
    for name, key in (("dates.tsv", "source"), ("reports.tsv", "source"), ("babi_qa.tsv", "story")):
        task = load_task(name)
        assert set(task) == {"train", "test"}
        if key != "story":
            assert not set(task["train"][key]) & set(task["test"][key])
    babi = load_task("babi_qa.tsv")
    pairs = lambda s: set(zip(babi[s]["story"], babi[s]["question"]))  # noqa: E731
    assert not pairs("train") & pairs("test")
