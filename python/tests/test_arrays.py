"""NumPy in and out: dtypes, memory orders, strided views, 1-D points."""

import numpy as np
import pytest

import monge


@pytest.fixture(scope="module")
def toy():
    return monge.synth.toy("8gaussians", n=300, seed=1)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_orders_and_views_map_to_the_same_bits(toy, dtype):
    x, y = toy
    m = monge.fit(x, y, method="w2", iters=50, eval_every=0, batch=64, seed=3, dtype=dtype, quiet=True)
    npd = np.float32 if dtype == "f32" else np.float64
    xc = np.ascontiguousarray(x, dtype=npd)
    ref = m.transport(xc)
    assert ref.dtype == npd and ref.shape == x.shape and ref.flags.c_contiguous
    # Fortran order, a strided row view, the other precision: converted in one pass, same result
    np.testing.assert_array_equal(m.transport(np.asfortranarray(xc)), ref)
    wide = np.zeros((2 * len(x), 2), dtype=npd)
    wide[::2] = xc
    np.testing.assert_array_equal(m.transport(wide[::2]), ref)
    if dtype == "f32":
        # an f64 input is rounded to f32 like the CLI rounds an f64 .npy file
        np.testing.assert_array_equal(m.transport(xc.astype(np.float64)), ref)
    # one point
    np.testing.assert_array_equal(m.transport(xc[7]), ref[7])
    # the map really moves points (not the identity)
    assert np.abs(ref - xc).max() > 1e-3


def test_fortran_and_c_training_data_give_the_same_model(toy, tmp_path):
    x, y = toy
    kw = dict(method="w2", iters=40, eval_every=20, batch=64, seed=5, dtype="f64", quiet=True)
    a = monge.fit(x, y, **kw).save(tmp_path / "c.monge")
    b = monge.fit(np.asfortranarray(x), np.asfortranarray(y), **kw).save(tmp_path / "f.monge")
    assert (tmp_path / "c.monge").read_bytes() == (tmp_path / "f.monge").read_bytes()


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_mean_shift_is_exact(toy, dtype):
    x, y = toy
    m = monge.fit(x, y, method="mean-shift", dtype=dtype, quiet=True)
    npd = np.float32 if dtype == "f32" else np.float64
    got = m.transport(x)
    assert got.dtype == npd and m.dtype == dtype and m.dim == 2 and m.method == "mean-shift"
    want = x + (y.mean(axis=0) - x.mean(axis=0))
    tol = 1e-5 if dtype == "f32" else 1e-12
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def test_integer_and_list_inputs_are_accepted(toy):
    x, y = toy
    m = monge.fit(np.rint(x).astype(np.int64), y.tolist(), method="identity", quiet=True)
    np.testing.assert_array_equal(m.transport(np.rint(x).astype(np.int32)), np.rint(x).astype(np.float32))


def test_save_load_round_trip(toy, tmp_path):
    x, y = toy
    m = monge.fit(x, y, method="w2", iters=30, eval_every=0, batch=64, seed=2, quiet=True)
    path = m.save(tmp_path / "m.monge")
    back = monge.load(path)
    assert (back.method, back.dim, back.dtype, back.report) == ("w2", 2, "f32", None)
    np.testing.assert_array_equal(back.transport(x), m.transport(x))


def test_synth_shapes_and_known_map():
    c, p, cf = monge.synth.scrna(cells=50, genes=40, affected=5, noise_genes=10, seed=0)
    assert c.shape == p.shape == cf.shape == (50, 40) and c.dtype == np.float64
    s, t, tm = monge.synth.known_map(n=200, dim=3, components=2, seed=4)
    assert s.shape == t.shape == tm.shape == (200, 3)
    # L2-UVP of the true map against itself is 0; of the identity it is not
    ok = monge.evaluate(s, tm, t, true_mapped=tm)
    bad = monge.evaluate(s, s, t, true_mapped=tm)
    assert ok["l2_uvp"] == 0.0 and bad["l2_uvp"] > 1.0


def test_evaluate_subset_and_dims():
    x, y = monge.synth.toy("moons", n=200, seed=0)
    shifted = x + np.array([5.0, 0.0])
    r = monge.evaluate(x, shifted, y, features=[1], threshold=1.0)
    # every point moved in exactly one coordinate by more than the threshold
    assert r["dim_mean"] == 1.0 and r["dim_q3"] == 1.0
    assert r["subset"]["features"] == 1
    # on the untouched coordinate the mapped set is the source: means are those of x[:, 1]
    assert r["subset"]["l2_means"] == pytest.approx(abs(x[:, 1].mean() - y[:, 1].mean()), abs=1e-12)
    assert r["d"] == 2 and r["n_mapped"] == 200 and r["w2sq"] > 0


@pytest.mark.parametrize("method", ["w2", "sinkhorn", "w1"])
def test_transport_threads_give_the_same_bits(toy, method):
    # monge map --threads: row blocks on the workers of one pool; the bits do not depend on the count
    x, y = toy
    m = monge.fit(x, y, method=method, iters=30, eval_every=0, batch=64, seed=2, quiet=True)
    ref = m.transport(x, threads=1)
    assert np.abs(ref - x.astype(ref.dtype)).max() > 1e-3
    # the model keeps the last call's pool: back to a count seen before, and to 1, the bits stay
    for t in (2, 3, None, 2, 1):
        np.testing.assert_array_equal(m.transport(x, threads=t), ref)
    with pytest.raises(ValueError, match="threads"):
        m.transport(x, threads=0)
    # mutation: `Some(0) => n` in python/src/lib.rs lets threads=0 through (Pool::new(0) runs 1 worker)
