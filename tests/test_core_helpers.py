"""set_seed, framework conversion, the comparison table, the heatmap, expect_error, environment check, configs."""

import random
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from utils import set_seed  # noqa: E402
from utils.core.compare import compare_frameworks, max_abs_diff  # noqa: E402
from utils.core.display import expect_error  # noqa: E402
from utils.core.environment import PackageStatus, read_pins  # noqa: E402
from utils.core.frameworks import from_numpy, import_tensorflow, to_numpy  # noqa: E402
from utils.core.plotting import plot_attention  # noqa: E402
from utils.efficient.kv_cache_numpy import DecoderConfig  # noqa: E402
from utils.efficient.length_extrapolation_torch import TaskConfig  # noqa: E402
from utils.models.gpt_numpy import GPTConfig  # noqa: E402
from utils.models.transformer_numpy import TransformerConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_set_seed_makes_every_generator_repeat():
    import torch

    tf = import_tensorflow()

    def draw():
        return (random.random(), np.random.rand(), torch.rand(1).item(), float(tf.random.uniform(())))

    set_seed(7)
    first = draw()
    set_seed(7)
    assert draw() == first
    set_seed(8)
    assert draw() != first
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        set_seed(-1)


def test_importing_utils_does_not_import_frameworks():
    code = "import sys, utils, utils.core.attention_numpy, utils.exercises; utils.exercises.load_all(); print('tensorflow' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_tensorflow_import_is_silent():
    code = "from utils.core.frameworks import import_tensorflow; tf = import_tensorflow(); tf.constant(1.0) + 1"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "oneDNN" not in result.stderr and "I0000" not in result.stderr, result.stderr


def test_to_numpy_and_from_numpy_round_trip():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for framework in ("numpy", "tensorflow", "torch"):
        converted = from_numpy((x, {"a": x}), framework)
        np.testing.assert_array_equal(to_numpy(converted[0]), x)
        np.testing.assert_array_equal(to_numpy(converted[1]["a"]), x)
    with pytest.raises(ValueError, match="framework must be"):
        from_numpy(x, "jax")


def test_compare_frameworks_prints_and_asserts(capsys):
    a = np.zeros(3)
    diffs = compare_frameworks({"numpy": a, "x": a + 1e-7, "y": (a,)[0]}, atol=1e-5, label="demo")
    out = capsys.readouterr().out
    assert "demo" in out and "< 1e-06" in out and diffs["x"] == pytest.approx(1e-7)
    # buckets are floored at atol/10: float noise of 1e-16 or an exact 0 print the same
    compare_frameworks({"numpy": a, "tiny": a + 1e-16, "same": a, "mid": a + 3e-6}, atol=1e-5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[1:] == ["<", "1e-06", "ok"] and lines[2].split()[1:] == ["<", "1e-06", "ok"]
    assert lines[3].split()[1:] == ["<", "1e-05", "ok"]
    with pytest.raises(AssertionError, match="differences above"):
        compare_frameworks({"numpy": a, "bad": a + 1e-3}, atol=1e-5)
    with pytest.raises(ValueError, match="different shapes"):
        max_abs_diff(np.zeros(2), np.zeros(3))


def test_plot_attention_axes_show_tokens_and_heads():
    w = np.random.default_rng(0).random((3, 2, 4))
    fig = plot_attention(w, ["a", "b"], ["w", "x", "y", "z"], title="t", ncols=2)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 3
    fig.canvas.draw()
    # shared axes: key tokens under the lowest heatmap of each column, query tokens left of the first column
    for ax in (image_axes[1], image_axes[2]):
        assert [t.get_text() for t in ax.get_xticklabels() if t.get_visible()] == ["w", "x", "y", "z"]
        assert ax.get_xlabel() == "key"
    assert [t.get_text() for t in image_axes[0].get_yticklabels() if t.get_visible()] == ["a", "b"]
    assert image_axes[0].get_ylabel() == "query" and image_axes[1].get_ylabel() == ""
    assert fig._suptitle.get_text() == "t"
    with pytest.raises(ValueError, match="key_tokens has 2 tokens but weights have n_k=4"):
        plot_attention(w[0], key_tokens=["a", "b"])


def test_expect_error_prints_and_fails_when_nothing_is_raised(capsys):
    with expect_error(KeyError):
        {}["missing"]
    assert "raised as expected: KeyError" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="expected ValueError"):
        with expect_error(ValueError):
            pass


def test_requirements_are_all_pinned_and_match_installed():
    pins = read_pins(ROOT / "requirements.txt")
    assert pins["torch"] == "2.13.0"
    assert ("tensorflow-cpu" in pins) != ("tensorflow" in pins)  # exactly one, by platform
    assert PackageStatus("torch", "2.13.0", "2.13.0+cpu").ok
    assert not PackageStatus("numpy", "2.4.6", "2.4.5").ok
    assert not PackageStatus("numpy", "2.4.6", None).ok


def test_unpinned_requirement_is_refused(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("numpy>=2\n")
    with pytest.raises(ValueError, match="must pin with =="):
        read_pins(req)


@pytest.mark.parametrize("make, message", [
    (lambda: DecoderConfig(n_layers=0), "DecoderConfig: n_layers must be a positive int, got 0"),
    (lambda: DecoderConfig(d_model=30), "DecoderConfig: d_model must be divisible by n_heads"),
    (lambda: DecoderConfig(n_kv_heads=3), "DecoderConfig: n_kv_heads must divide n_heads"),
    (lambda: GPTConfig(vocab=0), "GPTConfig: vocab must be a positive int, got 0"),
    (lambda: GPTConfig(vocab=10, context=True), "GPTConfig: context must be a positive int, got True"),
    (lambda: TransformerConfig(13, 13, n_dec_layers=-1), "TransformerConfig: n_dec_layers must be a non-negative int"),
    (lambda: TaskConfig(d_model=30), "TaskConfig: d_model must be divisible by n_heads"),
    (lambda: TaskConfig(n_markers=16), "TaskConfig: n_markers must be < vocab"),
])
def test_every_model_config_rejects_bad_sizes_by_name(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_layer_counts_and_the_padding_id_may_be_zero():
    cfg = TransformerConfig(13, 13, n_enc_layers=0, pad_id=0)
    assert (cfg.n_enc_layers, cfg.pad_id) == (0, 0)
