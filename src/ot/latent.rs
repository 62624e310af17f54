//! Latent spaces with decoding: PCA of the pooled training cells, any map trained on the K principal
//! coordinates, and its image taken back to gene space (issue 16, item 1; CellOT and w1ot train in a
//! 50-dimensional latent space for the same reason: OT in thousands of genes is noise-dominated).
//!
//! # Encoder
//! The pooled training cells (the training rows of the source and of the target, each row once) have mean
//! `m ∈ ℝᵈ` and principal axes `V_K = [v_1 … v_K] ∈ ℝ^{d×K}`, `V_Kᵀ V_K = I_K` ([`crate::linalg::pca`]).
//! With the orthogonal projector `P = V_K V_Kᵀ` every x splits as
//!
//! ```text
//! x = m + V_K z + r,    z = E(x) = V_Kᵀ (x − m) ∈ ℝ^K,    r = (I − P)(x − m)
//! ```
//!
//! (z: the latent coordinates; r: the part of x outside the latent space). The inner map
//! `T_K: ℝ^K → ℝ^K` (any method of [`crate::ot::fit::Method`]) is trained on `E(source)` → `E(target)`.
//!
//! # Decoders
//! - [`Decode::Keep`] (default): `T(x) = x + V_K (T_K(z) − z) = m + V_K T_K(z) + r`. The latent
//!   coordinates are replaced by their image and r is kept as it is:
//!   1. `E(T(x)) = T_K(E(x))` (as `V_Kᵀ V_K = I`, `V_Kᵀ r = 0`): in latent space T is the inner map;
//!   2. `(I − P)(T(x) − x) = 0`: the displacement lies in the latent space, no gene direction outside
//!      it is touched (a cell's own deviation from the latent space survives the map);
//!   3. `T_K = id ⇒ T = id`; `T_K(z) = z + δ` (a latent mean shift, `δ = V_Kᵀ(mean ν − mean μ)`) ⇒
//!      `T(x) = x + P (mean ν − mean μ)`, the gene-space mean shift projected on the latent space;
//!   4. if `T_K = ∇φ` with φ convex (a W2 map), `T = ∇Φ` with
//!      `Φ(x) = φ(V_Kᵀ(x − m)) + ½‖(I − P)(x − m)‖² + mᵀx` convex (∇Φ = V_K ∇φ(z) + (I − P)(x − m) + m
//!      = m + V_K T_K(z) + r), so the decoded W2 map is again the gradient of a convex function.
//! - [`Decode::Full`] (`--decode full`): `T(x) = m + V_K T_K(z)`, the image projected on the affine
//!   latent space (r dropped: every output is a PCA reconstruction; `T_K = id` gives the rank-K
//!   reconstruction `m + P(x − m)`, not x).
//!
//! # Arithmetic
//! m and V_K are stored in the map's precision T (an f32 model rounds the f64 PCA once, at fit time), and
//! every use widens those stored values to f64, so training, mapping and a reloaded model all see the
//! same basis bit for bit. E: `(x − m) V_K` in f64 by blocks ([`crate::linalg::pca::project_rows`]),
//! rounded to T for the inner map. Decode in f64 from the T values of x, z and T_K(z), rounded once to T:
//! Keep computes `x + (T_K(z) − z) V_Kᵀ`, so `T_K(z) = z` returns x bit for bit. Cost: 2·n·d·K flops each
//! way besides the inner map.
//!
//! # PCA
//! [`crate::linalg::pca`] with [`LATENT_PCA_TOL`]: exact (Gram eigendecomposition or SVD) when
//! min(cells, d) ≤ 256; above that the randomized range finder of HMT 2011 (Alg. 4.4, subspace
//! iteration from a seeded uniform start, l = K + 10 columns, monge's own gemm) with its
//! documented error check: the relative Ritz residual `r_k = ‖G ṽ_k − θ_k ṽ_k‖/θ_1` of each of the K
//! axes (G = X_cᵀX_c) bounds the error of the k-th eigenvalue by `r_k θ_1`; the iteration stops when
//! `max_k r_k ≤ tol`. For a latent space what matters is the captured variance, so `tol` is 1e-6 here
//! (each eigenvalue within 1e-6·θ_1 of the truth) rather than the 1e-10 of an exact-PCA request: a flat
//! noise spectrum past the signal (as in expression data) converges slowly in its own, irrelevant
//! directions. A run that hits the iteration cap still returns an orthonormal basis; [`LatentReport`]
//! says so (`converged`, `max_residual`) and the CLI warns.
//!
//! # Held-out selection
//! With an iterative inner method (W2, W1) the held-out cells are split off in gene space first (the
//! same seeded split the inner trainer would make), the PCA sees only the training cells, and the inner
//! trainer selects on the projected held-out cells: its criterion then measures how well `T_K` matches
//! the held-out target *in the K latent coordinates* (what lies outside the latent space cannot be
//! seen by it). The report's `heldout` is recomputed in gene space for the decoded map (and the
//! gene-space identity and mean shift), so it can be compared with a fit without a latent space; the
//! latent-space values the selector minimised are in [`LatentReport::heldout`]. The closed-form inner
//! methods use no held-out cells: the PCA sees every cell.
//!
//! # Inner methods
//! Any method of the front door: W2, W1, Sinkhorn (its elastic cost then acts on the latent
//! displacement), mean shift, identity. Refused: a latent method inside another, and W2's
//! displacement-sparsity penalties and λ schedules — sparsity in principal coordinates is not sparsity
//! in genes (each axis mixes every gene), so it would not mean what `--penalty`/`--max-dim` promise.
//!
//! # Saved form
//! Method `"latent"`, dim d; hyper-parameters `components` = K, `decode` = `keep`|`full`, `inner` = the
//! inner method, then the inner model's hyper-parameters under the prefix `inner.`; tensors `mean` `[d]`,
//! `basis` `[K, d]` (row k = v_k), then the inner model's tensors under `inner.`. Loading checks K ∈ 1..=d
//! and both shapes against the values present before anything is allocated, refuses an inner `latent`
//! (no nesting, so no unbounded recursion), refuses a basis whose rows are not orthonormal within
//! √ε_T, and rebuilds the inner map with its own checks.

