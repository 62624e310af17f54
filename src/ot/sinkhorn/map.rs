//! The fitted entropic elastic map (\[CKA23\] Prop. / Pooladian–Niles-Weed entropic map), its evaluation
//! and its saved form.
//!
//! # Map
//! The entropic potential extends to any x: `f_ε(x) = −ε ln Σ_j b_j exp((g_j − h(x − y_j))/ε)`, with
//! Gibbs weights `p_j(x) = softmax_j((g_j − h(x − y_j))/ε)`, and
//! ```text
//! ∇f_ε(x) = Σ_j p_j(x) ∇h(x − y_j) = x − Σ_j p_j(x) y_j + Σ_j p_j(x) γ∇τ(x − y_j),
//! T(x)    = x − (∇h)⁻¹(∇f_ε(x)) = x − prox_{γτ}(∇f_ε(x)),
//! ```
//! since `(∇h)⁻¹(w) = argmin_z h(z) − ⟨w, z⟩ = argmin_z ½‖z − w‖² + γτ(z) = prox_{γτ}(w)`. With γ = 0 the prox
//! is the identity and T(x) = Σ_j p_j(x) y_j (the barycentric projection); at a training point x_i,
//! `p_j(x_i) = P_ij / a_i` after step 1 of the solver.
//!
//! # Evaluation
//! Points are mapped in blocks of `MAP_BLOCK` rows (each block × all targets: O(block·m) memory per
//! worker), one contiguous range of rows per worker of the caller's [`Pool`]
//! ([`TransportMap::transport_on`], through [`crate::ot::map_rows`]; `transport` runs on the caller
//! alone, whatever threads the fit used). Each point's arithmetic does not depend on its block or worker,
//! so the result does not depend on the thread count.
//!
//! # Saved form (bit-exact)
//! Method `"sinkhorn"`; hyper-parameters `cost`, `gamma`, `epsilon` (f64, printed to round-trip);
//! tensors `target` `[m, d]` (T, as fitted) and `g` `[m]` (the f64 potential in T). When T cannot hold
//! the f64 potential (f32), the tensor `g_bits` `[m, 4]` stores each g_j's IEEE-754 binary64 bits as four
//! 16-bit integers, most significant first (integers below 2¹⁶ are exact in f32), and the map is rebuilt
//! from those: a reloaded map computes the same bits as the fitted one (the map reads only ε, γ, the
//! target and g). A file without `g_bits` (written before it existed) reloads with g rounded to T.

use super::cost::{add_grad_tau_block, cost_rows, ElasticCost};
use super::solver::{solve, SinkhornConfig, SinkhornReport};
use crate::linalg::{gemm, Mat, MatRef, Op, Real};
use crate::ot::{map_rows, SavedModel, TransportMap};
use crate::parallel::Pool;
use crate::{Error, Result};

/// The fitted entropic elastic map: stores the target sample and its dual potential g (module doc).
#[derive(Clone, Debug)]
pub struct ElasticSinkhornMap<T> {
    cost: ElasticCost,
    epsilon: f64,
    target: Mat<T>,
    target64: Mat<f64>,
    g: Vec<f64>,
    report: Option<SinkhornReport>,
}

/// Evaluation points per block of the map (block × m Gibbs weights live at once per worker).
const MAP_BLOCK: usize = 64;

/// `v`'s binary64 bits as four 16-bit integers, most significant first.
fn f64_to_u16s(v: f64) -> [u16; 4] {
    let b = v.to_bits();
    [
        (b >> 48) as u16,
        (b >> 32) as u16,
        (b >> 16) as u16,
        b as u16,
    ]
}

/// The inverse of [`f64_to_u16s`].
fn f64_from_u16s(q: [u16; 4]) -> f64 {
    f64::from_bits(q.iter().fold(0u64, |b, &x| (b << 16) | x as u64))
}

fn model_err(msg: String) -> Error {
    Error::Model {
        file: String::new(),
        msg,
    }
}

