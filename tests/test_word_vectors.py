"""Unit tests for utils.demos.word_vectors: counts, PPMI, SVD vectors that carry meaning."""

from __future__ import annotations

import numpy as np
import pytest

from utils.data import load_text
from utils.demos.word_vectors import (
    WordVectors,
    build_vocabulary,
    cooccurrence_counts,
    cosine_similarity,
    ppmi_matrix,
    svd_word_vectors,
    tokenize_sentences,
    word_vectors_from_text,
)


@pytest.fixture(scope="module")
def corpus_vectors() -> WordVectors:
    return word_vectors_from_text(load_text("corpus.txt"), dim=16, window=2)


def test_tokenize_lowercases_and_drops_empty_lines():
    assert tokenize_sentences("The Cat sat.\n\n  dog's bone ") == [["the", "cat", "sat"], ["dog's", "bone"]]
    with pytest.raises(ValueError, match="text"):
        tokenize_sentences(["not", "a", "string"])


def test_vocabulary_is_sorted_and_respects_min_count():
    sents = [["b", "a", "a"], ["c", "a"]]
    assert build_vocabulary(sents) == ["a", "b", "c"]
    assert build_vocabulary(sents, min_count=2) == ["a"]
    with pytest.raises(ValueError, match="min_count"):
        build_vocabulary(sents, min_count=5)


def test_cooccurrence_counts_window_by_hand():
    vocab = ["a", "b", "c"]
    counts = cooccurrence_counts([["a", "b", "c"]], vocab, window=1)
    np.testing.assert_array_equal(counts, [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    counts2 = cooccurrence_counts([["a", "b", "c"]], vocab, window=2)
    assert counts2[0, 2] == counts2[2, 0] == 1
    # pairs never cross sentence boundaries
    assert cooccurrence_counts([["a"], ["b"]], vocab, window=3).sum() == 0
    with pytest.raises(ValueError, match="window"):
        cooccurrence_counts([["a"]], vocab, window=0)


def test_ppmi_by_hand_and_non_negative():
    counts = np.array([[0.0, 2.0], [2.0, 2.0]])
    ppmi = ppmi_matrix(counts)
    # p(0,1) = 2/6, p(0) = 2/6, p(1) = 4/6 -> pmi = log(1.5)
    assert ppmi[0, 1] == pytest.approx(np.log(1.5))
    assert ppmi[0, 0] == 0.0  # zero count gives 0, not -inf
    assert ppmi[1, 1] == 0.0  # negative PMI clipped: log(2*6/16) < 0
    with pytest.raises(ValueError, match="square"):
        ppmi_matrix(np.ones((2, 3)))
    with pytest.raises(ValueError, match="all zero"):
        ppmi_matrix(np.zeros((2, 2)))


def test_svd_vectors_unit_norm_and_reconstruct_full_rank():
    rng = np.random.default_rng(0)
    a = rng.random((6, 6))
    sym = a + a.T
    vecs = svd_word_vectors(sym, 3)
    assert vecs.shape == (6, 3)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0)
    with pytest.raises(ValueError, match="dim"):
        svd_word_vectors(sym, 7)


def test_related_words_are_closer_than_unrelated(corpus_vectors):
    wv = corpus_vectors
    # two animals are closer than an animal and a food, or an animal and a place
    assert wv.similarity("cat", "dog") > wv.similarity("cat", "bread") + 0.3
    assert wv.similarity("cat", "dog") > wv.similarity("cat", "garden") + 0.3
    assert wv.similarity("bread", "soup") > wv.similarity("bread", "mary") + 0.3
    # every nearest neighbour of an animal is another animal
    animals = {"cat", "dog", "horse", "cow", "sheep", "bird"}
    assert {w for w, _ in wv.most_similar("cat", top=5)} == animals - {"cat"}


def test_word_vectors_embed_and_unknown_word(corpus_vectors):
    wv = corpus_vectors
    x = wv.embed(["the", "cat", "the"])
    assert x.shape == (3, 16)
    np.testing.assert_array_equal(x[0], x[2])
    with pytest.raises(KeyError, match="unicorn"):
        wv.index("unicorn")


def test_cosine_similarity_values_and_zero_vector():
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 2.0])) == 0.0
    assert cosine_similarity(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == pytest.approx(1.0)
    assert cosine_similarity(np.zeros(2), np.ones(2)) == 0.0
    with pytest.raises(ValueError, match="last dimension"):
        cosine_similarity(np.ones(2), np.ones(3))


def test_vectors_are_deterministic():
    text = load_text("corpus.txt")
    a = word_vectors_from_text(text, dim=8)
    b = word_vectors_from_text(text, dim=8)
    np.testing.assert_array_equal(a.vectors, b.vectors)
