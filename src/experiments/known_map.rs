//! The known-map accuracy table of issue 13: W2 maps against the exact optimal map (SPEC §5).
//!
//! For each dimension D and seed: the pair `known_map_pair(n, n, D, 3, seed)` (as `monge synth
//! known-map`, n = 4096 per side by default), and 2048 fresh source points x̃ drawn from stream
//! [`FRESH_STREAM`] of the seed with their exact images T*(x̃). Every row reports
//! `L2-UVP = 100 · mean ‖T(x̃) − T*(x̃)‖² / Var(target)` (%) and the seconds it took:
//! - **identity**: T(x) = x;
//! - **best affine**: the least-squares affine fit `x ↦ Wᵀ[x; 1]` to the pairs (x_i, T*(x_i)) of the
//!   training source ([`best_affine`]; an oracle: it sees the exact map's values, which no solver does);
//! - **Gaussian start**: the closed-form map between the Gaussians of the two training samples
//!   ([`crate::ot::gaussian`]; where the quadratic-ICNN default starts);
//! - one row per W2 configuration given (e.g. the plain CellOT ICNN and monge's default): the map
//!   [`W2Trainer::best_map`] returns (held-out selection as `monge fit`), its wall time, and optionally the
//!   L2-UVP of the current iterate at every held-out evaluation (the trace, to see where training
//!   improves or drifts).

use crate::data::known_map::known_map_pair;
use crate::linalg::Mat;
use crate::metrics::l2_uvp;
use crate::ot::gaussian::GaussianMap;
use crate::ot::w2::{W2Config, W2Trainer};
use crate::ot::TransportMap;
use crate::random::Stream;
use crate::{Error, Result};
use nalgebra::DMatrix;
use std::ops::ControlFlow;
use std::time::Instant;

/// The random stream of the fresh evaluation points (of the pair's seed).
pub const FRESH_STREAM: u64 = 991;

/// The best affine map x ↦ Wᵀ[x; 1] in least squares on the pairs (x_i, t_i) (normal equations in f64,
/// Cholesky), applied to the rows of `fresh`. Errors when `[x 1]` has rank below d + 1.
pub fn best_affine(x: &Mat<f64>, t: &Mat<f64>, fresh: &Mat<f64>) -> Result<Mat<f64>> {
    let (n, d) = (x.rows(), x.cols());
    let xa = DMatrix::from_fn(n, d + 1, |i, j| if j < d { x.get(i, j) } else { 1.0 });
    let ta = DMatrix::from_fn(n, d, |i, j| t.get(i, j));
    let w = (xa.transpose() * &xa)
        .cholesky()
        .ok_or_else(|| Error::Shape("best affine fit: [x 1] is rank-deficient".into()))?
        .solve(&(xa.transpose() * ta));
    let fa = DMatrix::from_fn(fresh.rows(), d + 1, |i, j| {
        if j < d {
            fresh.get(i, j)
        } else {
            1.0
        }
    });
    let p = fa * w;
    Ok(Mat::from_fn(fresh.rows(), d, |i, j| p[(i, j)]))
}

/// One measured row.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownMapRow {
    /// identity, best affine, Gaussian start, or the W2 configuration's name.
    pub name: String,
    /// L2-UVP (%) on the fresh points.
    pub l2_uvp: f64,
    /// Wall seconds (the fit and its held-out evaluations; 0 for the identity).
    pub seconds: f64,
    /// The selected iteration (W2 rows).
    pub best_iteration: Option<usize>,
    /// (iteration, L2-UVP of the current iterate) at each held-out evaluation, when traced.
    pub trace: Vec<(usize, f64)>,
}

/// The fresh points' L2-UVP of every row for one pair (module doc). `n` points per side; each W2
/// configuration runs for its `iterations` in f32. With `trace`, the current iterate is also scored at
/// every `eval_every` iterations (run in segments; training and selection are unchanged by it).
pub fn known_map_rows(
    d: usize,
    seed: u64,
    n: usize,
    configs: &[(String, W2Config)],
    trace: bool,
) -> Result<Vec<KnownMapRow>> {
    let pair = known_map_pair::<f64>(n, n, d, 3, seed)?;
    let fresh: Mat<f64> = pair
        .map
        .sample_source(2048, &mut Stream::new(seed, FRESH_STREAM));
    let t_fresh = pair.map.map(fresh.view());
    let uvp = |tx: &Mat<f64>| l2_uvp(tx.view(), t_fresh.view(), pair.target.view());
    let row = |name: &str, l2_uvp: f64, seconds: f64| KnownMapRow {
        name: name.into(),
        l2_uvp,
        seconds,
        best_iteration: None,
        trace: Vec::new(),
    };
    let mut rows = vec![row("identity", uvp(&fresh), 0.0)];
    let t0 = Instant::now();
    let aff = best_affine(&pair.source, &pair.map.map(pair.source.view()), &fresh)?;
    rows.push(row("best affine", uvp(&aff), t0.elapsed().as_secs_f64()));
    let t0 = Instant::now();
    let gm = GaussianMap::from_samples(pair.source.view(), pair.target.view())?;
    let gx = gm.transport::<f64>(fresh.view());
    rows.push(row("Gaussian start", uvp(&gx), t0.elapsed().as_secs_f64()));
    let (xs, ys) = (pair.source.cast::<f32>(), pair.target.cast::<f32>());
    let fresh32 = fresh.cast::<f32>();
    for (name, cfg) in configs {
        let t0 = Instant::now();
        let mut tr = W2Trainer::new(&xs, &ys, cfg)?;
        let mut traced = Vec::new();
        let mut quiet = |_: &crate::ot::Progress| ControlFlow::Continue(());
        let every = if trace && cfg.eval_every > 0 {
            cfg.eval_every
        } else {
            cfg.iterations.max(1)
        };
        let (mut stopped, mut err) = (crate::ot::train::Stopped::Cap, None);
        let mut cap = 0;
        while cap < cfg.iterations {
            cap = (cap + every).min(cfg.iterations);
            (stopped, err) = tr.run_segment(cap, &mut quiet);
            if trace {
                let now = uvp(&tr.map().transport(&fresh32).cast::<f64>());
                traced.push((tr.iteration(), now));
            }
            if err.is_some() || stopped != crate::ot::train::Stopped::Cap || tr.iteration() < cap {
                break;
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        tr.finalize(stopped);
        let seconds = t0.elapsed().as_secs_f64();
        let rep = tr.report();
        rows.push(KnownMapRow {
            name: name.clone(),
            l2_uvp: uvp(&tr.best_map().transport(&fresh32).cast::<f64>()),
            seconds,
            best_iteration: Some(rep.best_iteration),
            trace: traced,
        });
    }
    Ok(rows)
}
