"""Python and the CLI are the same engine: same data, same seed ⇒ the same model file bytes; models
cross between them both ways and map to the same bits; the report has the CLI's keys."""

import json

import numpy as np
import pytest

import monge
from conftest import run_cli


def test_synth_equals_cli_files(cli, tmp_path):
    run_cli(cli, "synth", "toy", "--dataset", "moons", "--n", 256, "--seed", 7,
            "--out-source", tmp_path / "s.npy", "--out-target", tmp_path / "t.npy")
    x, y = monge.synth.toy("moons", n=256, seed=7)
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), x)
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), y)


CASES = [
    ("w2", {"iters": 120, "batch": 64, "eval_every": 40}, "f32"),
    ("w2", {"iters": 80, "batch": 64, "penalty": "l0", "lambda_": 0.5, "sigma": 0.5, "lr": 3e-4}, "f64"),
    ("w2", {"iters": 60, "batch": 32, "threads": 1, "g_iters": 3}, "f32"),
    ("w2", {"iters": 300, "batch": 64, "eval_every": 20, "patience": 2, "criterion": "energy_distance",
            "heldout_fraction": 0.2}, "f64"),
    ("w2", {"iters": 300, "batch": 64, "penalty": "l1", "max_dim": 1.0, "budget_warmup": 50,
            "budget_block": 20}, "f32"),
    ("w1", {"iters": 60, "batch": 64, "eval_every": 30, "gan_lr": 3e-4}, "f32"),
    ("sinkhorn", {"penalty": "l1", "gamma": 0.5}, "f64"),
    ("mean-shift", {}, "f32"),
    ("w2", {"iters": 80, "batch": 64, "eval_every": 40, "latent": "pca:1"}, "f32"),
    ("sinkhorn", {"latent": "pca:1", "decode": "full"}, "f64"),
    ("w2", {"iters": 60, "batch": 64, "eval_every": 30, "activation": "elu"}, "f32"),
]


def _cli_args(opts):
    out = []
    for k, v in opts.items():
        k = {"lambda_": "lambda"}.get(k, k).replace("_", "-")
        if v is True:
            out.append(f"--{k}")
        else:
            out += [f"--{k}", str(v)]
    return out


