"""Chapter 06 helpers: load the three toy tasks, tokenise, score, and measure where attention lands.

The tasks' files come from `utils.datagen.applications` (dates.tsv, reports.tsv, babi_qa.tsv).
Tokens are words, single digits and single punctuation marks, so "28 novembre 2026" becomes
["2", "8", "novembre", "2", "0", "2", "6"]: a model can copy digits it has never seen together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from utils.data import load_text

TOKEN = re.compile(r"\d|[^\W\d_]+|[^\w\s]")
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(4)


def tokenize_text(text: str) -> list[str]:
    """Split text into words, single digits and single punctuation marks."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return TOKEN.findall(text)


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens for display: digits run together, no space before '%', none around '-'."""
    out = ""
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        glue = (tok.isdigit() and (prev.isdigit() or prev == "Q")) or tok in ("%", "-") or prev == "-"
        out += tok if (i == 0 or glue) else " " + tok
    return out


def load_task(name: str) -> dict[str, dict[str, list[str]]]:
    """Read a verified TSV data file into {split: {column: values}} (splits 'train' and 'test')."""
    lines = load_text(name).rstrip("\n").split("\n")
    header = lines[0].split("\t")
    if header[0] != "split":
        raise ValueError(f"{name} must start with a 'split' column, got header {header}")
    splits: dict[str, dict[str, list[str]]] = {}
    for line in lines[1:]:
        values = line.split("\t")
        columns = splits.setdefault(values[0], {col: [] for col in header[1:]})
        for col, val in zip(header[1:], values[1:]):
            columns[col].append(val)
    return splits


@dataclass
class Vocab:
    """Token <-> id maps; ids 0..3 are <pad>, <bos>, <eos>, <unk>."""

    itos: list[str]
    stoi: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        if tuple(self.itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {self.itos[:4]}")
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of `tokens`; unknown tokens become <unk>."""
        return [self.stoi.get(tok, UNK) for tok in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Tokens of `ids` up to the first <eos>, skipping <pad> and <bos>."""
        out = []
        for i in (int(x) for x in ids):
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.itos[i] if 0 <= i < len(self.itos) else "<unk>")
        return out


def build_vocab(token_lists: Sequence[Sequence[str]]) -> Vocab:
    """A Vocab of the specials followed by every token seen, in sorted order."""
    seen = sorted({tok for tokens in token_lists for tok in tokens} - set(SPECIALS))
    return Vocab([*SPECIALS, *seen])


def encode_batch(token_lists: Sequence[Sequence[str]], vocab: Vocab, max_len: int,
                 bos: bool = False, eos: bool = True) -> np.ndarray:
    """(batch, max_len) int64 ids, optionally with <bos>/<eos>, padded with <pad>; raises if too long."""
    out = np.full((len(token_lists), max_len), PAD, dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        ids = [BOS] * bos + vocab.encode(tokens) + [EOS] * eos
        if len(ids) > max_len:
            raise ValueError(f"max_len={max_len} is too short for example {row}, which needs {len(ids)} ids")
        out[row, : len(ids)] = ids
    return out


# ---------------------------------------------------------------- scores


def exact_match_ids(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(batch,) bool: each row equals its target up to and including the target's first <eos>.

    Positions after the target's <eos> (padding in the target, anything in the prediction)
    are ignored; a target without <eos> must match over its full length.
    """
    predicted, target = np.asarray(predicted), np.asarray(target)
    if predicted.ndim != 2 or target.ndim != 2 or predicted.shape[0] != target.shape[0]:
        raise ValueError(f"predicted and target must be (batch, len) with the same batch, "
                         f"got {predicted.shape} and {target.shape}")
    length = target.shape[1]
    if predicted.shape[1] < length:  # a shorter prediction is padded, so it can still be scored
        predicted = np.pad(predicted, ((0, 0), (0, length - predicted.shape[1])), constant_values=PAD)
    is_eos = target == EOS
    stop = np.where(is_eos.any(axis=1), is_eos.argmax(axis=1), length - 1)  # index of the first <eos>
    scored = np.arange(length)[None, :] <= stop[:, None]  # (batch, len)
    return ((predicted[:, :length] == target) | ~scored).all(axis=1)


def exact_match_tokens(predicted: Sequence[Sequence[str]], target: Sequence[Sequence[str]]) -> float:
    """Fraction of token sequences equal to their target, token for token."""
    if len(predicted) != len(target):
        raise ValueError(f"predicted has {len(predicted)} sequences, target has {len(target)}")
    if not target:
        raise ValueError("exact_match_tokens needs at least one example")
    return float(np.mean([list(p) == list(t) for p, t in zip(predicted, target)]))


def exact_match_by_group(predicted: Sequence[Sequence[str]], target: Sequence[Sequence[str]],
                         groups: Sequence[str]) -> dict[str, tuple[float, int]]:
    """{group: (exact match, count)} for each group label, in sorted order."""
    if not len(predicted) == len(target) == len(groups):
        raise ValueError(f"lengths differ: predicted {len(predicted)}, target {len(target)}, groups {len(groups)}")
    out = {}
    for g in sorted(set(groups)):
        idx = [i for i, x in enumerate(groups) if x == g]
        out[g] = (exact_match_tokens([predicted[i] for i in idx], [target[i] for i in idx]), len(idx))
    return out


# ---------------------------------------------------------------- where attention lands


def sentence_ids(tokens: Sequence[str], end: str = ".") -> np.ndarray:
    """(len,) int: the index of the sentence each token belongs to; -1 after the last `end`."""
    ids, current = [], 0
    for tok in tokens:
        ids.append(current)
        if tok == end:
            current += 1
    ids = np.array(ids, dtype=np.int64)
    last_end = max((i for i, tok in enumerate(tokens) if tok == end), default=-1)
    ids[last_end + 1:] = -1
    return ids


def sentence_attention_mass(weights: np.ndarray, sent_ids: np.ndarray) -> np.ndarray:
    """(n_sentences,) attention mass per sentence: weights (n_src,) or (heads, n_src) summed over heads."""
    w, sent_ids = np.asarray(weights, dtype=np.float64), np.asarray(sent_ids)
    if w.ndim == 2:
        w = w.sum(axis=0)
    if w.ndim != 1 or sent_ids.ndim != 1 or w.shape[0] < sent_ids.shape[0]:
        raise ValueError(f"weights must be (n_src,) or (heads, n_src) with n_src >= len(sent_ids), "
                         f"got weights {np.shape(weights)} and sent_ids {sent_ids.shape}")
    if (sent_ids >= 0).sum() == 0:
        raise ValueError("sent_ids marks no sentence (all -1)")
    w = w[: sent_ids.shape[0]]  # positions past the tokens are padding
    n_sentences = int(sent_ids.max()) + 1
    return np.bincount(sent_ids[sent_ids >= 0], weights=w[sent_ids >= 0], minlength=n_sentences)


def attended_sentence(weights: np.ndarray, sent_ids: np.ndarray) -> int:
    """Index of the sentence that receives the most attention mass (summed over its tokens and heads)."""
    return int(np.argmax(sentence_attention_mass(weights, sent_ids)))


def supporting_fact_rate(weights: Sequence[np.ndarray], sent_ids: Sequence[np.ndarray],
                         supports: Sequence[int]) -> tuple[float, float]:
    """(fraction of examples whose most-attended sentence is the supporting one, chance = mean 1/n_sentences)."""
    if not len(weights) == len(sent_ids) == len(supports) or not len(supports):
        raise ValueError(f"need equally many weights, sent_ids and supports (> 0), got "
                         f"{len(weights)}, {len(sent_ids)}, {len(supports)}")
    hits = [attended_sentence(w, s) == int(k) for w, s, k in zip(weights, sent_ids, supports)]
    chance = [1.0 / (int(np.max(s)) + 1) for s in sent_ids]
    return float(np.mean(hits)), float(np.mean(chance))


# ---------------------------------------------------------------- question answering batches


def qa_batch(stories: Sequence[Sequence[str]], questions: Sequence[Sequence[str]], answers: Sequence[str],
             src_vocab: Vocab, tgt_vocab: Vocab, src_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src (batch, src_len), tgt_in (batch, 1 + q_len), tgt_out): the story is the encoder's input,
    <bos> + the question is the decoder's prompt, and only the last position is scored (its target
    is the answer; the other targets are <pad>, which the loss ignores)."""
    q_len = {len(q) for q in questions}
    if len(q_len) != 1 or not len(stories) == len(questions) == len(answers):
        raise ValueError(f"need equally many stories, questions, answers and one question length, got "
                         f"{len(stories)}, {len(questions)}, {len(answers)}, question lengths {sorted(q_len)}")
    src = encode_batch(stories, src_vocab, src_len, eos=False)
    tgt_in = encode_batch(questions, tgt_vocab, 1 + q_len.pop(), bos=True, eos=False)
    tgt_out = np.full_like(tgt_in, PAD)
    tgt_out[:, -1] = tgt_vocab.encode(list(answers))
    return src, tgt_in, tgt_out


def decoder_input(predicted: np.ndarray) -> np.ndarray:
    """<bos> followed by the predicted tokens minus the last: feeding it back gives the attention
    that produced each predicted token (row t of the cross-attention made token t)."""
    predicted = np.asarray(predicted)
    if predicted.ndim != 2:
        raise ValueError(f"predicted must be (batch, len), got shape {predicted.shape}")
    return np.concatenate([np.full((len(predicted), 1), BOS, dtype=predicted.dtype), predicted[:, :-1]], axis=1)
