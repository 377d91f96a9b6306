"""all-MiniLM-L6-v2: verified loading, the weight map, and the forward pass in NumPy, TF and PyTorch."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from utils.demos.minilm_heads import head_scores, pattern_targets, top_heads, uniform_baseline
from utils.models import minilm_numpy
from utils.models.minilm_weights import (
    OFFICIAL_SHA256,
    ModelFileError,
    load_config,
    load_minilm,
    load_tokenizer,
    load_weights,
    model_dir,
    model_params,
    tokenize,
    weight_role,
    weight_table,
)

SENTENCES = [
    "Hello world.",
    "The cat sat on the mat because it was tired.",
    "A man is playing a guitar on a small stage in the park tonight, and everyone listens.",
]


@pytest.fixture(scope="module")
def model():
    params, tokenizer, config = load_minilm()
    return params, tokenizer, config


@pytest.fixture(scope="module")
def batch(model):
    return tokenize(model[1], SENTENCES)


@pytest.fixture(scope="module")
def numpy_result(model, batch):
    return minilm_numpy.sentence_embeddings(model[0], batch.input_ids, batch.attention_mask, batch.token_type_ids)


def _altered_copy(tmp_path, name, position):
    """Copy the package's model folder files into tmp_path with one byte of `name` flipped."""
    for f in ("config.json", *OFFICIAL_SHA256):
        shutil.copy(model_dir() / f, tmp_path / f)
    data = bytearray((tmp_path / name).read_bytes())
    data[position] ^= 0x01
    (tmp_path / name).write_bytes(bytes(data))
    return tmp_path


def test_altered_weights_file_is_refused(tmp_path):
    folder = _altered_copy(tmp_path, "model.safetensors", -1000)  # a byte inside the last tensor's data
    with pytest.raises(ModelFileError) as info:
        load_weights(folder)
    message = str(info.value)
    assert "model.safetensors" in message and OFFICIAL_SHA256["model.safetensors"] in message
    found = message.split("found ")[1].split(")")[0]
    assert len(found) == 64 and found != OFFICIAL_SHA256["model.safetensors"]


def test_altered_tokenizer_is_refused_and_missing_file_reported(tmp_path):
    folder = _altered_copy(tmp_path, "tokenizer.json", 10)
    with pytest.raises(ModelFileError, match="tokenizer.json.*expected be50c362"):
        load_tokenizer(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="missing"):
        load_weights(folder)


