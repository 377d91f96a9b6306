"""Small NumPy demos for chapters 01 and 02: key-value retrieval and kernel regression.

Chapter 01 uses the retrieval task to show the fixed-size bottleneck: a summary whose size
does not grow with the sequence forgets pairs as the sequence grows, attention does not.
Chapter 02 uses Nadaraya–Watson kernel regression as the oldest form of attention pooling.
"""

from __future__ import annotations

import numpy as np

from utils.core.attention_numpy import scaled_dot_product_attention

# ---------------------------------------------------------------- chapter 01: retrieval


def make_retrieval_batch(
    batch: int, seq_len: int, d_k: int, d_v: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (queries (batch, d_k), keys (batch, n, d_k), values (batch, n, d_v), targets (batch,)).

    Keys are standard normal; values are random unit vectors; each query equals the key at
    position targets[b], so the task is "give me the value stored under this key".
    """
    d_v = d_k if d_v is None else d_v
    for name, val in (("batch", batch), ("seq_len", seq_len), ("d_k", d_k), ("d_v", d_v)):
        if not isinstance(val, int | np.integer) or val < 1:
            raise ValueError(f"{name} must be a positive int, got {val!r}")
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((batch, seq_len, d_k))
    values = rng.standard_normal((batch, seq_len, d_v))
    values /= np.linalg.norm(values, axis=-1, keepdims=True)
    targets = rng.integers(0, seq_len, size=batch)
    queries = keys[np.arange(batch), targets]
    return queries, keys, values, targets


def _check_batch(queries: np.ndarray, keys: np.ndarray, values: np.ndarray) -> None:
    if queries.ndim != 2 or keys.ndim != 3 or values.ndim != 3:
        raise ValueError(
            "queries must be (batch, d_k), keys (batch, n, d_k), values (batch, n, d_v); got "
            f"queries {queries.shape}, keys {keys.shape}, values {values.shape}"
        )
    if keys.shape[:2] != values.shape[:2] or queries.shape[0] != keys.shape[0] or queries.shape[1] != keys.shape[2]:
        raise ValueError(
            f"shapes do not match: queries {queries.shape}, keys {keys.shape}, values {values.shape}"
        )


def mean_value_summary(values: np.ndarray) -> np.ndarray:
    """Mean of the values over positions, (batch, n, d_v) -> (batch, d_v): ignores the query."""
    values = np.asarray(values)
    if values.ndim != 3:
        raise ValueError(f"values must have shape (batch, n, d_v), got {values.shape}")
    return values.mean(axis=1)


def outer_product_summary(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean over positions of kᵢ vᵢᵀ, (batch, d_k, d_v): a fixed-size memory of all pairs."""
    keys, values = np.asarray(keys), np.asarray(values)
    if keys.ndim != 3 or values.ndim != 3 or keys.shape[:2] != values.shape[:2]:
        raise ValueError(f"keys (batch, n, d_k) and values (batch, n, d_v) must match, got {keys.shape}, {values.shape}")
    return np.einsum("bnk,bnv->bkv", keys, values) / keys.shape[1]


def read_outer_product_summary(summary: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Read a (batch, d_k, d_v) summary with (batch, d_k) queries: returns qᵀM, (batch, d_v)."""
    summary, queries = np.asarray(summary), np.asarray(queries)
    if summary.ndim != 3 or queries.ndim != 2 or summary.shape[:2] != queries.shape:
        raise ValueError(f"summary must be (batch, d_k, d_v) and queries (batch, d_k), got {summary.shape}, {queries.shape}")
    return np.einsum("bk,bkv->bv", queries, summary)


def attention_readout(queries: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Scaled dot-product attention of one query per sequence: (batch, d_v)."""
    queries, keys, values = np.asarray(queries), np.asarray(keys), np.asarray(values)
    _check_batch(queries, keys, values)
    out, _ = scaled_dot_product_attention(queries[:, None, :], keys, values)
    return out[:, 0, :]


def retrieval_accuracy(predicted: np.ndarray, values: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of sequences whose prediction is closest (dot product) to the target's value."""
    predicted, values, targets = np.asarray(predicted), np.asarray(values), np.asarray(targets)
    if predicted.ndim != 2 or values.ndim != 3 or predicted.shape != (values.shape[0], values.shape[2]):
        raise ValueError(f"predicted must be (batch, d_v) for values (batch, n, d_v), got {predicted.shape}, {values.shape}")
    if targets.shape != (values.shape[0],):
        raise ValueError(f"targets must have shape ({values.shape[0]},), got {targets.shape}")
    chosen = np.argmax(np.einsum("bv,bnv->bn", predicted, values), axis=-1)
    return float(np.mean(chosen == targets))


def retrieval_accuracy_by_length(
    lengths: list[int], d_k: int = 32, batch: int = 200, seed: int = 0
) -> dict[str, np.ndarray]:
    """Accuracy of the three readers (mean of values, outer-product memory, attention) per length."""
    acc: dict[str, list[float]] = {"mean of values": [], "outer-product memory": [], "attention": []}
    for i, n in enumerate(lengths):
        q, k, v, t = make_retrieval_batch(batch, n, d_k, seed=seed + i)
        acc["mean of values"].append(retrieval_accuracy(mean_value_summary(v), v, t))
        acc["outer-product memory"].append(retrieval_accuracy(read_outer_product_summary(outer_product_summary(k, v), q), v, t))
        acc["attention"].append(retrieval_accuracy(attention_readout(q, k, v), v, t))
    return {name: np.array(vals) for name, vals in acc.items()}


# ---------------------------------------------------------------- chapter 02: kernel regression


def make_regression_data(n: int = 40, noise: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted x in [0, 5) and noisy y = 2 sin(x) + x, both shape (n,)."""
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 5.0, size=n))
    return x, regression_target(x) + noise * rng.standard_normal(n)


def regression_target(x: np.ndarray) -> np.ndarray:
    """The noise-free function of the 1-D example: 2 sin(x) + x."""
    return 2.0 * np.sin(x) + x


def gaussian_kernel_scores(x_query: np.ndarray, x_train: np.ndarray, sigma: float) -> np.ndarray:
    """Attention scores -(x - xᵢ)² / (2σ²), shape (n_query, n_train)."""
    x_query, x_train = np.asarray(x_query, dtype=float), np.asarray(x_train, dtype=float)
    if x_query.ndim != 1 or x_train.ndim != 1:
        raise ValueError(f"x_query and x_train must be 1-D, got shapes {x_query.shape} and {x_train.shape}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    return -((x_query[:, None] - x_train[None, :]) ** 2) / (2.0 * sigma**2)


def gaussian_kernel(u: np.ndarray, sigma: float) -> np.ndarray:
    """The Gaussian kernel K(u) = exp(-u² / (2σ²)) / √(2πσ²), elementwise."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    u = np.asarray(u, dtype=float)
    return np.exp(-(u**2) / (2.0 * sigma**2)) / np.sqrt(2.0 * np.pi * sigma**2)


def nadaraya_watson(
    x_query: np.ndarray, x_train: np.ndarray, y_train: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kernel regression ŷ(x) = Σᵢ K(x - xᵢ) yᵢ / Σⱼ K(x - xⱼ), as the textbook writes it; returns (ŷ, weights).

    This is the direct formula, not the softmax form, so chapter 02 can check that the two
    agree. It raises when every kernel value of a query underflows to 0 (σ far too small).
    """
    x_query, x_train = np.asarray(x_query, dtype=float), np.asarray(x_train, dtype=float)
    y_train = np.asarray(y_train, dtype=float)
    if x_query.ndim != 1 or x_train.ndim != 1 or y_train.shape != x_train.shape:
        raise ValueError(
            f"x_query, x_train, y_train must be 1-D with len(y_train) == len(x_train); got shapes "
            f"{x_query.shape}, {x_train.shape}, {y_train.shape}"
        )
    kernel = gaussian_kernel(x_query[:, None] - x_train[None, :], sigma)  # (n_query, n_train)
    total = kernel.sum(axis=1, keepdims=True)
    if np.any(total == 0):
        raise ValueError(f"sigma={sigma!r} is so small that every kernel value underflows to 0 for some query; "
                         "use the softmax form, softmax(gaussian_kernel_scores(...)), which is stable")
    weights = kernel / total
    return weights @ y_train, weights