use std::time::Instant;

use crate::linalg::pca::{project_rows, Pca, PcaConfig, PcaMethod};
use crate::linalg::{gemm, Mat, MatRef, Op, Real};
use crate::ot::baselines::expect_method;
use crate::ot::fit::{Fitted, Method};
use crate::ot::train::split::check_pair;
use crate::ot::train::{Control, Heldout, HeldoutEval, HeldoutReport, HeldoutSets};
use crate::ot::{map_from_saved, map_rows, SavedModel, TransportMap};
use crate::parallel::Pool;
use crate::{Error, Result};

/// Rows decoded at a time (the f64 blocks are BLOCK × d and BLOCK × K).
const BLOCK: usize = crate::linalg::pca::BLOCK;

/// Rows per chunk when mapping ([`LatentMap`]'s `transport_on`).
pub const LATENT_MAP_CHUNK: usize = 1024;

/// Ritz-residual tolerance of the latent PCA (module doc, "PCA").
pub const LATENT_PCA_TOL: f64 = 1e-6;

/// How the latent image goes back to gene space (module doc, "Decoders").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Decode {
    /// `T(x) = x + V_K (T_K(z) − z)`: the part of x outside the latent space kept as it is.
    #[default]
    Keep,
    /// `T(x) = m + V_K T_K(z)`: projected on the latent space.
    Full,
}

impl Decode {
    /// `"keep"` or `"full"` (the CLI's `--decode` values, and the model file's).
    pub fn name(self) -> &'static str {
        match self {
            Decode::Keep => "keep",
            Decode::Full => "full",
        }
    }

    /// The mode called `s`, if any.
    pub fn from_name(s: &str) -> Option<Decode> {
        match s {
            "keep" => Some(Decode::Keep),
            "full" => Some(Decode::Full),
            _ => None,
        }
    }
}

/// Options of a latent fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatentConfig {
    /// K, the number of principal axes.
    pub components: usize,
    /// The decoder.
    pub decode: Decode,
    /// The PCA's options (tolerance [`LATENT_PCA_TOL`] by default).
    pub pca: PcaConfig,
}

impl LatentConfig {
    /// K axes, [`Decode::Keep`], the PCA at [`LATENT_PCA_TOL`] with seed 0.
    pub fn pca(components: usize) -> Self {
        LatentConfig {
            components,
            decode: Decode::Keep,
            pca: PcaConfig {
                tol: LATENT_PCA_TOL,
                ..PcaConfig::default()
            },
        }
    }

