"""The one NumPy layer_norm: formula, eps as a parameter, shape errors, equal to the frameworks' layers."""

import numpy as np
import pytest
import torch

from utils.layers.layer_norm_numpy import layer_norm


def test_normalises_the_last_axis_then_scales_and_shifts():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2, 5, 16))
    out = layer_norm(x, np.full(16, 2.0), np.full(16, 1.0), eps=0.0)
    np.testing.assert_allclose(out.mean(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(out.std(-1), 2.0, atol=1e-9)


def test_eps_is_used_and_equals_torch_layer_norm():
    x = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32) * 1e-3  # tiny variance: eps matters
    g, b = np.linspace(0.5, 1.5, 8, dtype=np.float32), np.linspace(-0.1, 0.1, 8, dtype=np.float32)
    for eps in (1e-5, 1e-12):
        want = torch.nn.functional.layer_norm(torch.from_numpy(x), (8,), torch.from_numpy(g), torch.from_numpy(b), eps)
        np.testing.assert_allclose(layer_norm(x, g, b, eps), want.numpy(), atol=1e-5)
    assert np.abs(layer_norm(x, g, b, 1e-5) - layer_norm(x, g, b, 1e-12)).max() > 1e-2


@pytest.mark.parametrize("gamma, beta, eps", [(np.ones(7), np.ones(8), 1e-5), (np.ones(8), np.ones((1, 8)), 1e-5),
                                              (np.ones(8), np.ones(8), -1.0)])
def test_bad_shapes_or_eps_raise_a_clear_error(gamma, beta, eps):
    with pytest.raises(ValueError, match="gamma|eps"):
        layer_norm(np.ones((2, 8)), gamma, beta, eps)


def test_the_tensorflow_and_pytorch_twins_equal_numpy_with_the_same_default_eps():
    import inspect

    from utils.core.frameworks import import_tensorflow
    from utils.layers import layer_norm_tf, layer_norm_torch

    tf = import_tensorflow()
    rng = np.random.default_rng(7)
    x, g, b = rng.normal(size=(2, 3, 8)), rng.normal(size=8), rng.normal(size=8)
    want = layer_norm(x, g, b)
    got_tf = layer_norm_tf.layer_norm(*(tf.constant(a) for a in (x, g, b))).numpy()
    got_torch = layer_norm_torch.layer_norm(*(torch.from_numpy(a) for a in (x, g, b))).numpy()
    np.testing.assert_allclose(got_tf, want, atol=1e-12)
    np.testing.assert_allclose(got_torch, want, atol=1e-12)
    defaults = {fn.__module__: inspect.signature(fn).parameters["eps"].default
                for fn in (layer_norm, layer_norm_tf.layer_norm, layer_norm_torch.layer_norm)}
    assert set(defaults.values()) == {1e-5}, defaults
