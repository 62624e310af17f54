"""monge from Python: neural optimal transport maps on the same Rust kernels as the ``monge`` CLI.

>>> import monge
>>> x, y = monge.synth.toy("8gaussians", n=1000, seed=0)
>>> model = monge.fit(x, y, method="w2", iters=2000, seed=0, quiet=True)
>>> mapped = model.transport(x)
>>> monge.evaluate(x, mapped, y)["w2sq"]          # doctest: +SKIP

Options take the names of ``monge fit`` (``iters``, ``batch``, ``penalty``, ``lambda_`` or ``lam``,
``sigma``, ``gamma``, ``lr``, ``g_iters``, ``eval_every``, ``anneal``, ``max_dim``, ``threshold``,
``seed``, ``threads``, ``dtype``, ...; dashes become underscores). Model files are the CLI's, both ways.
"""

import os as _os

import numpy as _np

from . import _monge
from . import synth
from ._progress import StderrProgress
from ._monge import DivergedError

__all__ = [
    "fit",
    "load",
    "evaluate",
    "Model",
    "synth",
    "anndata",
    "DivergedError",
    "StderrProgress",
    "default_threads",
]
__version__ = _monge.__version__


def default_threads():
    """The CLI's default thread count: the machine's cores, at most 2."""
    return _monge.default_threads()


def _as_array(x, name, dtype=None):
    """`x` as a 2-D float32/float64 NumPy array without copying one that already is (any order);
    integer, boolean and float16 data become `dtype` (float32 unless told); sparse matrices are
    densified."""
    if hasattr(x, "toarray") and not isinstance(x, _np.ndarray):
        x = x.toarray()
    a = _np.asarray(x)
    if a.dtype == _np.float32 or a.dtype == _np.float64:
        return a
    if a.dtype.kind in "biuf":
        return a.astype(_np.float64 if dtype == "f64" else _np.float32)
    raise TypeError(
        f"{name}: expected real numbers (float32 or float64, samples × features), got dtype {a.dtype}"
    )


_ALIASES = {"lambda_": "lambda", "lam": "lambda", "method_": "method"}


def _cli_options(options):
    out = {}
    for k, v in options.items():
        key = _ALIASES.get(k, k).replace("_", "-")
        if key in out:
            raise TypeError(f"fit() got option {k!r} twice (under two spellings)")
        out[key] = v
    return out


def _dtype_name(options):
    d = options.get("dtype")
    if d is None:
        return "f32"
    if not isinstance(d, str):
        d = _np.dtype(d).name  # numpy.float64, "float64", ...
    return {"float32": "f32", "float64": "f64"}.get(d, d)


def _raw_attribute(name, doc):
    """A read-only attribute of the model the Rust extension holds."""
    return property(lambda self: getattr(self._raw, name), doc=doc)


class Model:
    """A fitted or loaded transport map T: R^d -> R^d.

    Attributes: ``method`` ("w2", "w1", "sinkhorn", "mean-shift", "identity", "latent"), ``dim`` (d),
    ``dtype`` ("f32" or "f64", the precision it was trained and is stored in), ``report`` (the fit's
    report with the keys of ``monge fit --json``; None for a loaded model).
    """

    def __init__(self, raw, meta=None):
        self._raw = raw
        self.meta = dict(meta or {})

    method = _raw_attribute("method", "the method's name, as in model files")
    dim = _raw_attribute("dim", "d, the number of features")
    dtype = _raw_attribute("dtype", '"f32" or "f64": the precision the model was trained and is stored in')
    report = _raw_attribute("report", "the fit's report (the keys of monge fit --json); None when loaded")

    def transport(self, x, threads=None):
        """T applied to every row of ``x`` (n × d, or one point of length d), computed in the model's
        precision and returned as an array of that dtype. ``threads`` workers map row blocks (default:
        :func:`default_threads`, as ``monge map``); the result does not depend on it."""
        a = _as_array(x, "x", self.dtype)
        if a.ndim == 1:
            return self._raw.transport(a.reshape(1, -1), threads)[0]
        return self._raw.transport(a, threads)

    __call__ = transport

    def save(self, path):
        """Writes the model file (the CLI's format, written atomically); returns ``path``."""
        self._raw.save(_os.fspath(path))
        return path

    def __repr__(self):
        return f"<monge.Model {self.method} d={self.dim} {self.dtype}>"


