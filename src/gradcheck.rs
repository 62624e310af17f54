//! Finite-difference gradient checks in f64: the harness every hand-written gradient in monge is held to.
//!
//! For a scalar function `F(θ)` (θ the concatenation of parameters and inputs, or whichever block is under
//! test) and a claimed gradient `a = ∇F(θ)`, each checked coordinate i gets the central difference
//! `nᵢ = (F(θ + h eᵢ) − F(θ − h eᵢ)) / 2h` and the relative error
//! `rᵢ = |aᵢ − nᵢ| / max(|aᵢ|, |nᵢ|, floor)`.
//! The floor keeps coordinates whose true derivative is ~0 from dividing rounding noise by ~0: the central
//! difference carries an absolute error of about `h²|F'''|/6 + ε|F|/h` (≈ 1e-10·scale for h = 1e-5), so
//! the default floor 1e-3 keeps that noise below 1e-7 in r. The report names the worst coordinate.

/// Settings of a check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// Step of the central difference.
    pub h: f64,
    /// Denominator floor of the relative error (see the module doc).
    pub floor: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            h: 1e-5,
            floor: 1e-3,
        }
    }
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq)]
pub struct GradReport {
    /// Worst relative error over the checked coordinates.
    pub max_rel_err: f64,
    /// Coordinate where it occurs.
    pub worst_index: usize,
    /// Claimed derivative there.
    pub analytic: f64,
    /// Central difference there.
    pub numeric: f64,
    /// Number of coordinates checked.
    pub checked: usize,
}

impl GradReport {
    /// Whether the worst relative error is at most `tol`.
    pub fn passes(&self, tol: f64) -> bool {
        self.max_rel_err <= tol
    }

    /// Panics with the worst coordinate when the check fails (for tests).
    #[track_caller]
    pub fn assert_below(&self, tol: f64, what: &str) {
        assert!(
            self.passes(tol),
            "{what}: gradient check failed, relative error {:.3e} > {tol:.1e} at coordinate {} \
             (analytic {:.12e}, finite difference {:.12e}; {} coordinates checked)",
            self.max_rel_err,
            self.worst_index,
            self.analytic,
            self.numeric,
            self.checked
        );
    }
}

impl GradCheck {
    /// Checks `analytic` against central differences of `f` at `x`, on every coordinate.
    pub fn check(&self, f: impl FnMut(&[f64]) -> f64, x: &[f64], analytic: &[f64]) -> GradReport {
        let all: Vec<usize> = (0..x.len()).collect();
        self.check_coords(f, x, analytic, &all)
    }

    /// Checks only the listed coordinates (for large parameter vectors).
    pub fn check_coords(
        &self,
        mut f: impl FnMut(&[f64]) -> f64,
        x: &[f64],
        analytic: &[f64],
        coords: &[usize],
    ) -> GradReport {
        assert_eq!(x.len(), analytic.len(), "gradient and point lengths differ");
        let mut xp = x.to_vec();
        let mut rep = GradReport {
            max_rel_err: 0.0,
            worst_index: 0,
            analytic: 0.0,
            numeric: 0.0,
            checked: 0,
        };
        for &i in coords {
            let x0 = xp[i];
            xp[i] = x0 + self.h;
            let fp = f(&xp);
            xp[i] = x0 - self.h;
            let fm = f(&xp);
            xp[i] = x0;
            let n = (fp - fm) / (2.0 * self.h);
            let a = analytic[i];
            let denom = a.abs().max(n.abs()).max(self.floor);
            // a NaN on either side is a failure, never a pass
            let r = if a.is_finite() && n.is_finite() {
                (a - n).abs() / denom
            } else {
                f64::INFINITY
            };
            rep.checked += 1;
            if r > rep.max_rel_err || rep.checked == 1 {
                rep.max_rel_err = r;
                rep.worst_index = i;
                rep.analytic = a;
                rep.numeric = n;
            }
        }
        rep
    }
}

/// Central-difference gradient of `f` at `x` with step `h` (all coordinates).
pub fn numeric_gradient(mut f: impl FnMut(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let x0 = xp[i];
            xp[i] = x0 + h;
            let fp = f(&xp);
            xp[i] = x0 - h;
            let fm = f(&xp);
            xp[i] = x0;
            (fp - fm) / (2.0 * h)
        })
        .collect()
}