    /// Parses the CLI's `--latent` value, `pca:K` (K ≥ 1).
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = || {
            Error::Usage(format!(
                "--latent: expected pca:K with K ≥ 1 (e.g. pca:50), got {:?}",
                spec.chars().take(40).collect::<String>()
            ))
        };
        let k = spec.strip_prefix("pca:").ok_or_else(bad)?;
        match k.trim().parse::<usize>() {
            Ok(k) if k >= 1 => Ok(Self::pca(k)),
            _ => Err(bad()),
        }
    }

    /// Checks K against the data's dimension d.
    pub fn validate(&self, d: usize) -> Result<()> {
        if self.components == 0 || self.components > d {
            return Err(Error::Usage(format!(
                "--latent pca:{}: the number of axes must be in 1..={d} (the data's features)",
                self.components
            )));
        }
        Ok(())
    }
}

/// The mean and axes of a latent space, as stored (T) and widened (f64, module doc, "Arithmetic").
#[derive(Clone, Debug, PartialEq)]
pub struct LatentBasis<T> {
    mean: Vec<T>,
    /// K × d, row k = v_k.
    axes: Mat<T>,
    mean64: Vec<f64>,
    axes64: Mat<f64>,
}

impl<T: Real> LatentBasis<T> {
    /// From a mean (length d) and axes (K × d). Errors on mismatched shapes or on axes whose rows are not
    /// orthonormal within √ε_T (`max |V_Kᵀ V_K − I| `, computed in f64).
    pub fn new(mean: Vec<T>, axes: Mat<T>) -> Result<Self> {
        let (k, d) = axes.shape();
        if k == 0 || d == 0 || mean.len() != d || k > d {
            return Err(Error::Shape(format!(
                "latent basis: {k} axes of length {d} with a mean of length {} (need 1 ≤ K ≤ d)",
                mean.len()
            )));
        }
        let axes64: Mat<f64> = axes.cast();
        let mut g = Mat::zeros(k, k);
        gemm(
            1.0,
            axes64.view(),
            Op::N,
            axes64.view(),
            Op::T,
            0.0,
            g.view_mut(),
        );
        let tol = T::EPSILON.to_f64().sqrt();
        for i in 0..k {
            for j in 0..k {
                let dev = (g.get(i, j) - if i == j { 1.0 } else { 0.0 }).abs();
                if dev > tol {
                    return Err(Error::Shape(format!(
                        "latent basis: the axes are not orthonormal (v_{}·v_{} deviates by {dev:.3e} \
                         from {}, more than {tol:.1e})",
                        i + 1,
                        j + 1,
                        if i == j { 1 } else { 0 }
                    )));
                }
            }
        }
        Ok(LatentBasis {
            mean64: mean.iter().map(|v| v.to_f64()).collect(),
            mean,
            axes,
            axes64,
        })
    }

    /// The mean and first K axes of a fitted PCA, rounded once to T.
    pub fn from_pca(pca: &Pca) -> Result<Self> {
        let mean = pca.mean().iter().map(|&v| T::from_f64(v)).collect();
        Self::new(mean, pca.components().cast())
    }

    /// Gene-space dimension d.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Latent dimension K.
    pub fn components(&self) -> usize {
        self.axes.rows()
    }

    /// The mean m.
    pub fn mean(&self) -> &[T] {
        &self.mean
    }

    /// The axes, K × d (row k = v_k).
    pub fn axes(&self) -> &Mat<T> {
        &self.axes
    }

    /// `z = V_Kᵀ (x − m)` for every row of x (n × d) → n × K. Errors when x is not n × d.
    pub fn encode(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        let mut z = Mat::zeros(x.rows(), self.components());
        project_rows(&self.mean64, &self.axes64, x, z.view_mut())?;
        Ok(z)
    }

