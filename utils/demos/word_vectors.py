"""Word vectors that carry meaning, made from a corpus with no download: counts → PPMI → SVD.

Words that appear in the same contexts (cat, dog; bread, soup) get similar rows in the
positive pointwise-mutual-information (PPMI) matrix, and a truncated SVD compresses those
rows into short dense vectors (the "count-based" word vectors of Levy & Goldberg, 2014).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def tokenize_sentences(text: str) -> list[list[str]]:
    """Split text into sentences (one per line) of lower-case word tokens; empty lines are dropped."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    sentences = [re.findall(r"[a-z0-9']+", line.lower()) for line in text.splitlines()]
    return [s for s in sentences if s]


def build_vocabulary(sentences: Sequence[Sequence[str]], min_count: int = 1) -> list[str]:
    """Sorted list of the words that occur at least `min_count` times."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence:
            counts[word] = counts.get(word, 0) + 1
    vocab = sorted(w for w, c in counts.items() if c >= min_count)
    if not vocab:
        raise ValueError(f"no word occurs at least min_count={min_count} times in {len(sentences)} sentences")
    return vocab


def cooccurrence_counts(sentences: Sequence[Sequence[str]], vocab: Sequence[str], window: int = 2) -> np.ndarray:
    """Symmetric (V, V) counts of word pairs at most `window` positions apart within a sentence."""
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    index = {w: i for i, w in enumerate(vocab)}
    counts = np.zeros((len(vocab), len(vocab)), dtype=np.float64)
    for sentence in sentences:
        ids = [index[w] for w in sentence if w in index]
        for pos, i in enumerate(ids):
            for j in ids[pos + 1 : pos + 1 + window]:
                counts[i, j] += 1.0
                counts[j, i] += 1.0
    return counts


def ppmi_matrix(counts: np.ndarray) -> np.ndarray:
    """Positive PMI: max(0, log p(w, c) / (p(w) p(c))) of a (V, V) co-occurrence count matrix."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"counts must be a square (V, V) matrix, got shape {counts.shape}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError(f"counts must be finite and non-negative (shape {counts.shape})")
    total = counts.sum()
    if total == 0:
        raise ValueError(f"counts are all zero (shape {counts.shape}): no co-occurrences to measure")
    row = counts.sum(axis=1, keepdims=True)
    col = counts.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * total / (row * col))
    return np.where(counts > 0, np.maximum(pmi, 0.0), 0.0)


def svd_word_vectors(ppmi: np.ndarray, dim: int) -> np.ndarray:
    """(V, dim) unit-length word vectors: the top `dim` left singular vectors scaled by √σ."""
    ppmi = np.asarray(ppmi, dtype=np.float64)
    if ppmi.ndim != 2:
        raise ValueError(f"ppmi must be a 2-D matrix, got shape {ppmi.shape}")
    if not isinstance(dim, int) or not 1 <= dim <= min(ppmi.shape):
        raise ValueError(f"dim must be an int in [1, {min(ppmi.shape)}] for ppmi of shape {ppmi.shape}, got {dim!r}")
    u, s, _ = np.linalg.svd(ppmi)
    vectors = u[:, :dim] * np.sqrt(s[:dim])
    # SVD signs are arbitrary: make each component's largest entry positive, for reproducible output.
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(dim)])
    vectors = vectors * np.where(signs == 0, 1.0, signs)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of the last axes of a and b (broadcast); zero vectors give 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape[-1:] != b.shape[-1:]:
        raise ValueError(f"a and b must have the same last dimension, got shapes {a.shape} and {b.shape}")
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    dot = np.sum(a * b, axis=-1)
    denom = na * nb
    return np.divide(dot, denom, out=np.zeros_like(dot * 1.0), where=denom > 0)


@dataclass
class WordVectors:
    """A vocabulary and its (V, dim) unit-length vectors, one row per word."""

    vocab: list[str]
    vectors: np.ndarray

    def index(self, word: str) -> int:
        """Row of `word` in `vectors`; a KeyError names an unknown word."""
        try:
            return self.vocab.index(word)
        except ValueError:
            raise KeyError(f"{word!r} is not in the vocabulary of {len(self.vocab)} words") from None

    def embed(self, tokens: Sequence[str]) -> np.ndarray:
        """(len(tokens), dim) matrix of the tokens' vectors."""
        return self.vectors[[self.index(t) for t in tokens]]

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(cosine_similarity(self.vectors[self.index(a)], self.vectors[self.index(b)]))

    def most_similar(self, word: str, top: int = 5) -> list[tuple[str, float]]:
        """The `top` other words with the highest cosine similarity to `word`."""
        sims = cosine_similarity(self.vectors, self.vectors[self.index(word)])
        order = [i for i in np.argsort(-sims, kind="stable") if self.vocab[i] != word]
        return [(self.vocab[i], float(sims[i])) for i in order[:top]]


def word_vectors_from_text(text: str, dim: int = 16, window: int = 2, min_count: int = 1) -> WordVectors:
    """Tokenise `text`, count co-occurrences, take PPMI and an SVD: return WordVectors."""
    sentences = tokenize_sentences(text)
    vocab = build_vocabulary(sentences, min_count)
    counts = cooccurrence_counts(sentences, vocab, window)
    return WordVectors(vocab, svd_word_vectors(ppmi_matrix(counts), dim))