impl<T: Real> ElasticSinkhornMap<T> {
    /// Runs log-domain Sinkhorn between `source` and `target` (uniform weights) on `cfg.threads` workers
    /// and keeps what the map needs. Errors on empty samples, a width mismatch, non-finite data or
    /// invalid options; a run that hits `max_iter` is not an error (see [`SinkhornReport::converged`]).
    pub fn fit(source: MatRef<'_, T>, target: MatRef<'_, T>, cfg: &SinkhornConfig) -> Result<Self> {
        cfg.validate()?;
        let (n, m, d) = (source.rows(), target.rows(), source.cols());
        if n == 0 || m == 0 {
            return Err(Error::Shape("Sinkhorn needs non-empty samples".into()));
        }
        if target.cols() != d {
            return Err(Error::Shape(format!(
                "Sinkhorn: source has {d} features, target {}",
                target.cols()
            )));
        }
        let xs = source.to_mat();
        let ys = target.to_mat();
        if !xs
            .as_slice()
            .iter()
            .chain(ys.as_slice())
            .all(|v| v.is_finite())
        {
            return Err(Error::data(
                "Sinkhorn input",
                None,
                None,
                "non-finite coordinate",
            ));
        }
        let x64: Mat<f64> = xs.cast();
        let y64: Mat<f64> = ys.cast();
        let mut pool = Pool::new(cfg.threads);
        let (g, report) = solve(&xs, &x64, &ys, &y64, cfg, &mut pool)?;
        Ok(ElasticSinkhornMap {
            cost: cfg.cost,
            epsilon: report.epsilon,
            target: ys,
            target64: y64,
            g,
            report: Some(report),
        })
    }

    /// The run's report (`None` for a map rebuilt from a saved model).
    pub fn report(&self) -> Option<&SinkhornReport> {
        self.report.as_ref()
    }

    /// ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The cost.
    pub fn cost(&self) -> ElasticCost {
        self.cost
    }

    /// The target potential g (length m).
    pub fn potential_g(&self) -> &[f64] {
        &self.g
    }

    /// Rebuilds from a saved model (module doc, "Saved form"). Every size is checked against the tensors present before anything is
    /// allocated, and every value and hyper-parameter must be finite (γ and ε as the fit requires).
    pub fn from_saved(saved: &SavedModel<T>) -> Result<Self> {
        crate::ot::baselines::expect_method(saved, "sinkhorn")?;
        let cost_name: String = saved.hyper_parse("cost")?;
        let gamma: f64 = saved.hyper_parse("gamma")?;
        let cost = ElasticCost::from_name(&cost_name, gamma)
            .map_err(|e| model_err(format!("bad cost: {e}")))?;
        let epsilon: f64 = saved.hyper_parse("epsilon")?;
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(model_err(format!("bad epsilon {epsilon}")));
        }
        if saved.dim == 0 {
            return Err(model_err("sinkhorn model of dimension 0".into()));
        }
        let (ts, tv) = saved
            .tensor("target")
            .ok_or_else(|| model_err("sinkhorn model has no 'target' tensor".into()))?;
        let (gs, gv) = saved
            .tensor("g")
            .ok_or_else(|| model_err("sinkhorn model has no 'g' tensor".into()))?;
        let m = ts.first().copied().unwrap_or(0);
        if ts.len() != 2 || ts[1] != saved.dim || m == 0 || m.checked_mul(ts[1]) != Some(tv.len()) {
            return Err(model_err(format!(
                "tensor 'target' has shape {ts:?} for {} values, expected [m ≥ 1, {}]",
                tv.len(),
                saved.dim
            )));
        }
        if gs != [m] || gv.len() != m {
            return Err(model_err(format!(
                "tensor 'g' has shape {gs:?}, expected [{m}]"
            )));
        }
        if let Some(i) = tv.iter().position(|v| !v.is_finite()) {
            return Err(model_err(format!(
                "tensor 'target' value {i} is not finite"
            )));
        }
        if let Some(i) = gv.iter().position(|v| !v.is_finite()) {
            return Err(model_err(format!("tensor 'g' value {i} is not finite")));
        }
        let g = match saved.tensor("g_bits") {
            None => gv.iter().map(|v| v.to_f64()).collect(),
            Some((bs, bv)) => {
                if bs != [m, 4] || bv.len() != 4 * m {
                    return Err(model_err(format!(
                        "tensor 'g_bits' has shape {bs:?}, expected [{m}, 4]"
                    )));
                }
                let mut g = Vec::with_capacity(m);
                for (j, (q, &gj)) in bv.chunks_exact(4).zip(gv).enumerate() {
                    let mut w = [0u16; 4];
                    for (x, &v) in w.iter_mut().zip(q) {
                        let v = v.to_f64();
                        if !(v.fract() == 0.0 && (0.0..65536.0).contains(&v)) {
                            return Err(model_err(format!(
                                "tensor 'g_bits' row {j} holds {v}, not a 16-bit integer"
                            )));
                        }
                        *x = v as u16;
                    }
                    let v = f64_from_u16s(w);
                    // The exact potential must be finite and round to the stored g_j.
                    if !v.is_finite() || T::from_f64(v).to_f64().to_bits() != gj.to_f64().to_bits()
                    {
                        return Err(model_err(format!(
                            "tensor 'g_bits' row {j} ({v}) does not match g = {}",
                            gj.to_f64()
                        )));
                    }
                    g.push(v);
                }
                g
            }
        };
        let target = Mat::from_vec(m, ts[1], tv.to_vec()).expect("shape checked");
        Ok(ElasticSinkhornMap {
            cost,
            epsilon,
            target64: target.cast(),
            target,
            g,
            report: None,
        })
    }

    /// T applied to a block of rows `x` (≤ [`MAP_BLOCK`] rows) into `out` (row-major, same shape), steps
    /// (a)–(d): costs to every target, Gibbs weights, ∇f_ε, prox. Scratch is O(block·m + block·d).
    fn map_block(&self, x: MatRef<'_, T>, out: &mut [T]) {
        let (bx, d, m) = (x.rows(), x.cols(), self.target.rows());
        let xb = x.to_mat();
        let x64: Mat<f64> = xb.cast();
        // (a) H_ij = h(x_i − y_j)
        let mut hmat = vec![0.0f64; bx * m];
        cost_rows(
            &self.cost,
            &xb,
            &x64,
            &self.target,
            &self.target64,
            &mut hmat,
        );
        // (b) p_ij = softmax_j((g_j − H_ij)/ε)   (overwrites H)
        for i in 0..bx {
            let row = &mut hmat[i * m..(i + 1) * m];
            let mut mx = f64::NEG_INFINITY;
            for (v, &gj) in row.iter_mut().zip(&self.g) {
                *v = (gj - *v) / self.epsilon;
                mx = mx.max(*v);
            }
            let mut s = 0.0;
            for v in row.iter_mut() {
                *v = (*v - mx).exp();
                s += *v;
            }
            row.iter_mut().for_each(|v| *v /= s);
        }
        // (c) ∇f_ε(x_i) = x_i − Σ_j p_ij y_j + Σ_j p_ij γ∇τ(x_i − y_j)
        let mut grad = x64.clone();
        gemm(
            -1.0,
            MatRef::from_slice(&hmat, bx, m).expect("weights"),
            Op::N,
            self.target64.view(),
            Op::N,
            1.0,
            grad.view_mut(),
        );
        // Σ_j p_ij γ∇τ(x_i − y_j)
        let mut acc = vec![T::ZERO; bx * d];
        if !matches!(self.cost, ElasticCost::SqEuclidean) {
            add_grad_tau_block(&self.cost, &xb, &self.target, &hmat, &mut acc);
        }
        let mut v = vec![T::ZERO; d];
        let mut pr = vec![T::ZERO; d];
        for i in 0..bx {
            for k in 0..d {
                v[k] = T::from_f64(grad.get(i, k) + acc[i * d + k].to_f64());
            }
            // (d) T(x_i) = x_i − prox_{γτ}(∇f_ε(x_i))
            self.cost.prox(&v, &mut pr);
            for k in 0..d {
                out[i * d + k] = xb.get(i, k) - pr[k];
            }
        }
    }
}

