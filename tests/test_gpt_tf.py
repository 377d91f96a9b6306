"""The Keras twin of chapter 10's GPT: equal to the NumPy reference, its KV cache equal to no cache."""

import numpy as np
import pytest

from utils.models import gpt_numpy as ref
from utils.models import gpt_tf
from utils.models.gpt_numpy import GPTConfig

CFG = GPTConfig(vocab=40, d_model=32, n_heads=4, n_kv_heads=2, n_layers=2, d_ff=48, context=16)


def _params():
    p = ref.init_gpt_params(CFG, 3)
    rng = np.random.default_rng(5)
    for layer in p["layers"]:
        for key in ("ln1_g", "ln1_b", "ln2_g", "b1"):
            layer[key] = layer[key] + rng.normal(scale=0.2, size=layer[key].shape).astype(np.float32)
    return p


@pytest.mark.parametrize("attention", gpt_tf.ATTENTION_KINDS)
def test_keras_logits_equal_numpy(attention):
    p = _params()
    x = np.random.default_rng(1).integers(0, CFG.vocab, size=(2, 12))
    got = gpt_tf.gpt_from_numpy(p, CFG)(x, attention=attention).numpy()
    np.testing.assert_allclose(got, ref.gpt_logits(p, x, CFG), atol=1e-5)


def test_keras_loss_cache_and_training():
    p = _params()
    model = gpt_tf.gpt_from_numpy(p, CFG)
    x = np.random.default_rng(2).integers(0, CFG.vocab, size=(2, CFG.context + 1))
    loss = float(gpt_tf.lm_loss(model, x[:, :-1], x[:, 1:]))
    assert loss == pytest.approx(ref.cross_entropy(ref.gpt_logits(p, x[:, :-1], CFG), x[:, 1:]), abs=1e-5)
    prompt = x[:, :3]
    assert np.array_equal(gpt_tf.generate_greedy(model, prompt, 12), gpt_tf.generate_greedy(model, prompt, 12, False))
    ids = np.tile(np.arange(10), 40)
    before = gpt_tf.eval_loss(model, ids)
    gpt_tf.train_gpt(model, ids, steps=60, batch=8, lr=1e-2, progress=False)
    assert gpt_tf.eval_loss(model, ids) < 0.3 < before