def fit(source, target, method="w2", *, progress=None, quiet=False, heldout_source=None,
        heldout_target=None, **options):
    """Learns a map from ``source`` to ``target`` (n × d and m × d arrays, float32/float64, C or
    Fortran order) and returns a :class:`Model`.

    W2 and W1 hold out ``heldout_fraction`` (default 0.1) of each set for model selection and early
    stopping (``eval_every``, ``patience``, ``criterion``), or use ``heldout_source``/``heldout_target``
    (arrays) when given; ``report["heldout"]`` compares the map with the identity and the mean shift
    there, ``report["stopped"]`` says why training ended.

    ``options`` are those of ``monge fit`` under their CLI names (see the module doc); unknown names
    raise TypeError, invalid values ValueError with monge's message. Training releases the GIL and
    uses ``threads`` worker threads (default: the machine's cores, at most 2). ``progress(info)`` is
    called at the solver's progress interval with a dict (phase, iteration, total, losses, lambda,
    criterion, heldout, heldout_best); returning True stops training cleanly (the best model so far is
    returned, ``report["stopped"] == "interrupted"``), an exception raised there stops it and
    propagates. A divergence raises DivergedError, with the best model before it as ``.model`` when a
    held-out evaluation had run. Without ``progress`` a
    plain line goes to stderr at most once a second, unless ``quiet=True``. Ctrl-C (SIGINT) stops
    training at the next progress report and raises KeyboardInterrupt.
    """
    opts = _cli_options(options)
    dt = _dtype_name(opts)
    if "dtype" in opts:
        opts["dtype"] = dt
    if not isinstance(method, str):
        raise TypeError(f"method: expected a string, got {type(method).__name__}")
    x = _as_array(source, "source", dt)
    y = _as_array(target, "target", dt)
    if progress is None and not quiet:
        progress = StderrProgress()
    if progress is not None and not callable(progress):
        raise TypeError("progress: expected a callable taking one dict")
    hs = None if heldout_source is None else _as_array(heldout_source, "heldout_source", dt)
    ht = None if heldout_target is None else _as_array(heldout_target, "heldout_target", dt)
    try:
        raw = _monge.fit(x, y, method, opts, progress, hs, ht)
    except DivergedError as e:
        if hasattr(e, "model"):
            e.model = Model(e.model)
        raise
    return Model(raw)


def load(path):
    """Reads a model file written by ``monge fit`` or :meth:`Model.save`."""
    return Model(_monge.load(_os.fspath(path)))


def _columns(features, d, var_names=None):
    if features is None:
        return None
    f = _np.asarray(features)
    if f.size == 0:
        return []  # the core's "features: the list is empty"
    if f.dtype.kind in "US":
        if var_names is None:
            raise TypeError("features: names need var_names (the feature names); otherwise give columns")
        where = {n: j for j, n in enumerate(var_names)}
        missing = [str(n) for n in f.reshape(-1) if str(n) not in where]
        if missing:
            raise ValueError(f"features: {missing[0]!r} is not in var_names")
        return [where[str(n)] for n in f.reshape(-1)]
    if f.dtype == bool:
        if f.shape != (d,):
            raise ValueError(f"features: a boolean mask must have {d} entries, got {f.shape}")
        f = _np.flatnonzero(f)
    elif f.dtype.kind not in "iu":
        raise TypeError("features: expected column indices (0-based), a boolean mask or names")
    f = f.reshape(-1)
    if (f < 0).any():
        raise ValueError("features: column indices are 0-based and non-negative")
    return [int(j) for j in f]


def evaluate(source, mapped, target, features=None, threshold=1.0, *, true_mapped=None,
             projections=200, seed=0, max_cells=5000, top_genes=None, baselines=False,
             heldout_target=None, var_names=None):
    """The report of ``monge eval`` between ``mapped`` (T(source)) and ``target``, as a dict with its
    JSON keys (the same composition, so the same numbers): mmd, sw2, w2sq (exact, both sets ≤ 2000
    rows), r2, pearson, l2_means, dim_mean and dim_q3 (with ``source``; |Δᵢ| > ``threshold`` counts a
    coordinate as moved), r2_delta and pearson_delta (with ``source``), l2_uvp (with ``true_mapped``),
    threshold, n_mapped, n_target, d, mmd_max_cells and mmd_subsampled (the MMD, also the subsets', is
    computed on a seeded subsample of at most ``max_cells`` rows of each set), and:

    - ``subset``: the distribution metrics on ``features`` (column indices, a boolean mask, or names
      with ``var_names``);
    - ``top_genes``: the same on the ``top_genes`` features with the largest
      |mean(target) − mean(source)| (needs ``source``), with their ``names`` (``var_names``, else the
      columns) and ``columns``, largest change first;
    - ``baselines``: with ``baselines=True`` (needs ``source``) the rows ``identity`` (the source itself)
      and ``mean_shift`` (source + mean(target) − mean(source), the shift estimated on
      ``heldout_target`` when given); with ``heldout_target`` (other cells of the target condition) the
      row ``observed``, those cells scored as if predicted: the floor a perfect map reaches.

    ``source`` may be None."""
    m = _as_array(mapped, "mapped", "f64")
    t = _as_array(target, "target", "f64")
    s = None if source is None else _as_array(source, "source", "f64")
    tm = None if true_mapped is None else _as_array(true_mapped, "true_mapped", "f64")
    ht = None if heldout_target is None else _as_array(heldout_target, "heldout_target", "f64")
    names = None if var_names is None else [str(n) for n in var_names]
    d = m.shape[1] if m.ndim == 2 else 0
    k = None if top_genes is None else int(top_genes)
    return _monge.evaluate(s, m, t, _columns(features, d, names), float(threshold), tm,
                           int(projections), int(seed), int(max_cells), k, bool(baselines), ht, names)


# last: it refers to the names above (and imports no anndata itself)
from . import anndata  # noqa: E402
