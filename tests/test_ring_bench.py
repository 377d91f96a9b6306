"""The `ring` benchmark group: record fields, bytes as counted, and its targets judged."""

from utils.bench import ring


def test_ring_records_have_the_fields_and_the_bytes_of_the_formula():
    records = ring.run_ring(sizes=(256,), processes=(2,))
    (r,) = records
    assert {"group", "P", "n", "seconds", "peak_mib_per_process", "bytes_sent_per_process"} <= r.keys()
    assert (r["group"], r["P"], r["n"]) == ("ring", 2, 256) and r["bytes_formula"] == 256 // 2 * 64 * 4 * 2
    assert r["bytes_formula"] <= r["bytes_sent_per_process"] <= 1.05 * r["bytes_formula"]


def _rec(P, n, peak, sent, formula):
    return {"group": "ring", "P": P, "n": n, "seconds": 1.0, "peak_mib_per_process": peak,
            "bytes_sent_per_process": sent, "bytes_formula": formula}


def test_targets_are_judged():
    good = ring.target_checks([_rec(1, 16384, 3000.0, 0, 0), _rec(4, 16384, 200.0, 6_300_000, 6_291_456)])
    assert len(good) == 2 and all(line.endswith("met") for line in good)
    bad = ring.target_checks([_rec(1, 16384, 3000.0, 0, 0), _rec(4, 16384, 1200.0, 7_000_000, 6_291_456)])
    assert all(line.endswith("MISSED") for line in bad)
    assert ring.target_checks([_rec(4, 4096, 20.0, 1_573_729, 1_572_864)])[0].endswith("met")
