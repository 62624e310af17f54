"""Errors are Python exceptions carrying monge's messages, naming the option or the file."""

import numpy as np
import pytest

import monge


@pytest.fixture(scope="module")
def xy():
    return monge.synth.toy("moons", n=100, seed=0)


def test_unknown_option_is_a_type_error_naming_it(xy):
    with pytest.raises(TypeError, match=r"unknown option 'itres' for method 'w2'.*iters"):
        monge.fit(*xy, itres=10, quiet=True)
    with pytest.raises(TypeError, match=r"unknown option 'penalty' for method 'w1'"):
        monge.fit(*xy, method="w1", penalty="l1", quiet=True)


def test_option_types_and_values(xy):
    with pytest.raises(TypeError, match=r"option iters: expected a non-negative integer, got float"):
        monge.fit(*xy, iters=1e3, quiet=True)
    with pytest.raises(ValueError, match=r"option seed: must be a non-negative integer"):
        monge.fit(*xy, seed=-1, quiet=True)
    with pytest.raises(ValueError, match=r"penalty: unknown 'l2' \(expected none, l1, stvs or l0\)"):
        monge.fit(*xy, penalty="l2", quiet=True)
    with pytest.raises(ValueError, match=r"activation: unknown 'tanh' \(expected leaky-relu or elu\)"):
        monge.fit(*xy, activation="tanh", quiet=True)
    with pytest.raises(ValueError, match=r"dtype: unknown 'f16'"):
        monge.fit(*xy, dtype="f16", quiet=True)
    with pytest.raises(ValueError, match=r"method: unknown 'w3'"):
        monge.fit(*xy, method="w3", quiet=True)
    with pytest.raises(ValueError, match=r"two different λ schedules"):
        monge.fit(*xy, penalty="l1", anneal=True, max_dim=1, quiet=True)
    with pytest.raises(ValueError, match=r"threads must be at least 1"):
        monge.fit(*xy, threads=0, quiet=True)
    # a value the core's own validation rejects, with the core's message
    with pytest.raises(ValueError, match=r"batch"):
        monge.fit(*xy, batch=0, quiet=True)


def test_data_errors(xy):
    x, y = xy
    with pytest.raises(ValueError, match=r"source has 2 features but target has 3"):
        monge.fit(x, np.zeros((10, 3)), method="mean-shift", quiet=True)
    bad = x.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"source set.*row 5.*not finite|source set.*5.*2"):
        monge.fit(bad, y, iters=5, quiet=True)
    with pytest.raises(TypeError, match=r"source: expected real numbers"):
        monge.fit(np.array([["a", "b"]]), y, quiet=True)
    with pytest.raises(TypeError, match=r"source: expected a 2-D float32 or float64 array.*3-D"):
        monge.fit(np.zeros((2, 2, 2)), y, quiet=True)
    m = monge.fit(x, y, method="identity", quiet=True)
    with pytest.raises(ValueError, match=r"x has 3 features but the model maps 2"):
        m.transport(np.zeros((4, 3)))


def test_file_errors_name_the_file(tmp_path, xy):
    missing = tmp_path / "nope.monge"
    with pytest.raises(FileNotFoundError, match="nope.monge"):
        monge.load(missing)
    m = monge.fit(*xy, method="mean-shift", quiet=True)
    p = m.save(tmp_path / "m.monge")
    data = bytearray(p.read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "bad.monge").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="bad.monge"):
        monge.load(tmp_path / "bad.monge")
    with pytest.raises(OSError, match="no_such_dir"):
        m.save(tmp_path / "no_such_dir" / "m.monge")


def test_knobs_without_effect_are_refused_as_by_the_cli(xy):
    with pytest.raises(ValueError, match=r"sigma has no effect with penalty='none' \(it applies to penalty='l0'\)"):
        monge.fit(*xy, sigma=0.5, quiet=True)
    with pytest.raises(ValueError, match=r"lambda_ has no effect with penalty='none'"):
        monge.fit(*xy, lam=0.1, quiet=True)
    with pytest.raises(ValueError, match=r"threshold has no effect without max_dim"):
        monge.fit(*xy, penalty="l0", threshold=0.5, quiet=True)
    with pytest.raises(ValueError, match=r"lambda_ has no effect with anneal / max_dim"):
        monge.fit(*xy, penalty="l1", lambda_=0.1, max_dim=1.0, quiet=True)
    with pytest.raises(ValueError, match=r"max_dim -1: a displacement dimensionality budget is at least 0"):
        monge.fit(*xy, penalty="l1", max_dim=-1.0, quiet=True)


def test_threads_beyond_the_cores_are_capped_with_a_warning(xy):
    with pytest.warns(RuntimeWarning, match=r"threads=4096 capped at the \d+ cores"):
        m = monge.fit(*xy, method="mean-shift", threads=4096, quiet=True)
    assert m.dim == 2


def test_evaluate_errors_name_the_set_the_option_or_the_cell(xy):
    x, y = xy
    with pytest.raises(ValueError, match=r"mapped has 2 features but target has 3"):
        monge.evaluate(x, x, np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"source is 99×2 but mapped is 100×2 \(row i of the mapped"):
        monge.evaluate(x[:99], x, y)
    with pytest.raises(ValueError, match=r"true_mapped must have the mapped set's shape 100×2"):
        monge.evaluate(x, x, y, true_mapped=y[:50])
    with pytest.raises(ValueError, match=r"heldout_target has 3 features but target has 2"):
        monge.evaluate(x, x, y, baselines=True, heldout_target=np.zeros((5, 3)))
    for opt in ("top_genes", "baselines"):
        with pytest.raises(ValueError, match=opt + r" needs source \(the cells the mapped set came"):
            monge.evaluate(None, x, y, **{opt: 1 if opt == "top_genes" else True})
    with pytest.raises(ValueError, match=r"max_cells must be at least 2"):
        monge.evaluate(x, x, y, max_cells=1)
    with pytest.raises(ValueError, match=r"projections must be at least 1"):
        monge.evaluate(x, x, y, projections=0)
    with pytest.raises(ValueError, match=r"threshold -1(\.0)?: a displacement threshold is at least 0"):
        monge.evaluate(x, x, y, threshold=-1.0)
    with pytest.raises(ValueError, match=r"features: column 5 does not exist \(the data have 2 columns"):
        monge.evaluate(x, x, y, features=[5])
    with pytest.raises(ValueError, match=r"features: the list is empty"):
        monge.evaluate(x, x, y, features=[])
    with pytest.raises(ValueError, match=r"3 feature names for data with 2 features"):
        monge.evaluate(x, x, y, var_names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"features: 'z' is not in var_names"):
        monge.evaluate(x, x, y, features=["z"], var_names=["a", "b"])
    with pytest.raises(ValueError, match=r"mapped: the data set is empty \(0×2\)"):
        monge.evaluate(x, x[:0], y)
    bad = y.copy()
    bad[6, 1] = np.inf
    with pytest.raises(ValueError, match=r"heldout_target.*row 7.*column 2.*value is not finite"):
        monge.evaluate(x, x, y, baselines=True, heldout_target=bad)
