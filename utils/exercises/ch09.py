"""Chapter 09 exercises: a self-check quiz (value answers), explained in the solutions notebook."""

from __future__ import annotations

from utils.exercises.core import Exercise, Mistake, register

register(Exercise(
    id="09.1",
    title="the variance of q·k",
    kind="value",
    reference=64,
    mistakes=[
        Mistake("8 = √64 is the standard deviation of q·k; the variance of a sum of 64 independent "
                "unit-variance products is 64.", 8),
        Mistake("1 is the variance AFTER dividing by √d_k; the question asks about the raw dot product.", 1),
        Mistake("the variance does not depend on the number of keys, only on d_k.", 4096),
    ],
))

register(Exercise(
    id="09.2",
    title="an nn.MultiheadAttention causal mask passed to scaled_dot_product_attention",
    kind="value",
    reference="c",
    mistakes=[
        Mistake("SDPA reads a boolean mask as True = MAY attend, so triu(diagonal=1) allows exactly the future.", "a"),
        Mistake("no error is raised: the shape and dtype are valid, which is why this bug is silent.", "b"),
        Mistake("SDPA returns zeros, not NaN, for the one fully masked row (the last query); the other rows "
                "are finite but look only at later tokens.", "d"),
    ],
))

register(Exercise(
    id="09.3",
    title="the shape of cross-attention weights",
    kind="value",
    reference=(2, 4, 3, 7),
    mistakes=[
        Mistake("rows are queries (3 decoder positions), columns are keys (7 encoder positions).", (2, 4, 7, 3)),
        Mistake("that is self-attention's shape: in cross-attention the keys come from the other sequence.",
                (2, 4, 3, 3)),
        Mistake("that is torch.nn.MultiheadAttention's default (average_attn_weights=True averages over heads); "
                "per head the weights are (batch, heads, n_q, n_k).", (2, 3, 7)),
    ],
))

register(Exercise(
    id="09.4",
    title="what Keras' return_attention_scores returns",
    kind="value",
    reference="b",
    mistakes=[
        Mistake("despite its name, Keras returns the weights AFTER softmax (each row sums to 1).", "a"),
        Mistake("Keras returns softmax(QKᵀ/√d_k) masked, not unscaled logits.", "c"),
    ],
))

register(Exercise(
    id="09.5",
    title="KV-cache size with grouped-query attention (MiB)",
    kind="value",
    reference=512,
    mistakes=[
        Mistake("2048 MiB is the cache with 32 key/value heads (plain MHA); GQA stores only the 8 KV heads.", 2048),
        Mistake("count both K and V: the cache holds 2 tensors per layer.", 256),
        Mistake("float16 takes 2 bytes per number, not 4.", 1024),
        Mistake("MQA (one KV head) would be 64 MiB; the question has 8 KV heads.", 64),
    ],
))

register(Exercise(
    id="09.6",
    title="why frameworks differ in the 7th digit",
    kind="value",
    reference="b",
    mistakes=[
        Mistake("a difference of ~1e-7 relative is the size of float32 rounding, not a bug; a bug gives "
                "differences of order 1.", "a"),
        Mistake("there is no randomness in a forward pass without dropout; the same inputs give the same "
                "numbers in one framework, run after run.", "c"),
    ],
))