@pytest.mark.parametrize("method,opts,dtype", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_same_seed_same_model_bytes(cli, tmp_path, method, opts, dtype):
    x, y = monge.synth.toy("8gaussians", n=400, seed=2)
    if method == "sinkhorn":
        x, y = x[:150], y[:150]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = run_cli(cli, "fit", "--method", method, "--source", tmp_path / "x.npy", "--target",
                  tmp_path / "y.npy", "--model", tmp_path / "cli.monge", "--seed", 11, "--dtype", dtype,
                  "--quiet", "--json", *_cli_args(opts))
    cli_report = json.loads(out)
    m = monge.fit(x, y, method=method, seed=11, dtype=dtype, quiet=True, **opts)
    m.save(tmp_path / "py.monge")
    assert (tmp_path / "py.monge").read_bytes() == (tmp_path / "cli.monge").read_bytes()
    assert list(m.report.keys()) == list(cli_report.keys())
    for k, v in cli_report.items():
        if k == "latent":
            # the PCA's wall time is the one key of the latent space that differs between runs
            assert list(m.report[k].keys()) == list(v.keys())
            assert {a: b for a, b in m.report[k].items() if a != "pca_seconds"} == \
                {a: b for a, b in v.items() if a != "pca_seconds"}
        elif k not in ("model", "seconds"):
            assert m.report[k] == v, k
    assert ("latent" in cli_report) == ("latent" in opts)


def test_models_cross_both_ways(cli, tmp_path):
    x, y = monge.synth.toy("circles", n=300, seed=0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    # Python → CLI
    m = monge.fit(x, y, iters=60, batch=64, eval_every=0, seed=1, quiet=True)
    m.save(tmp_path / "py.monge")
    run_cli(cli, "map", "--model", tmp_path / "py.monge", "--input", tmp_path / "x.npy",
            "--output", tmp_path / "py_cli.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "py_cli.npy"), m.transport(x))
    # CLI → Python
    run_cli(cli, "fit", "--method", "w1", "--source", tmp_path / "x.npy", "--target", tmp_path / "y.npy",
            "--model", tmp_path / "cli.monge", "--iters", 40, "--batch", 64, "--quiet")
    run_cli(cli, "map", "--model", tmp_path / "cli.monge", "--input", tmp_path / "x.npy",
            "--output", tmp_path / "cli_map.npy")
    back = monge.load(tmp_path / "cli.monge")
    assert back.method == "w1" and back.dim == 2
    np.testing.assert_array_equal(back.transport(x), np.load(tmp_path / "cli_map.npy"))


@pytest.mark.parametrize("max_cells", [5000, 100])
def test_evaluate_equals_cli_eval(cli, tmp_path, max_cells):
    s, t, tm = monge.synth.known_map(n=300, dim=3, components=2, seed=1)
    mapped = s + 0.1
    for name, a in (("s", s), ("t", t), ("tm", tm), ("m", mapped)):
        np.save(tmp_path / f"{name}.npy", a)
    out = run_cli(cli, "eval", "--source", tmp_path / "s.npy", "--mapped", tmp_path / "m.npy",
                  "--target", tmp_path / "t.npy", "--true-mapped", tmp_path / "tm.npy",
                  "--features", "0,2", "--threshold", 0.05, "--max-cells", max_cells, "--json")
    want = json.loads(out)
    got = monge.evaluate(s, mapped, t, features=[0, 2], threshold=0.05, true_mapped=tm,
                         max_cells=max_cells)
    assert got["mmd_subsampled"] == (max_cells < 300)
    assert list(got.keys()) == list(want.keys())
    for k, v in want.items():
        if isinstance(v, str):
            assert got[k] == v, k
        else:
            assert got[k] == pytest.approx(v, rel=1e-12), k


@pytest.mark.parametrize("max_cells", [5000, 150])
def test_evaluate_reports_top_genes_and_baselines_as_cli_eval(cli, tmp_path, max_cells):
    s, t, tm = monge.synth.known_map(n=500, dim=4, components=2, seed=3)
    s, tm, t, ht = s[:300], tm[:300], t[:300], t[300:]
    mapped = s + np.array([0.3, 0.0, -0.2, 0.0])
    names = ["g0", "g1", "g2", "g3"]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    for name, a in (("s", s), ("t", t), ("tm", tm), ("m", mapped), ("h", ht)):
        np.save(tmp_path / f"{name}.npy", a)
    out = run_cli(cli, "eval", "--source", tmp_path / "s.npy", "--mapped", tmp_path / "m.npy",
                  "--target", tmp_path / "t.npy", "--true-mapped", tmp_path / "tm.npy",
                  "--heldout-target", tmp_path / "h.npy", "--var-names", tmp_path / "names.txt",
                  "--features", "g1,g3", "--top-genes", 2, "--baselines", "--threshold", 0.05,
                  "--max-cells", max_cells, "--json")
    want = json.loads(out)
    got = monge.evaluate(s, mapped, t, features=["g1", "g3"], threshold=0.05, true_mapped=tm,
                         max_cells=max_cells, top_genes=2, baselines=True, heldout_target=ht,
                         var_names=names)
    # the same composition: the same keys in the same order, the same numbers to the bit
    assert list(got.keys()) == list(want.keys())
    assert got == want
    for row in ("identity", "mean_shift", "observed"):
        assert list(got["baselines"][row].keys()) == list(want["baselines"][row].keys())
    assert list(got["baselines"].keys()) == ["identity", "mean_shift", "observed"]
    assert got["baselines"]["mean_shift"]["shift_estimated_on"] == "heldout-target"
    assert got["mmd_subsampled"] == (max_cells < 300)
    top = got["top_genes"]
    assert top["features"] == 2 and top["names"] == [names[j] for j in top["columns"]]
    # the largest change of the means first
    change = np.abs(t.mean(axis=0) - s.mean(axis=0))
    assert top["columns"] == list(np.argsort(-change)[:2])
    # the identity moves nothing: no coordinate counts as moved
    assert got["baselines"]["identity"]["dim_mean"] == 0
