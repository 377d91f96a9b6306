"""The 唐诗三百首 corpus: parsed from the Debian package's fortune file, shipped verified, split by poem."""

import io
import lzma
import tarfile

import numpy as np
import pytest

from utils import data
from utils.datagen import poems

FIXTURE = (
    "\x1b[32m《感遇・其一》\x1b[m\n\x1b[33m作者：张九龄\x1b[m\n兰叶春葳蕤，桂华秋皎洁。\n欣欣此生意，自尔为佳节。\n%\n"
    "\x1b[32m《送别》\x1b[m\n\x1b[33m作者：王维\x1b[m\n下马饮君酒，问君何所之。\n%\n"
)


def test_parse_fortunes_strips_colours_and_joins_lines():
    got = poems.parse_fortunes(FIXTURE)
    assert got == [poems.Poem("感遇・其一", "张九龄", "兰叶春葳蕤，桂华秋皎洁。欣欣此生意，自尔为佳节。"),
                   poems.Poem("送别", "王维", "下马饮君酒，问君何所之。")]


def test_parse_fortunes_rejects_an_entry_without_author():
    with pytest.raises(ValueError, match="entry 0 is not"):
        poems.parse_fortunes("《无题》\n床前明月光，疑是地上霜。\n%\n")


def test_tsv_round_trip_and_refuses_tabs():
    ps = poems.parse_fortunes(FIXTURE)
    assert poems.read_tsv(poems.poems_to_tsv(ps).decode("utf-8")) == ps
    with pytest.raises(ValueError, match="tab or newline"):
        poems.poems_to_tsv([poems.Poem("a\tb", "c", "d")])


def _fake_deb(member_bytes: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(poems.SOURCE_MEMBER)
        info.size = len(member_bytes)
        tar.addfile(info, io.BytesIO(member_bytes))
    out = b"!<arch>\n"
    for name, body in ((b"debian-binary", b"2.0\n"), (b"data.tar.xz", lzma.compress(buf.getvalue()))):
        out += name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"100644".ljust(8)
        out += str(len(body)).encode().ljust(10) + b"`\n" + body + (b"\n" if len(body) % 2 else b"")
    return out


def test_member_of_deb_reads_the_ar_and_tar_xz_layers():
    assert poems.member_of_deb(_fake_deb(FIXTURE.encode())) == FIXTURE.encode()
    with pytest.raises(ValueError, match="ar magic"):
        poems.member_of_deb(b"PK\x03\x04")


def test_shipped_corpus_matches_its_pinned_sha256_and_has_313_poems():
    path = data.data_path(poems.CORPUS_FILE)
    assert data.sha256_bytes(path.read_bytes()) == poems.CORPUS_SHA256 == data.recorded_sums()[poems.CORPUS_FILE]
    ps = poems.read_tsv(path.read_text(encoding="utf-8"))
    assert len(ps) == 313 and ps[0].title == "感遇・其一" and ps[-1].author == "杜秋娘"


@pytest.mark.skipif(not (poems.DEB_DIR / poems.DEB_NAME).exists(), reason="the .deb is not in build/fortunes-zh "
                    "(python -m utils.datagen.poems fetch)")
def test_rebuilding_from_the_deb_gives_the_shipped_bytes():
    assert poems.tang300_from_deb(poems.DEB_DIR / poems.DEB_NAME) == (data.DATA_DIR / poems.CORPUS_FILE).read_bytes()


def test_split_is_by_whole_poem_and_seeded():
    ps = [poems.Poem(str(i), "x", f"诗{i}。") for i in range(20)]
    train, val = poems.split_poems(ps, 4, seed=3)
    assert len(val) == 4 and len(train) == 16 and not {p.title for p in train} & {p.title for p in val}
    assert poems.split_poems(ps, 4, seed=3) == (train, val) != poems.split_poems(ps, 4, seed=4)
    with pytest.raises(ValueError, match="n_val"):
        poems.split_poems(ps, 20, seed=0)


def test_vocab_and_encoding():
    train = [poems.Poem("a", "b", "山山水。"), poems.Poem("c", "d", "山月。")]
    vocab = poems.build_vocab(train, min_count=2)
    assert vocab == sorted(["\n", "□", "山", "。"])
    ids = poems.encode(train, vocab)
    assert poems.decode(ids, vocab) == "\n山山□。\n山□。"
    assert ids.dtype == np.int64


def test_load_split_has_no_poem_in_both_halves():
    train_ids, val_ids, vocab = poems.load_split()
    assert len(vocab) == int(train_ids.max()) + 1 or int(train_ids.max()) < len(vocab)
    train_text, val_text = poems.decode(train_ids, vocab), poems.decode(val_ids, vocab)
    assert train_text.count("\n") == 282 and val_text.count("\n") == 31
    assert not set(train_text.split("\n")[1:]) & set(val_text.split("\n")[1:])


def test_offline_regeneration_keeps_the_verified_shipped_file(tmp_path, monkeypatch):
    monkeypatch.setattr(poems, "DEB_DIR", tmp_path)                   # no .deb at hand, as in CI
    assert poems.tang300_bytes() == (data.DATA_DIR / poems.CORPUS_FILE).read_bytes()
    monkeypatch.setattr(poems, "CORPUS_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="does not match CORPUS_SHA256"):
        poems.tang300_bytes()