    /// The decoded image (module doc, "Decoders") of rows x with latent coordinates z and inner images
    /// tz (both n × K). Errors on mismatched shapes.
    pub fn decode(&self, how: Decode, x: MatRef<'_, T>, z: &Mat<T>, tz: &Mat<T>) -> Result<Mat<T>> {
        let (d, k, n) = (self.dim(), self.components(), x.rows());
        if x.cols() != d || z.shape() != (n, k) || tz.shape() != (n, k) {
            return Err(Error::Shape(format!(
                "latent decode: x {}×{}, z {}×{}, T_K(z) {}×{} with d = {d}, K = {k}",
                n,
                x.cols(),
                z.rows(),
                z.cols(),
                tz.rows(),
                tz.cols()
            )));
        }
        let mut y = Mat::zeros(n, d);
        let mut cb = Mat::<f64>::zeros(0, k);
        let mut yb = Mat::<f64>::zeros(0, d);
        for r0 in (0..n).step_by(BLOCK) {
            let r1 = (r0 + BLOCK).min(n);
            cb.resize(r1 - r0, k);
            yb.resize(r1 - r0, d);
            for i in r0..r1 {
                let (c, b) = (cb.row_mut(i - r0), yb.row_mut(i - r0));
                match how {
                    // c = T_K(z) − z, base x
                    Decode::Keep => {
                        for ((c, t), s) in c.iter_mut().zip(tz.row(i)).zip(z.row(i)) {
                            *c = t.to_f64() - s.to_f64();
                        }
                        for (b, v) in b.iter_mut().zip(x.row(i)) {
                            *b = v.to_f64();
                        }
                    }
                    // c = T_K(z), base m
                    Decode::Full => {
                        for (c, t) in c.iter_mut().zip(tz.row(i)) {
                            *c = t.to_f64();
                        }
                        b.copy_from_slice(&self.mean64);
                    }
                }
            }
            // base + c V_Kᵀ (the axes are the rows of axes64)
            gemm(
                1.0,
                cb.view(),
                Op::N,
                self.axes64.view(),
                Op::N,
                1.0,
                yb.view_mut(),
            );
            for i in r0..r1 {
                for (o, v) in y.row_mut(i).iter_mut().zip(yb.row(i - r0)) {
                    *o = T::from_f64(*v);
                }
            }
        }
        Ok(y)
    }
}

/// A map trained in a latent space and decoded to gene space (module doc).
pub struct LatentMap<T: Real> {
    basis: LatentBasis<T>,
    decode: Decode,
    inner: Box<dyn TransportMap<T>>,
}

impl<T: Real> std::fmt::Debug for LatentMap<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatentMap")
            .field("dim", &self.basis.dim())
            .field("components", &self.basis.components())
            .field("decode", &self.decode)
            .field("inner", &self.inner.to_saved().method)
            .finish()
    }
}

impl<T: Real> LatentMap<T> {
    /// Wraps `inner` (a map on ℝ^K) with a basis of K axes. Errors when the dimensions differ.
    pub fn new(
        basis: LatentBasis<T>,
        decode: Decode,
        inner: Box<dyn TransportMap<T>>,
    ) -> Result<Self> {
        if inner.dim() != basis.components() {
            return Err(Error::Shape(format!(
                "latent map: the inner map is on ℝ^{}, the basis has {} axes",
                inner.dim(),
                basis.components()
            )));
        }
        Ok(LatentMap {
            basis,
            decode,
            inner,
        })
    }

    /// The latent basis (m and V_K).
    pub fn basis(&self) -> &LatentBasis<T> {
        &self.basis
    }

    /// The decoder.
    pub fn decode_mode(&self) -> Decode {
        self.decode
    }

    /// The inner map T_K.
    pub fn inner(&self) -> &dyn TransportMap<T> {
        self.inner.as_ref()
    }

