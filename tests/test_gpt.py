"""The small GPT of chapter 10: NumPy reference, PyTorch and Keras twins, KV cache, sliding window, bench group."""

import numpy as np
import pytest
import torch

from utils.efficient.kv_cache_numpy import KVCache
from utils.models import gpt_numpy as ref
from utils.models import gpt_torch
from utils.models.gpt_numpy import GPTConfig

CFG = GPTConfig(vocab=40, d_model=32, n_heads=4, n_kv_heads=2, n_layers=2, d_ff=48, context=16)


def _params(cfg=CFG, seed=0):
    """Seeded parameters with non-trivial LayerNorm gains and biases, so a swapped gamma/beta shows."""
    p = ref.init_gpt_params(cfg, seed)
    rng = np.random.default_rng(seed + 7)
    for layer in p["layers"]:
        for key in ("ln1_g", "ln1_b", "ln2_g", "ln2_b", "b1", "b2"):
            layer[key] = layer[key] + rng.normal(scale=0.2, size=layer[key].shape).astype(np.float32)
    p["ln_f_b"] = p["ln_f_b"] + rng.normal(scale=0.2, size=cfg.d_model).astype(np.float32)
    return p


def _tokens(batch=2, t=12, seed=1, vocab=CFG.vocab):
    return np.random.default_rng(seed).integers(0, vocab, size=(batch, t))


# ---------------------------------------------------------------- NumPy reference


def test_flash_attention_gives_the_reference_logits():
    p, x = _params(), _tokens()
    np.testing.assert_allclose(ref.gpt_logits(p, x, CFG, attention="flash"), ref.gpt_logits(p, x, CFG), atol=1e-5)
    with pytest.raises(ValueError, match="attention must be one of"):
        ref.gpt_logits(p, x, CFG, attention="sdpa")


def test_numpy_cache_gives_the_full_logits_and_positions_matter():
    p, x = _params(), _tokens()
    cache = KVCache(CFG.n_layers)
    parts = [ref.gpt_logits(p, x[:, :5], CFG, cache), ref.gpt_logits(p, x[:, 5:6], CFG, cache),
             ref.gpt_logits(p, x[:, 6:], CFG, cache)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), ref.gpt_logits(p, x, CFG), atol=1e-5)
    # a suffix changes nothing before it (causal)
    np.testing.assert_allclose(ref.gpt_logits(p, x[:, :4], CFG), ref.gpt_logits(p, x, CFG)[:, :4], atol=1e-5)


@pytest.mark.parametrize("rope", [True, False])
def test_order_of_the_prefix_matters_only_with_rope(rope):
    # one layer: without positions the last query sees its prefix as a set (with more layers the causal
    # mask itself leaks order: earlier tokens' states depend on their own prefixes)
    cfg = GPTConfig(**{**CFG.__dict__, "rope": rope, "n_layers": 1})
    p = _params(cfg)
    last = [ref.gpt_logits(p, np.array([order]), cfg)[0, -1] for order in ([3, 8, 5, 9], [8, 5, 3, 9])]
    assert (np.abs(last[0] - last[1]).max() > 1e-3) == rope


def test_config_and_token_validation():
    with pytest.raises(ValueError, match="n_kv_heads must divide n_heads"):
        GPTConfig(vocab=10, n_heads=4, n_kv_heads=3)
    with pytest.raises(ValueError, match="even int"):
        GPTConfig(vocab=10, d_model=12, n_heads=4, n_kv_heads=2)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, vocab=40\)"):
        ref.gpt_logits(_params(), np.array([[1, 40]]), CFG)
    with pytest.raises(ValueError, match="int array"):
        ref.gpt_logits(_params(), np.zeros((2, 3)), CFG)


def test_window_mask():
    m = ref.window_mask(3, 5, window=2)
    assert m.tolist() == [[False, True, True, False, False], [False, False, True, True, False],
                          [False, False, False, True, True]]
    assert ref.window_mask(4, 4).tolist() == np.tril(np.ones((4, 4), bool)).tolist()


def test_attention_maps_are_causal_distributions():
    maps = ref.attention_maps(_params(), _tokens(), CFG)
    assert len(maps) == CFG.n_layers and maps[0].shape == (2, CFG.n_heads, 12, 12)
    for w in maps:
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
        assert np.all(np.triu(w, k=1) == 0)


def test_offset_profile_finds_a_fixed_offset():
    t = 20
    w = np.zeros((2, t, t))
    w[0] = np.eye(t)                                   # head 0: itself
    w[1, np.arange(t), np.maximum(np.arange(t) - 6, 0)] = 1.0   # head 1: six back
    prof = ref.offset_profile(w, 8)
    assert prof.shape == (2, 9) and prof[0, 0] == 1 and prof[1, 6] == 1 and prof[1].sum() == 1


def test_cross_entropy_and_bigram():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    assert ref.cross_entropy(logits, np.array([0, 2])) == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2)
    train = np.array([0, 1, 0, 1, 0, 2])
    lp = ref.bigram_log_probs(train, 3, alpha=0.0 + 1e-12)
    assert np.exp(lp[0, 1]) == pytest.approx(2 / 3) and np.exp(lp[1, 0]) == pytest.approx(1.0)
    assert ref.bigram_loss(train, np.array([0, 1, 0]), 3, 1e-12) == pytest.approx(-(np.log(2 / 3) + 0) / 2, abs=1e-9)


