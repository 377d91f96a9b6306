"""The TensorFlow and PyTorch versions equal the NumPy reference, masks and edge cases included."""

import numpy as np
import pytest

from utils.core import attention_numpy as ref
from utils.core.frameworks import import_tensorflow, to_numpy

tf = import_tensorflow()
torch = pytest.importorskip("torch")

from utils.core import attention_tf, attention_torch  # noqa: E402

FRAMEWORKS = {
    "tensorflow": (attention_tf, tf.constant),
    "torch": (attention_torch, torch.from_numpy),
}


def _inputs(seed=0, shape=(2, 3, 5, 8)):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for _ in range(3)]


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_equal_to_numpy_with_and_without_mask(name):
    module, convert = FRAMEWORKS[name]
    q, k, v = _inputs()
    mask = ref.causal_mask(5)
    mask[3] = False  # one fully masked row
    for m in (None, mask):
        expected = ref.scaled_dot_product_attention(q, k, v, m)
        got = module.scaled_dot_product_attention(convert(q), convert(k), convert(v),
                                                  None if m is None else convert(m))
        for g, e in zip(got, expected):
            np.testing.assert_allclose(to_numpy(g), e, atol=1e-5)
    assert not np.isnan(to_numpy(got[0])).any()
    np.testing.assert_array_equal(to_numpy(got[1])[..., 3, :], 0.0)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_softmax_and_masks_match(name):
    module, convert = FRAMEWORKS[name]
    x = np.array([[1000.0, 1001.0], [-np.inf, -np.inf]], dtype=np.float32)
    np.testing.assert_allclose(to_numpy(module.softmax(convert(x))), ref.softmax(x), atol=1e-7)
    np.testing.assert_array_equal(to_numpy(module.causal_mask(3, 5)), ref.causal_mask(3, 5))
    np.testing.assert_array_equal(to_numpy(module.padding_mask(np.array([1, 3]), 4)),
                                  ref.padding_mask(np.array([1, 3]), 4))


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_shape_error_is_clear(name):
    module, convert = FRAMEWORKS[name]
    q = convert(np.zeros((4, 8), np.float32))
    k = convert(np.zeros((5, 7), np.float32))
    with pytest.raises(ValueError, match=r"got q \(4, 8\), k \(5, 7\)"):
        module.scaled_dot_product_attention(q, k, k)


def test_torch_matches_library_sdpa():
    q, k, v = _inputs(seed=5)
    mask = ref.causal_mask(5)
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), attn_mask=torch.from_numpy(mask))
    got, _ = attention_torch.scaled_dot_product_attention(
        torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), torch.from_numpy(mask))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_float16_tensors_are_computed_in_float32():
    q = (np.random.default_rng(6).normal(size=(4, 8)) * 20).astype(np.float16)
    out_t, _ = attention_torch.scaled_dot_product_attention(*(torch.from_numpy(q),) * 3)
    out_f, _ = attention_tf.scaled_dot_product_attention(*(tf.constant(q),) * 3)
    assert out_t.dtype == torch.float32 and out_f.dtype == tf.float32