    /// Rebuilds from a saved model (module doc, "Saved form").
    pub fn from_saved(saved: &SavedModel<T>) -> Result<Self> {
        expect_method(saved, "latent")?;
        let d = saved.dim;
        if d == 0 {
            return Err(SavedModel::<T>::fail("dimension 0"));
        }
        let k = saved.hyper_usize_in("components", 1, d)?;
        let decode = match saved.hyper("decode") {
            Some(s) => Decode::from_name(s).ok_or_else(|| {
                SavedModel::<T>::fail(format!(
                    "hyper-parameter 'decode' = {:?} is not keep or full",
                    s.chars().take(40).collect::<String>()
                ))
            })?,
            None => return Err(SavedModel::<T>::fail("missing hyper-parameter 'decode'")),
        };
        let inner_method = saved
            .hyper("inner")
            .ok_or_else(|| SavedModel::<T>::fail("missing hyper-parameter 'inner'"))?;
        if inner_method == "latent" {
            return Err(SavedModel::<T>::fail(
                "the inner model of a latent model cannot itself be latent",
            ));
        }
        let mut index = saved.tensor_index()?;
        // shapes checked against the values present before anything is copied
        let mean = index.shaped("mean", &[d])?;
        let axes = index.shaped("basis", &[k, d])?;
        let mut inner = SavedModel {
            method: inner_method.to_string(),
            dim: k,
            hyper: Vec::new(),
            tensors: Vec::new(),
        };
        for (key, v) in &saved.hyper {
            if let Some(rest) = key.strip_prefix("inner.") {
                inner.hyper.push((rest.to_string(), v.clone()));
            }
        }
        for (t, (name, shape, vals)) in saved.tensors.iter().enumerate() {
            if name == "mean" || name == "basis" {
                continue;
            }
            let rest = name.strip_prefix("inner.").ok_or_else(|| {
                SavedModel::<T>::fail(format!(
                    "unexpected tensor {} {:?} (a latent model holds mean, basis and inner.*)",
                    t + 1,
                    name.chars().take(40).collect::<String>()
                ))
            })?;
            inner
                .tensors
                .push((rest.to_string(), shape.clone(), vals.clone()));
        }
        let inner_map = map_from_saved(&inner).map_err(|e| match e {
            Error::Model { msg, .. } => {
                SavedModel::<T>::fail(format!("inner '{}' model: {msg}", inner.method))
            }
            other => other,
        })?;
        let basis = LatentBasis::new(mean.to_vec(), Mat::from_fn(k, d, |i, j| axes[i * d + j]))
            .map_err(|e| SavedModel::<T>::fail(e.to_string()))?;
        Self::new(basis, decode, inner_map).map_err(|e| SavedModel::<T>::fail(e.to_string()))
    }
}

impl<T: Real> TransportMap<T> for LatentMap<T> {
    fn dim(&self) -> usize {
        self.basis.dim()
    }

    /// Encode, map and decode per chunk of [`LATENT_MAP_CHUNK`] rows on the pool's workers (the inner
    /// map on its worker alone): memory is one chunk's codes per worker, and each row's bits do not
    /// depend on its chunk (row ranges of the PCA products and of the inner map).
    fn transport_on(&self, x: &Mat<T>, pool: &mut Pool) -> Mat<T> {
        assert_eq!(x.cols(), self.basis.dim(), "latent map: input width");
        map_rows(
            x,
            pool,
            LATENT_MAP_CHUNK,
            |_| (),
            |_, xr, out| {
                let z = self.basis.encode(xr).expect("width checked");
                let tz = self.inner.transport(&z);
                let y = self.basis.decode(self.decode, xr, &z, &tz);
                out.copy_from_slice(y.expect("shapes checked").as_slice());
            },
        )
    }

    fn to_saved(&self) -> SavedModel<T> {
        let inner = self.inner.to_saved();
        let (k, d) = self.basis.axes.shape();
        let mut hyper = vec![
            ("components".to_string(), k.to_string()),
            ("decode".to_string(), self.decode.name().to_string()),
            ("inner".to_string(), inner.method.clone()),
        ];
        hyper.extend(
            inner
                .hyper
                .into_iter()
                .map(|(k, v)| (format!("inner.{k}"), v)),
        );
        let mut tensors = vec![
            ("mean".to_string(), vec![d], self.basis.mean.clone()),
            (
                "basis".to_string(),
                vec![k, d],
                self.basis.axes.as_slice().to_vec(),
            ),
        ];
        tensors.extend(
            inner
                .tensors
                .into_iter()
                .map(|(n, s, v)| (format!("inner.{n}"), s, v)),
        );
        SavedModel {
            method: "latent".into(),
            dim: d,
            hyper,
            tensors,
        }
    }
}

/// What a latent fit adds to the [`crate::ot::fit::FitReport`].
#[derive(Clone, Debug, PartialEq)]
pub struct LatentReport {
    /// K.
    pub components: usize,
    /// The decoder.
    pub decode: Decode,
    /// The inner method's name.
    pub inner: &'static str,
    /// The PCA path that ran.
    pub pca_method: PcaMethod,
    /// Cells the PCA saw (the pooled training cells).
    pub pca_cells: usize,
    /// Share of the pooled cells' variance along the K axes, `Σ_k σ_k² / ‖X_c‖_F²`.
    pub explained_variance_ratio: f64,
    /// Largest relative Ritz residual of the K axes (0 on the exact path).
    pub max_residual: f64,
    /// Whether the residual check passed.
    pub converged: bool,
    /// Seconds spent in the PCA.
    pub pca_seconds: f64,
    /// The inner trainer's held-out report: its criterion in the K latent coordinates.
    pub heldout: Option<HeldoutReport>,
}

