"""KV cache: greedy tokens identical with and without the cache; cache bytes formula against real arrays."""

import numpy as np
import pytest
import torch

from utils.efficient import kv_cache_torch as kt
from utils.efficient.kv_cache_numpy import (
    DecoderConfig,
    KVCache,
    decode_step,
    decoder_logits,
    generate_greedy,
    init_decoder_params,
    kv_cache_bytes,
)

PROMPT = np.array([[1, 2, 3], [7, 5, 0]])


@pytest.mark.parametrize("g", [4, 2, 1])
def test_greedy_tokens_identical_with_and_without_cache(g):
    cfg = DecoderConfig(n_kv_heads=g, max_len=40)
    params = init_decoder_params(cfg, seed=g)
    with_cache = generate_greedy(params, PROMPT, 25, cfg, use_cache=True)
    without = generate_greedy(params, PROMPT, 25, cfg, use_cache=False)
    np.testing.assert_array_equal(with_cache, without)
    assert len(set(with_cache[0, 3:].tolist())) > 3  # not a degenerate repeat of one token
    pt = kt.params_to_torch(params)
    for use_cache in (True, False):
        got = kt.generate_greedy(pt, torch.from_numpy(PROMPT), 25, cfg, use_cache=use_cache)
        np.testing.assert_array_equal(got.numpy(), with_cache)


def test_decode_step_logits_equal_full_logits():
    cfg = DecoderConfig(n_kv_heads=2)
    params = init_decoder_params(cfg, seed=0)
    tokens = np.random.default_rng(0).integers(0, cfg.vocab, size=(2, 9))
    full = decoder_logits(params, tokens, cfg)
    cache = KVCache(cfg.n_layers)
    first = decode_step(params, tokens[:, :4], cache, cfg)
    steps = [decode_step(params, tokens[:, t:t + 1], cache, cfg) for t in range(4, 9)]
    np.testing.assert_allclose(np.concatenate([first, *steps], axis=1), full, atol=1e-4)
    assert cache.length == 9


@pytest.mark.parametrize("g", [4, 2, 1])
def test_cache_bytes_formula_matches_real_arrays(g):
    cfg = DecoderConfig(n_kv_heads=g, n_layers=3)
    params = init_decoder_params(cfg, seed=1)
    cache = KVCache(cfg.n_layers)
    decode_step(params, PROMPT, cache, cfg)
    decode_step(params, PROMPT[:, :1], cache, cfg)
    assert cache.k[0].shape == (2, g, 4, cfg.d_head)
    assert cache.nbytes == kv_cache_bytes(3, 2, 4, g, cfg.d_head, 4)
    pt_cache = kt.KVCache(cfg.n_layers)
    kt.generate_greedy(kt.params_to_torch(params), torch.from_numpy(PROMPT), 5, cfg, cache=pt_cache)
    assert pt_cache.nbytes == kv_cache_bytes(3, 2, 3 + 4, g, cfg.d_head, 4)


def test_cache_shrinks_by_h_over_g():
    assert kv_cache_bytes(2, 1, 100, 8, 16, 2) == 8 * kv_cache_bytes(2, 1, 100, 1, 16, 2)


def test_bad_inputs_raise():
    cfg = DecoderConfig(max_len=8)
    params = init_decoder_params(cfg)
    with pytest.raises(ValueError, match="exceed max_len"):
        decoder_logits(params, np.zeros((1, 9), int), cfg)
    with pytest.raises(ValueError, match="tokens must be an int array"):
        decoder_logits(params, np.zeros((1, 3)), cfg)
    with pytest.raises(ValueError, match="n_kv_heads must divide"):
        init_decoder_params(DecoderConfig(n_kv_heads=3))
