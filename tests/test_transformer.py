"""The small encoder–decoder Transformer: NumPy reference == TF == PyTorch, causality, masks, training."""

import numpy as np
import pytest
import torch

from utils.core.frameworks import import_tensorflow
from utils.data import load_arrays
from utils.datagen.seq_tasks import (
    BOS,
    DIGIT0,
    EOS,
    PAD,
    npz_bytes,
    seq_task_arrays,
    tokens_to_text,
)
from utils.models.transformer_numpy import (
    TransformerConfig,
    attention_maps,
    embed_tokens,
    exact_match,
    greedy_decode,
    init_transformer_params,
    mask_after_eos,
    masked_cross_entropy,
    transformer_logits,
)

tf = import_tensorflow()
from utils.models import transformer_tf, transformer_torch  # noqa: E402

CFG = TransformerConfig(src_vocab=13, tgt_vocab=13, d_model=16, n_heads=4, d_ff=32, n_enc_layers=2,
                        n_dec_layers=2, max_len=12)


@pytest.fixture(scope="module")
def batch():
    a = seq_task_arrays("reverse", n_train=8, n_test=2, seed=1)
    return a["src_train"], a["tgt_in_train"], a["tgt_out_train"]


def _logits(model, src, tgt_in):
    if isinstance(model, torch.nn.Module):
        with torch.no_grad():
            return model(torch.from_numpy(src), torch.from_numpy(tgt_in)).numpy()
    return model(src, tgt_in, training=False).numpy()


def test_embedding_adds_the_course_sinusoidal_table():
    table = np.random.default_rng(0).normal(size=(13, 8)).astype(np.float32)
    tokens = np.array([[3, 4, 0]])
    pe = embed_tokens(table, tokens) - table[tokens] * np.sqrt(8)  # what is added: the positions
    np.testing.assert_allclose(pe[0, 2, 2], np.sin(2 / 10000 ** (2 / 8)), rtol=1e-5)
    np.testing.assert_allclose(pe[0, 1, 5], np.cos(1 / 10000 ** (4 / 8)), rtol=1e-5)


def test_numpy_tf_torch_forward_equal(batch):
    src, tgt_in, _ = batch
    ref = transformer_logits(init_transformer_params(CFG, seed=4), CFG, src, tgt_in)
    assert ref.shape == (8, 9, 13)
    for mod in (transformer_tf, transformer_torch):
        assert np.abs(_logits(mod.Seq2SeqTransformer(CFG, seed=4), src, tgt_in) - ref).max() <= 1e-4
    assert np.abs(_logits(transformer_torch.Seq2SeqTransformer(CFG, seed=5), src, tgt_in) - ref).max() > 1e-2


def test_weight_transfer_round_trip(batch):
    src, tgt_in, _ = batch
    m_tf, m_torch = transformer_tf.Seq2SeqTransformer(CFG, seed=1), transformer_torch.Seq2SeqTransformer(CFG, seed=2)
    m_torch.load_numpy_weights(m_tf.numpy_weights())
    assert np.abs(_logits(m_tf, src, tgt_in) - _logits(m_torch, src, tgt_in)).max() <= 1e-4
    w = m_torch.numpy_weights()
    assert w["dec0.ffn.W_1"].shape == (16, 32) and w["out.W"].shape == (16, 13)
    with pytest.raises(ValueError):
        m_torch.load_numpy_weights({k: v for k, v in w.items() if k != "out.b"})
    with pytest.raises(ValueError):
        m_tf.load_numpy_weights(w | {"out.W": w["out.W"].T})


