"""AnnData glue: groups by obs, representations, sparse X, obs_names kept; no anndata import at
`import monge`."""

import subprocess
import sys

import numpy as np
import pytest

import monge

ad = pytest.importorskip("anndata")
sp = pytest.importorskip("scipy.sparse")
pd = pytest.importorskip("pandas")


def make_adata(sparse):
    c, p, _ = monge.synth.scrna(cells=60, genes=30, affected=4, noise_genes=10, seed=3)
    X = np.vstack([c, p]).astype(np.float32)
    obs = pd.DataFrame(
        {"condition": ["control"] * 60 + ["drug"] * 60, "batch": ["b1", "b2"] * 60},
        index=[f"cell{i:03d}" for i in range(120)],
    )
    var = pd.DataFrame({"kind": ["g"] * 30}, index=[f"gene{j}" for j in range(30)])
    a = ad.AnnData(X=sp.csr_matrix(X) if sparse else X, obs=obs, var=var)
    a.obsm["X_pca"] = X[:, :5] * 2.0
    a.layers["raw"] = X + 1.0
    return a, X


def test_import_monge_does_not_import_anndata():
    code = "import sys, monge; print('anndata' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("sparse", [False, True])
def test_fit_predict_keeps_obs_names_and_var(sparse):
    a, X = make_adata(sparse)
    m = monge.anndata.fit(a, groupby="condition", source="control", target="drug",
                          method="mean-shift", quiet=True)
    pred = monge.anndata.predict(m, a, batch_rows=7)  # several batches, the last one short
    assert isinstance(pred, type(a))
    assert list(pred.obs_names) == [f"cell{i:03d}" for i in range(60)]
    assert list(pred.var_names) == list(a.var_names) and list(pred.var["kind"]) == ["g"] * 30
    assert list(pred.obs["batch"]) == ["b1", "b2"] * 30
    # mean shift moves every control cell by mean(drug) − mean(control)
    want = X[:60] + (X[60:].mean(0) - X[:60].mean(0))
    np.testing.assert_allclose(pred.X, want, atol=1e-4)


def test_use_rep_obsm_and_features_and_layers():
    a, X = make_adata(True)
    m = monge.anndata.fit(a, use_rep="X_pca", method="w2", iters=20, batch=16, eval_every=0,
                          seed=1, quiet=True)
    assert m.dim == 5
    pred = monge.anndata.predict(m, a)
    assert list(pred.var_names) == [f"X_pca_{j}" for j in range(5)]
    assert list(pred.obs_names) == list(a.obs_names[:60])
    np.testing.assert_array_equal(pred.X, m.transport(a.obsm["X_pca"][:60]))

    genes = ["gene3", "gene7", "gene0"]
    m2 = monge.anndata.fit(a, use_rep="raw", features=genes, method="mean-shift", quiet=True)
    pred2 = monge.anndata.predict(m2, a)
    assert list(pred2.var_names) == genes
    raw = X + 1.0
    cols = [3, 7, 0]
    want = raw[:60][:, cols] + (raw[60:][:, cols].mean(0) - raw[:60][:, cols].mean(0))
    np.testing.assert_allclose(pred2.X, want, atol=1e-4)
    # every cell when source=None
    assert monge.anndata.predict(m2, a, source=None).n_obs == 120


def test_anndata_errors_name_what_is_missing():
    a, _ = make_adata(False)
    with pytest.raises(ValueError, match=r"groupby='treatment' is not a column of obs.*condition"):
        monge.anndata.fit(a, groupby="treatment", method="identity", quiet=True)
    with pytest.raises(ValueError, match=r"target='DMSO'.*values present: control, drug"):
        monge.anndata.fit(a, target="DMSO", method="identity", quiet=True)
    with pytest.raises(ValueError, match=r"use_rep='X_umap'.*X_pca.*raw"):
        monge.anndata.fit(a, use_rep="X_umap", method="identity", quiet=True)
    with pytest.raises(ValueError, match=r"features: not in var_names: CD14"):
        monge.anndata.fit(a, features=["gene1", "CD14"], method="identity", quiet=True)
