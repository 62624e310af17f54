"""AnnData glue, duck-typed: nothing here imports ``anndata``; any object with ``obs`` (a DataFrame),
``obs_names``, ``var``/``var_names``, ``X``, ``obsm`` and ``layers`` works, and predictions are built
with the input's own class.

>>> model = monge.anndata.fit(adata, groupby="condition", source="control", target="drug",
...                           use_rep="X_pca", iters=20000)            # doctest: +SKIP
>>> pred = monge.anndata.predict(model, adata)                           # doctest: +SKIP

Sparse ``X`` (or layers) is densified ``batch_rows`` rows at a time into the one dense array a fit needs
(or, for ``predict``, into a batch that is mapped and written into the result): the whole matrix is never
dense twice.
"""

import numpy as _np

import monge as _monge

BATCH_ROWS = 4096


def _matrix(adata, use_rep):
    """(matrix, kind, feature names) of `use_rep`: None → X; a key of obsm (e.g. "X_pca"); a layer."""
    if use_rep is None or use_rep == "X":
        return adata.X, "X", list(map(str, adata.var_names))
    obsm = getattr(adata, "obsm", {})
    if use_rep in obsm:
        m = obsm[use_rep]
        d = m.shape[1]
        return m, "obsm", [f"{use_rep}_{j}" for j in range(d)]
    layers = getattr(adata, "layers", {})
    if use_rep in layers:
        return layers[use_rep], "layer", list(map(str, adata.var_names))
    raise ValueError(
        f"use_rep={use_rep!r} is neither 'X', a key of obsm ({', '.join(map(str, obsm.keys())) or 'none'})"
        f" nor a layer ({', '.join(map(str, layers.keys())) or 'none'})"
    )


def _feature_columns(features, names, kind):
    if features is None:
        return None
    f = _np.asarray(features)
    if f.dtype == bool:
        if f.shape != (len(names),):
            raise ValueError(f"features: a boolean mask must have {len(names)} entries, got {f.shape}")
        return _np.flatnonzero(f)
    if f.dtype.kind in "iu":
        cols = f.reshape(-1).astype(_np.intp)
        bad = cols[(cols < 0) | (cols >= len(names))]
        if bad.size:
            raise ValueError(f"features: column {bad[0]} does not exist ({len(names)} features)")
        return cols
    index = {n: j for j, n in enumerate(names)}
    missing = [str(n) for n in f.reshape(-1) if str(n) not in index]
    if missing:
        where = "var_names" if kind != "obsm" else "the representation's columns"
        raise ValueError(f"features: not in {where}: {', '.join(missing[:10])}"
                         + (" …" if len(missing) > 10 else ""))
    return _np.array([index[str(n)] for n in f.reshape(-1)], dtype=_np.intp)


def _dense_rows(m, rows, cols, dtype, batch_rows=BATCH_ROWS):
    """m[rows][:, cols] as one dense C-ordered array, densifying a sparse matrix batch by batch."""
    n = len(rows)
    d = m.shape[1] if cols is None else len(cols)
    if not hasattr(m, "toarray"):  # dense (ndarray, or anything np.asarray understands)
        a = _np.asarray(m)
        sub = a[rows] if cols is None else a[_np.ix_(rows, cols)]
        return _np.ascontiguousarray(sub, dtype=dtype)
    out = _np.empty((n, d), dtype=dtype)
    for i in range(0, n, batch_rows):
        block = m[rows[i:i + batch_rows]]
        if cols is not None:
            block = block[:, cols]
        out[i:i + batch_rows] = block.toarray()
    return out


def _group_rows(adata, groupby, value, role):
    obs = adata.obs
    if groupby not in obs.columns:
        cols = ", ".join(map(str, obs.columns)) or "none"
        raise ValueError(f"groupby={groupby!r} is not a column of obs (its columns: {cols})")
    col = obs[groupby]
    mask = _np.asarray(col.astype(str) == str(value))
    if not mask.any():
        present = ", ".join(map(str, sorted(set(map(str, col)))[:20]))
        raise ValueError(f"{role}={value!r}: no cell has obs[{groupby!r}] == {value!r} "
                         f"(values present: {present})")
    return _np.flatnonzero(mask)


