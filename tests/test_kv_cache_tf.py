"""TensorFlow KV cache: greedy tokens identical with and without the cache and to NumPy's; logits and bytes."""

import numpy as np
import pytest

from utils.core.frameworks import import_tensorflow
from utils.efficient import kv_cache_numpy as kn
from utils.efficient import kv_cache_tf as kt

tf = import_tensorflow()
PROMPT = np.array([[1, 2, 3], [7, 5, 0]])


@pytest.mark.parametrize("g", [4, 1])
def test_greedy_tokens_identical_with_and_without_cache_and_to_numpy(g):
    cfg = kn.DecoderConfig(n_kv_heads=g, max_len=40)
    params = kn.init_decoder_params(cfg, seed=g)
    ref = kn.generate_greedy(params, PROMPT, 25, cfg)
    assert len(set(ref[0, 3:].tolist())) > 3                          # not a degenerate repeat of one token
    tf_params = kt.params_to_tf(params)
    for use_cache in (True, False):
        got = kt.generate_greedy(tf_params, tf.constant(PROMPT), 25, cfg, use_cache=use_cache)
        assert got.dtype == tf.int64
        np.testing.assert_array_equal(got.numpy(), ref)


@pytest.mark.parametrize("g", [4, 2])
def test_decode_step_logits_equal_numpy_reference(g):
    cfg = kn.DecoderConfig(n_kv_heads=g)
    params = kn.init_decoder_params(cfg, seed=0)
    tf_params = kt.params_to_tf(params)
    tokens = np.random.default_rng(0).integers(0, cfg.vocab, size=(2, 9))
    ref_cache, cache = kn.KVCache(cfg.n_layers), kt.KVCache(cfg.n_layers)
    for sl in (slice(0, 4), *(slice(t, t + 1) for t in range(4, 9))):  # prefill 4, then one token at a time
        ref = kn.decode_step(params, tokens[:, sl], ref_cache, cfg)
        np.testing.assert_allclose(kt.decode_step(tf_params, tokens[:, sl], cache, cfg).numpy(), ref, atol=1e-5)
    assert cache.length == 9 and cache.k[1].shape == (2, g, 9, cfg.d_head)
    np.testing.assert_allclose(kt.decoder_logits(tf_params, tokens, cfg).numpy(), kn.decoder_logits(params, tokens, cfg),
                               atol=1e-5)


@pytest.mark.parametrize("g", [4, 2, 1])
def test_cache_bytes_formula_matches_real_tensors(g):
    cfg = kn.DecoderConfig(n_kv_heads=g, n_layers=3)
    cache = kt.KVCache(cfg.n_layers)
    assert cache.length == 0 and cache.nbytes == 0
    kt.generate_greedy(kt.params_to_tf(kn.init_decoder_params(cfg, seed=1)), PROMPT, 5, cfg, cache=cache)
    assert cache.length == 3 + 4                                       # the last token is never fed back
    assert cache.nbytes == kn.kv_cache_bytes(3, 2, 3 + 4, g, cfg.d_head, 4)


def test_bad_inputs_raise():
    cfg = kn.DecoderConfig(max_len=8)
    tf_params = kt.params_to_tf(kn.init_decoder_params(cfg))
    with pytest.raises(ValueError, match="positions up to 9 exceed max_len=8"):
        kt.decoder_logits(tf_params, np.zeros((1, 9), int), cfg)
    cache = kt.KVCache(cfg.n_layers)
    kt.decode_step(tf_params, np.zeros((1, 6), int), cache, cfg)
    with pytest.raises(ValueError, match=r"positions up to 9 exceed max_len=8 \(tokens \(1, 3\)\)"):
        kt.decode_step(tf_params, np.zeros((1, 3), int), cache, cfg)
    with pytest.raises(ValueError, match=r"tokens must be an int tensor \(batch, n\), got shape \(1, 3\) dtype float"):
        kt.decoder_logits(tf_params, np.zeros((1, 3)), cfg)
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        kt.generate_greedy(tf_params, np.zeros(3, int), 2, cfg)