def test_untouched_copy_loads_and_package_weights_are_read_once(tmp_path):
    for f in OFFICIAL_SHA256:
        shutil.copy(model_dir() / f, tmp_path / f)
    assert load_weights(tmp_path)["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert load_tokenizer(tmp_path).encode("hello").tokens == ["[CLS]", "hello", "[SEP]"]
    first, second = load_weights(), load_weights()
    assert first["pooler.dense.bias"] is second["pooler.dense.bias"]  # cached, not re-read
    assert not first["pooler.dense.bias"].flags.writeable


def test_mapping_covers_every_weight_with_the_right_shape():
    weights, config = load_weights(), load_config()
    rows = weight_table(weights, config)
    assert len(rows) == len(weights) == 104
    assert all(r["shape"] == r["expected"] for r in rows)
    per_layer = [sum(r["layer"] == i for r in rows) for i in range(config.n_layers)]
    assert per_layer == [16] * 6
    assert weight_role("encoder.layer.4.intermediate.dense.weight")[:2] == (4, "W_1 / b_1")
    assert weight_role("pooler.dense.weight")[0] == -1
    with pytest.raises(ValueError, match="not a known"):
        weight_role("encoder.layer.0.attention.self.qkv.weight")


def test_model_params_transposes_linear_weights_and_checks_shapes():
    weights, config = load_weights(), load_config()
    params = model_params(weights, config)
    np.testing.assert_array_equal(params["layers"][2]["Wq"], weights["encoder.layer.2.attention.self.query.weight"].T)
    np.testing.assert_array_equal(params["layers"][5]["W2"], weights["encoder.layer.5.output.dense.weight"].T)
    bad = dict(weights)
    bad["encoder.layer.1.attention.self.key.weight"] = bad["encoder.layer.1.attention.self.key.weight"][:, :380]
    with pytest.raises(ValueError, match="layer.1.attention.self.key.weight has shape"):
        model_params(bad, config)


def test_tokenizer_pads_to_the_longest_sentence_and_truncates(model):
    tokenizer = model[1]
    batch = tokenize(tokenizer, ["hi", "a longer sentence here"])
    assert batch.input_ids.shape == (2, 6) and batch.tokens[0] == ["[CLS]", "hi", "[SEP]"]
    assert batch.lengths.tolist() == [3, 6] and batch.input_ids[0, 3:].tolist() == [0, 0, 0]
    assert tokenize(tokenizer, ["word " * 400]).input_ids.shape == (1, 256)
    with pytest.raises(ValueError, match="sentences"):
        tokenize(tokenizer, "not a list")


def test_numpy_forward_equals_sentence_transformers(model, batch, numpy_result):
    from utils.models.minilm_weights import load_sentence_transformer

    reference = load_sentence_transformer().encode(SENTENCES, convert_to_numpy=True)
    embeddings, attentions = numpy_result
    assert embeddings.shape == (3, 384) and len(attentions) == 6 and attentions[0].shape == (3, 12, 22, 22)
    assert np.abs(embeddings - reference).max() <= 1e-4


def test_tensorflow_and_torch_equal_numpy(model, batch, numpy_result):
    from utils.core.frameworks import to_numpy
    from utils.models import minilm_tf, minilm_torch

    embeddings, attentions = numpy_result
    for module in (minilm_tf, minilm_torch):
        emb, att = module.sentence_embeddings(module.params_to_tensors(model[0]), batch.input_ids,
                                              batch.attention_mask, batch.token_type_ids)
        assert np.abs(to_numpy(emb) - embeddings).max() <= 1e-5, module.__name__
        assert max(np.abs(to_numpy(a) - b).max() for a, b in zip(att, attentions)) <= 1e-5, module.__name__


def test_padding_does_not_change_a_sentence_embedding(model, numpy_result):
    params, tokenizer, _ = model
    alone = tokenize(tokenizer, SENTENCES[:1])
    emb, att = minilm_numpy.sentence_embeddings(params, alone.input_ids, alone.attention_mask)
    assert np.abs(emb[0] - numpy_result[0][0]).max() <= 1e-6
    assert np.all(numpy_result[1][0][0, :, :, 5:] == 0)  # no query looks at padding keys


def test_head_keep_ablation(model, batch, numpy_result):
    params = model[0]
    keep = np.ones((6, 12))
    same, _ = minilm_numpy.sentence_embeddings(params, batch.input_ids, batch.attention_mask, head_keep=keep)
    np.testing.assert_allclose(same, numpy_result[0], atol=1e-7)
    keep[0, 2] = 0
    changed, _ = minilm_numpy.sentence_embeddings(params, batch.input_ids, batch.attention_mask, head_keep=keep)
    assert np.abs(changed - numpy_result[0]).max() > 1e-3


def test_gelu_is_exact_erf_and_layer_norm():
    x = np.linspace(-4, 4, 81)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(minilm_numpy.gelu(x), exact, atol=1e-12)
    tanh = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    assert np.abs(tanh - exact).max() > 1e-4  # the tanh approximation is a different function
    rng = np.random.default_rng(0)
    h = rng.normal(size=(2, 3, 8))
    out = minilm_numpy.layer_norm(h, np.ones(8) * 2, np.ones(8), eps=0.0)
    np.testing.assert_allclose(out.mean(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(out.std(-1), 2.0, atol=1e-9)
    with pytest.raises(ValueError, match="gamma"):
        minilm_numpy.layer_norm(h, np.ones(7), np.ones(7))


def test_key_mask_and_pooling():
    m = minilm_numpy.key_mask(np.array([[1, 1, 0], [1, 1, 1]]))
    assert m.shape == (2, 1, 1, 3) and m.dtype == bool and m[0, 0, 0].tolist() == [True, True, False]
    inner = minilm_numpy.key_mask(np.array([[1, 0, 1]]))
    assert inner[0, 0, 0].tolist() == [True, False, True]
    with pytest.raises(ValueError, match="attention_mask"):
        minilm_numpy.key_mask(np.ones(3))
    hidden = np.arange(12, dtype=float).reshape(1, 3, 4)
    np.testing.assert_allclose(minilm_numpy.mean_pool(hidden, np.array([[1, 1, 0]])), [[2, 3, 4, 5]])
    np.testing.assert_allclose(np.linalg.norm(minilm_numpy.l2_normalize(np.array([[3.0, 4.0]]))), 1.0)


def test_pattern_targets_and_head_scores():
    ids = np.array([[101, 7, 8, 7, 102], [101, 9, 102, 0, 0]])
    lengths = np.array([5, 3])
    prev = pattern_targets(ids, lengths, "previous")
    assert prev[0, 1, 0] and prev[0, 4, 3] and not prev[1, 3, 2] and prev.sum() == 4 + 2
    same = pattern_targets(ids, lengths, "same word")
    assert same[0, 1, 3] and same[0, 3, 1] and same.sum() == 2
    sep = pattern_targets(ids, lengths, "sep")
    assert sep[0, 2, 4] and sep[1, 0, 2] and not sep[1, 0, 4]
    eye = np.zeros((1, 2, 2, 5, 5))
    eye[0, :, 0] = np.eye(5, k=-1)
    eye[0, :, 0, 0, 0] = 1.0
    eye[0, :, 1] = np.where(np.arange(5) < lengths[:, None, None], 1.0, 0.0) / lengths[:, None, None]
    scores = head_scores(eye, prev)
    np.testing.assert_allclose(scores[0], [1.0, uniform_baseline(prev, lengths)])
    assert top_heads(scores, 1) == [(0, 0, 1.0)]
    with pytest.raises(ValueError, match="kind"):
        pattern_targets(ids, lengths, "diagonal")


def test_activation_argument_replaces_gelu_in_every_framework(model, batch, numpy_result):
    import torch

    from utils.models import minilm_tf, minilm_torch

    tf = minilm_tf.tf
    params = model[0]
    args = (batch.input_ids, batch.attention_mask, batch.token_type_ids)
    same, _ = minilm_numpy.sentence_embeddings(params, *args, activation=minilm_numpy.gelu)
    np.testing.assert_allclose(same, numpy_result[0], atol=1e-7)
    relu, _ = minilm_numpy.sentence_embeddings(params, *args, activation=lambda z: np.maximum(z, 0.0))
    assert np.abs(relu - numpy_result[0]).max() > 1e-3
    relu_torch, _ = minilm_torch.sentence_embeddings(params, *args, activation=torch.relu)
    np.testing.assert_allclose(relu_torch.numpy(), relu, atol=1e-5)
    relu_tf, _ = minilm_tf.sentence_embeddings(params, *args, activation=tf.nn.relu)
    np.testing.assert_allclose(np.asarray(relu_tf), relu, atol=1e-5)