def _np_dtype(options):
    dt = _monge._dtype_name(_monge._cli_options(options))
    return _np.float64 if dt == "f64" else _np.float32


def fit(adata, groupby="condition", source="control", target="drug", use_rep=None, features=None,
        **options):
    """Fits a map from the cells with ``obs[groupby] == source`` to those with ``obs[groupby] ==
    target``, in ``use_rep`` (None or "X": ``X``; a key of ``obsm`` such as "X_pca"; or a layer), on
    ``features`` (var names, column indices or a boolean mask; default all). ``options`` are those of
    :func:`monge.fit` (``method``, ``iters``, ``seed``, ``quiet``, ``progress``, ...). The returned
    model remembers ``use_rep``, ``features``, ``groupby`` and ``source`` for :func:`predict`."""
    method = options.pop("method", "w2")
    m, kind, names = _matrix(adata, use_rep)
    cols = _feature_columns(features, names, kind)
    dtype = _np_dtype(options)
    src_rows = _group_rows(adata, groupby, source, "source")
    tgt_rows = _group_rows(adata, groupby, target, "target")
    x = _dense_rows(m, src_rows, cols, dtype)
    y = _dense_rows(m, tgt_rows, cols, dtype)
    model = _monge.fit(x, y, method=method, **options)
    model.meta.update(use_rep=use_rep, features=None if cols is None else cols.tolist(),
                      groupby=groupby, source=source, target=target,
                      feature_names=names if cols is None else [names[j] for j in cols])
    return model


_UNSET = object()


def predict(model, adata, use_rep=_UNSET, features=_UNSET, groupby=_UNSET, source=_UNSET,
            batch_rows=BATCH_ROWS):
    """Maps cells of ``adata`` and returns a new AnnData (of ``adata``'s own class) of predicted cells:
    their ``obs`` (and ``obs_names``) are the mapped cells', ``var`` is ``adata.var`` (restricted to
    ``features``) when the model works in ``X`` or a layer, or one column per component of the
    representation (``X_pca_0``, …) when it works in an ``obsm`` key.

    Which cells: those with ``obs[groupby] == source`` (default: what the model was fitted with by
    :func:`fit`), or every cell with ``source=None``. ``use_rep``/``features`` default to the fit's.
    Rows are mapped ``batch_rows`` at a time (sparse input densified per batch)."""
    meta = getattr(model, "meta", {})
    use_rep = meta.get("use_rep") if use_rep is _UNSET else use_rep
    features = meta.get("features") if features is _UNSET else features
    groupby = meta.get("groupby") if groupby is _UNSET else groupby
    source = meta.get("source") if source is _UNSET else source
    m, kind, names = _matrix(adata, use_rep)
    cols = _feature_columns(features, names, kind)
    d = m.shape[1] if cols is None else len(cols)
    if d != model.dim:
        raise ValueError(f"use_rep={use_rep!r} with these features has {d} columns but the model maps "
                         f"{model.dim}")
    if source is None or groupby is None:
        rows = _np.arange(adata.n_obs if hasattr(adata, "n_obs") else m.shape[0])
    else:
        rows = _group_rows(adata, groupby, source, "source")
    dtype = _np.float64 if model.dtype == "f64" else _np.float32
    out = _np.empty((len(rows), d), dtype=dtype)
    for i in range(0, len(rows), batch_rows):
        part = rows[i:i + batch_rows]
        out[i:i + len(part)] = model.transport(_dense_rows(m, part, cols, dtype, batch_rows))
    obs = adata.obs.iloc[rows].copy()
    if kind == "obsm":
        import pandas as pd  # anndata's own dependency, present wherever an AnnData is

        var = pd.DataFrame(index=pd.Index(names if cols is None else [names[j] for j in cols]))
    else:
        var = adata.var.iloc[cols].copy() if cols is not None else adata.var.copy()
    pred = type(adata)(X=out, obs=obs, var=var)
    pred.uns["monge"] = {"method": model.method, "use_rep": "X" if use_rep is None else use_rep,
                         "groupby": groupby, "source": source}
    return pred