def test_sample_windows_shift_by_one():
    ids = np.arange(100)
    x, y = ref.sample_windows(ids, 5, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8) and np.all(y == x + 1)
    with pytest.raises(ValueError, match="fewer than context"):
        ref.sample_windows(ids[:8], 1, 8, np.random.default_rng(0))


# ---------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("attention", gpt_torch.ATTENTION_KINDS)
def test_torch_logits_equal_numpy(attention):
    p, x = _params(), _tokens()
    model = gpt_torch.gpt_from_numpy(p, CFG)
    got = model(torch.from_numpy(x), attention=attention).detach().numpy()
    np.testing.assert_allclose(got, ref.gpt_logits(p, x, CFG), atol=1e-5)


def test_torch_first_step_loss_and_round_trip():
    p, x = _params(), _tokens(t=CFG.context + 1)
    model = gpt_torch.gpt_from_numpy(p, CFG)
    loss = gpt_torch.lm_loss(model, torch.from_numpy(x[:, :-1]), torch.from_numpy(x[:, 1:])).item()
    assert loss == pytest.approx(ref.cross_entropy(ref.gpt_logits(p, x[:, :-1], CFG), x[:, 1:]), abs=1e-5)
    back = gpt_torch.gpt_to_numpy(model, p)
    np.testing.assert_array_equal(back["layers"][1]["attn"]["W_k"], p["layers"][1]["attn"]["W_k"])
    np.testing.assert_array_equal(back["layers"][0]["ln2_b"], p["layers"][0]["ln2_b"])
    bad = ref.init_gpt_params(GPTConfig(vocab=41, d_model=32, n_heads=4, n_kv_heads=2, n_layers=2, d_ff=48))
    with pytest.raises(ValueError, match="does not fit"):
        gpt_torch.gpt_from_numpy(bad, CFG)


def test_torch_cache_generation_equals_no_cache():
    model = gpt_torch.gpt_from_numpy(_params(), CFG)
    prompt = _tokens(batch=2, t=3)
    with_cache = gpt_torch.generate(model, prompt, 30)
    assert with_cache.shape == (2, 33) and np.array_equal(with_cache[:, :3], prompt)
    assert np.array_equal(with_cache, gpt_torch.generate(model, prompt, 30, use_cache=False))


def test_window_cache_equals_windowed_attention_and_stays_flat():
    model = gpt_torch.gpt_from_numpy(_params(), CFG)
    prompt, window = _tokens(batch=1, t=5), 8
    sizes = []
    cache = gpt_torch.WindowKVCache(CFG.n_layers, window)
    out = gpt_torch.generate(model, prompt, 40, window=window, cache=cache)
    sizes.append(cache.nbytes)
    assert np.array_equal(out, gpt_torch.generate(model, prompt, 40, use_cache=False, window=window))
    # the windowed logits of the whole text, from the masked reference kernel, pick the same tokens
    logits = model(torch.from_numpy(out), attention="reference", window=window)
    assert np.array_equal(logits[0, 4:-1].argmax(-1).numpy(), out[0, 5:])
    assert cache.nbytes == 2 * CFG.n_layers * CFG.n_kv_heads * window * CFG.d_head * 4
    full = gpt_torch.WindowKVCache(CFG.n_layers)
    gpt_torch.generate(model, prompt, 40, cache=full)
    # the last generated token is never fed back: 5 prompt + 39 generated positions are cached
    assert full.nbytes == 2 * CFG.n_layers * CFG.n_kv_heads * 44 * CFG.d_head * 4 and full.position == 44


def test_torch_training_lowers_the_loss_and_eval_loss_counts_every_target():
    ids = np.tile(np.arange(10), 40)                  # a perfectly predictable stream
    model = gpt_torch.gpt_from_numpy(_params(), CFG)
    before = gpt_torch.eval_loss(model, ids)
    losses = gpt_torch.train_gpt(model, ids, steps=60, batch=8, lr=1e-2, progress=False)
    assert len(losses) == 60 and gpt_torch.eval_loss(model, ids) < 0.3 < before
    # eval_loss = the mean over every target of the stream, windows or not
    p, short = _params(), _tokens(batch=1, t=CFG.context * 2 + 5)[0]
    expected = ref.cross_entropy(np.concatenate([ref.gpt_logits(p, short[None, :16], CFG)[0],
                                                 ref.gpt_logits(p, short[None, 16:32], CFG)[0],
                                                 ref.gpt_logits(p, short[None, 32:-1], CFG)[0]]), short[1:])
    assert gpt_torch.eval_loss(gpt_torch.gpt_from_numpy(p, CFG), short) == pytest.approx(expected, abs=1e-5)


def test_bench_group_records():
    from utils.bench import lm_generate

    records = lm_generate.run_lm_generate(8)
    assert [r["impl"] for r in records] == ["torch_no_cache", "torch_cache", "torch_cache_window"]
    assert all({"tokens", "seconds", "cache_bytes"} <= r.keys() and r["tokens"] == 8 for r in records)
    assert records[0]["cache_bytes"] == 0 < records[2]["cache_bytes"] <= records[1]["cache_bytes"]
    assert lm_generate.target_checks(records)[0].endswith("not judged: the target is at 512 tokens, this run made 8")