@pytest.mark.parametrize("mod", [transformer_tf, transformer_torch])
def test_decoder_is_causal_and_padding_is_ignored(mod, batch):
    src, tgt_in, _ = batch
    model = mod.Seq2SeqTransformer(CFG, seed=0)
    base = _logits(model, src, tgt_in)
    future = tgt_in.copy()
    future[:, 5:] = 7  # change targets from position 5 on
    np.testing.assert_allclose(_logits(model, src, future)[:, :5], base[:, :5], atol=1e-5)
    assert np.abs(_logits(model, src, future)[:, 5:] - base[:, 5:]).max() > 1e-3
    longer = np.concatenate([src, np.full((len(src), 3), PAD)], axis=1)  # extra padding in the source
    np.testing.assert_allclose(_logits(model, longer, tgt_in), base, atol=1e-4)
    w = mod.attention_maps(model, src[:2], tgt_in[:2])
    assert [a.shape for a in w["encoder_self"]] == [(2, 4, 8, 8)] * 2
    assert [a.shape for a in w["decoder_cross"]] == [(2, 4, 9, 8)] * 2
    assert np.all(np.triu(w["decoder_self"][0][0, 0], 1) == 0)
    n_src = int((src[0] != PAD).sum())
    assert np.all(w["decoder_cross"][1][0, :, :, n_src:] == 0)
    np.testing.assert_allclose(w["decoder_cross"][0].sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("mod", [transformer_tf, transformer_torch])
def test_training_decreases_loss_and_decodes(mod):
    a = seq_task_arrays("reverse", n_train=256, n_test=8, min_len=3, max_len=4, seed=2)
    cfg = TransformerConfig(src_vocab=13, tgt_vocab=13, d_model=32, n_heads=2, d_ff=64, n_enc_layers=1,
                            n_dec_layers=1, max_len=8)
    model = mod.Seq2SeqTransformer(cfg, seed=0)
    losses = mod.train_seq2seq(model, a["src_train"], a["tgt_in_train"], a["tgt_out_train"], epochs=4,
                               batch_size=32, lr=3e-3, seed=0, progress=False)
    assert len(losses) == 4 * 8
    assert np.mean(losses[-4:]) < 0.6 * np.mean(losses[:4])
    pred = mod.greedy_decode(model, a["src_test"], max_len=5, bos_id=BOS, eos_id=EOS)
    assert pred.shape == (8, 5) and pred.dtype == np.int64
    assert np.all(mask_after_eos(pred, EOS, PAD) == pred)


def test_same_seed_same_loss_curve_start():
    a = seq_task_arrays("reverse", n_train=64, n_test=1, seed=3)
    cfg = TransformerConfig(src_vocab=13, tgt_vocab=13, d_model=16, n_heads=2, d_ff=32, n_enc_layers=1,
                            n_dec_layers=1, max_len=12)
    args = (a["src_train"], a["tgt_in_train"], a["tgt_out_train"])
    l_tf = transformer_tf.train_seq2seq(transformer_tf.Seq2SeqTransformer(cfg, 0), *args, epochs=1, batch_size=16,
                                        lr=1e-3, seed=0, progress=False)
    l_pt = transformer_torch.train_seq2seq(transformer_torch.Seq2SeqTransformer(cfg, 0), *args, epochs=1,
                                           batch_size=16, lr=1e-3, seed=0, progress=False)
    assert abs(l_tf[0] - l_pt[0]) <= 1e-5  # same weights and first batch: same loss before any update
    # Adam's first steps move each weight by about ±lr whatever the gradient's size, so float32
    # round-off in tiny gradients makes the curves drift apart slowly; they stay close.
    np.testing.assert_allclose(l_tf, l_pt, rtol=1e-2)


def test_helpers_and_data():
    assert exact_match(np.array([[1, 2], [3, 4]]), np.array([[1, 2], [3, 5]])) == 0.5
    with pytest.raises(ValueError):
        exact_match(np.zeros((2, 3)), np.zeros((2, 4)))
    np.testing.assert_array_equal(mask_after_eos(np.array([[4, EOS, 5, EOS]]), EOS, PAD), [[4, EOS, PAD, PAD]])
    assert tokens_to_text(np.array([BOS, DIGIT0 + 1, DIGIT0, EOS, DIGIT0])) == "10"
    a = load_arrays("digits_reverse.npz")
    assert a["src_train"].shape == (6000, 8) and a["tgt_out_test"].shape == (500, 9)
    train = {tuple(r) for r in a["src_train"].tolist()}
    assert not any(tuple(r) in train for r in a["src_test"].tolist())
    for i in (0, 7):
        s = tokens_to_text(a["src_train"][i])
        assert tokens_to_text(a["tgt_out_train"][i]) == s[::-1] == tokens_to_text(a["tgt_in_train"][i])
    assert npz_bytes({"x": np.arange(3)}) == npz_bytes({"x": np.arange(3)})
    assert tokens_to_text(seq_task_arrays("sort", 4, 1, seed=0)["tgt_out_train"][0]) == "".join(
        sorted(tokens_to_text(seq_task_arrays("sort", 4, 1, seed=0)["src_train"][0])))


@pytest.mark.parametrize("bad", [
    lambda: TransformerConfig(13, 13, d_model=10, n_heads=4),
    lambda: transformer_logits(init_transformer_params(CFG), CFG, np.zeros((2, 3, 1), int), np.zeros((2, 3), int)),
    lambda: transformer_logits(init_transformer_params(CFG), CFG, np.full((2, 3), 13), np.zeros((2, 3), int)),
    lambda: transformer_torch.greedy_decode(transformer_torch.Seq2SeqTransformer(CFG), np.ones((1, 3), int), 12, 1, 2),
    lambda: transformer_tf.attention_maps(transformer_tf.Seq2SeqTransformer(CFG), np.ones((1, 13), int), np.ones((1, 3), int)),
    lambda: greedy_decode(init_transformer_params(CFG), CFG, np.ones((1, 3), int), 0, 1, 2),
])
def test_bad_input_raises_value_error(bad):
    with pytest.raises(ValueError):
        bad()


@pytest.mark.parametrize("mod", [transformer_tf, transformer_torch])
def test_attention_maps_equal_the_numpy_reference(mod, batch):
    src, tgt_in, _ = batch
    ref = attention_maps(init_transformer_params(CFG, seed=4), CFG, src[:3], tgt_in[:3])
    got = mod.attention_maps(mod.Seq2SeqTransformer(CFG, seed=4), src[:3], tgt_in[:3])
    for kind in ("encoder_self", "decoder_self", "decoder_cross"):
        assert len(got[kind]) == len(ref[kind]) == 2
        for a, b in zip(got[kind], ref[kind], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_numpy_loss_and_greedy_decoding_equal_the_frameworks(batch):
    src, tgt_in, tgt_out = batch
    params = init_transformer_params(CFG, seed=4)
    logits = transformer_logits(params, CFG, src, tgt_in)
    loss = masked_cross_entropy(logits, tgt_out, CFG.pad_id)
    loss_torch = transformer_torch.masked_cross_entropy(torch.from_numpy(logits), torch.from_numpy(tgt_out), PAD)
    loss_tf = transformer_tf.masked_cross_entropy(tf.constant(logits), tf.constant(tgt_out), PAD)
    assert abs(loss - loss_torch.item()) < 1e-5 and abs(loss - float(loss_tf)) < 1e-5
    assert masked_cross_entropy(logits, np.zeros_like(tgt_out), PAD) == 0.0  # only padding: nothing counted
    pred = greedy_decode(params, CFG, src, max_len=6, bos_id=BOS, eos_id=EOS)
    for mod in (transformer_tf, transformer_torch):
        np.testing.assert_array_equal(mod.greedy_decode(mod.Seq2SeqTransformer(CFG, seed=4), src, 6, BOS, EOS), pred)
    # the decoded rows are what feeding each prefix back through the full forward pass predicts
    prefix = np.concatenate([np.full((len(src), 1), BOS), pred[:, :2]], axis=1)
    np.testing.assert_array_equal(transformer_logits(params, CFG, src, prefix)[:, -1].argmax(-1), pred[:, 2])


@pytest.mark.parametrize("mod", [transformer_tf, transformer_torch])
def test_one_train_step_lowers_the_batch_loss(mod, batch):
    src, tgt_in, tgt_out = batch
    model = mod.Seq2SeqTransformer(CFG, seed=0)
    before = transformer_logits(model.numpy_weights(), CFG, src, tgt_in)
    if mod is transformer_torch:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        args = tuple(torch.from_numpy(a) for a in (src, tgt_in, tgt_out))
    else:
        import keras
        opt = keras.optimizers.SGD(learning_rate=0.1)
        args = tuple(tf.constant(a) for a in (src, tgt_in, tgt_out))
    loss = float(mod.train_step(model, opt, *args))
    assert abs(loss - masked_cross_entropy(before, tgt_out, PAD)) < 1e-4  # the loss before the step
    after = transformer_logits(model.numpy_weights(), CFG, src, tgt_in)
    assert masked_cross_entropy(after, tgt_out, PAD) < loss


def test_one_clipped_step_is_the_same_in_both_frameworks(batch):
    """Gradient clipping must see the dense embedding gradients in TF too (IndexedSlices overcount repeats)."""
    import keras

    src, tgt_in, tgt_out = batch
    m_tf, m_torch = transformer_tf.Seq2SeqTransformer(CFG, seed=3), transformer_torch.Seq2SeqTransformer(CFG, seed=3)
    transformer_tf.train_step(m_tf, keras.optimizers.SGD(learning_rate=0.5), *(tf.constant(a) for a in batch),
                              clip_norm=0.1)
    transformer_torch.train_step(m_torch, torch.optim.SGD(m_torch.parameters(), lr=0.5),
                                 *(torch.from_numpy(a) for a in batch), clip_norm=0.1)
    a, b = m_tf.numpy_weights(), m_torch.numpy_weights()
    assert max(np.abs(a[k] - b[k]).max() for k in a) < 1e-6
    assert max(np.abs(a[k] - w).max() for k, w in init_transformer_params(CFG, seed=3).items()) > 1e-3