impl<T: Real> TransportMap<T> for ElasticSinkhornMap<T> {
    fn dim(&self) -> usize {
        self.target.cols()
    }

    fn transport_on(&self, x: &Mat<T>, pool: &mut Pool) -> Mat<T> {
        assert_eq!(x.cols(), self.dim(), "sinkhorn map: input width");
        map_rows(
            x,
            pool,
            MAP_BLOCK,
            |_| (),
            |_, xr, out| self.map_block(xr, out),
        )
    }

    fn to_saved(&self) -> SavedModel<T> {
        let (m, d) = self.target.shape();
        let mut tensors = vec![
            ("target".into(), vec![m, d], self.target.as_slice().to_vec()),
            (
                "g".into(),
                vec![m],
                self.g.iter().map(|&v| T::from_f64(v)).collect(),
            ),
        ];
        if T::BYTES < 8 {
            let bits = self
                .g
                .iter()
                .flat_map(|&v| f64_to_u16s(v))
                .map(|q| T::from_f64(q as f64))
                .collect();
            tensors.push(("g_bits".into(), vec![m, 4], bits));
        }
        SavedModel {
            method: "sinkhorn".into(),
            dim: d,
            hyper: vec![
                ("cost".into(), self.cost.name().into()),
                ("gamma".into(), format!("{:?}", self.cost.gamma())),
                ("epsilon".into(), format!("{:?}", self.epsilon)),
            ],
            tensors,
        }
    }
}