/// Selection settings of an iterative inner method: (seed, criterion, threads).
fn selection(m: &Method) -> Option<(u64, crate::ot::train::Criterion, usize)> {
    match m {
        Method::W2(c) => Some((c.seed, c.criterion, c.threads)),
        Method::W1(c) => Some((c.seed, c.criterion, c.threads)),
        _ => None,
    }
}

/// Refuses the inner methods that have no meaning in principal coordinates (module doc, "Inner
/// methods").
fn check_inner(m: &Method) -> Result<()> {
    let why = match m {
        Method::Latent(..) => "a latent method inside a latent method",
        Method::W2Schedule(_) => {
            "the λ schedules (--anneal / --max-dim): the sparsity of a displacement in principal \
             coordinates says nothing about genes"
        }
        Method::W2(c) if !c.penalty.is_none() => {
            "a displacement-sparsity penalty (--penalty): sparsity in principal coordinates says \
             nothing about genes"
        }
        _ => return Ok(()),
    };
    Err(Error::Usage(format!("--latent does not take {why}")))
}

/// Fits `inner` in the latent space of `cfg` (module doc): PCA of the pooled training cells, the inner
/// fit on their coordinates (held-out selection in latent space), the decoded map. The returned report
/// is the inner fit's with `heldout` recomputed in gene space; the [`LatentReport`] has the rest.
pub fn fit<T: Real>(
    source: &Mat<T>,
    target: &Mat<T>,
    cfg: &LatentConfig,
    inner: &Method,
    heldout: &Heldout<T>,
    progress: Option<Control<'_>>,
) -> Result<(Fitted<T>, LatentReport)> {
    let t0 = Instant::now();
    check_pair(source, target)?;
    let d = source.cols();
    cfg.validate(d)?;
    check_inner(inner)?;
    let sel = selection(inner).filter(|_| !heldout.is_none());
    let sets = match sel {
        Some((seed, _, _)) => HeldoutSets::new(source, target, heldout, seed)?,
        None => HeldoutSets::new(source, target, &Heldout::None, 0)?,
    };
    let rows: Vec<&[T]> = (0..sets.train_source.rows())
        .map(|i| sets.train_source.row(i))
        .chain((0..sets.train_target.rows()).map(|i| sets.train_target.row(i)))
        .collect();
    let pca = Pca::fit_rows(&rows, d, cfg.components, &cfg.pca)?;
    let pca_seconds = t0.elapsed().as_secs_f64();
    let basis = LatentBasis::<T>::from_pca(&pca)?;
    let zs = basis.encode(sets.train_source.view())?;
    let zt = basis.encode(sets.train_target.view())?;
    let inner_heldout = if sets.has_heldout() {
        Heldout::Given(
            basis.encode(sets.heldout_source.view())?,
            basis.encode(sets.heldout_target.view())?,
        )
    } else {
        Heldout::None
    };
    let fitted = crate::ot::fit::fit(&zs, &zt, inner, &inner_heldout, progress)?;
    let map = LatentMap::new(basis, cfg.decode, fitted.map)?;
    let mut report = fitted.report;
    let latent_heldout = report.heldout.take();
    if let (Some(lh), Some((seed, criterion, threads))) = (&latent_heldout, sel) {
        let mut pool = Pool::new(threads.max(1));
        if let Some(ev) = HeldoutEval::new(&sets, criterion, seed, &mut pool) {
            let mapped = map.transport(ev.source());
            let value = ev.eval(mapped.view(), &mut pool);
            report.heldout = Some(ev.report(lh.best_iteration, value, &mut pool));
        }
    }
    let explained: f64 = pca.explained_variance().iter().sum();
    let total = pca.total_variance();
    let latent = LatentReport {
        components: cfg.components,
        decode: cfg.decode,
        inner: inner.name(),
        pca_method: pca.method(),
        pca_cells: rows.len(),
        explained_variance_ratio: if total > 0.0 { explained / total } else { 1.0 },
        max_residual: pca.residuals().iter().fold(0.0, |a: f64, &r| a.max(r)),
        converged: pca.converged(),
        pca_seconds,
        heldout: latent_heldout,
    };
    report.seconds = t0.elapsed().as_secs_f64();
    Ok((
        Fitted {
            map: Box::new(map),
            report,
        },
        latent,
    ))
}
