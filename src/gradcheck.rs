//! Finite-difference gradient checks in f64: the harness every hand-written gradient in monge is held to.
//!
//! For a scalar function `F(θ)` (θ the concatenation of parameters and inputs, or whichever block is under
//! test) and a claimed gradient `a = ∇F(θ)`, each checked coordinate i gets the central difference
//! `cᵢ = (F(θ + h eᵢ) − F(θ − h eᵢ)) / 2h` and the relative error
//! `rᵢ = |aᵢ − cᵢ| / max(|aᵢ|, |cᵢ|, φ)`, with the floor `φ = floor · max(1, |F(θ)|)`.
//!
//! # The floor
//! The floor keeps coordinates whose true derivative is ~0 from dividing noise by ~0. The central
//! difference carries an absolute error of about `h²|F'''|/6 + ε|F|/h`: the rounding part grows with
//! |F| (a sum over a batch of 256 values is easily 10²), so the floor does too. With h = 1e-5 and
//! floor = 1e-3 the rounding part adds at most `ε/(h·floor)` ≈ 2e-8 to r, whatever |F|.
//!
//! # Kinks
//! The networks are piecewise smooth: LeakyReLU and GroupSort switch branches where a pre-activation
//! crosses 0 or two entries of a group swap, and F (or F', for the squared first ICNN layer) jumps there.
//! A central difference whose stencil `[θᵢ − h, θᵢ + h]` straddles such a point measures the jump, not
//! the derivative (session 18 saw FD −3.8 against an analytic 0.038). So a coordinate whose central
//! difference misses (`rᵢ > kink_tol`) is examined with the one-sided second-order differences
//! `Rᵢ(s) = (−3F(θ) + 4F(θ + s eᵢ) − F(θ + 2s eᵢ)) / 2s`, `Lᵢ(s) = (3F(θ) − 4F(θ − s eᵢ) + F(θ − 2s eᵢ)) / 2s`
//! at the steps s = h, h/2, h/4 in turn. Where F is smooth on `[θᵢ − 2s, θᵢ + 2s]` both equal
//! `∂ᵢF − s²∂ᵢ³F/3 + O(s³)`: they agree with each other and with the central difference to rounding,
//! which is then the verdict (a wrong aᵢ misses it). Where they disagree
//! (`|Rᵢ − Lᵢ| > kink_tol · max(|Rᵢ|, |Lᵢ|, φ)`) a branch switch lies within 2s, and the next step is
//! tried: the first clean stencil gives the verdict. A switch closer than h/2 spoils every step; then a
//! side that two consecutive steps agree on holds no switch, and aᵢ (the derivative of the branch θ lies
//! on) must match it: a **one-sided** check. A dirty side's difference mixes two slopes in proportions
//! that change with the step, so it is never taken. With switches on both sides at every step no
//! difference can be trusted and the coordinate is **skipped**. A check passes only when at most
//! `⌊max_skip_fraction · checked⌋` coordinates were skipped (default a quarter; none of fewer than 4):
//! "nothing could be checked" is a failure, never a pass. The smallest step is h/4 and `kink_tol` is
//! 5e-7 because the one-sided differences' rounding, `4ε|F|/s`, is 3.5e-7 of φ at s = h/4: smaller
//! steps or a tighter `kink_tol` would read rounding as a switch.
//!
//! The report names the worst coordinate and counts the one-sided checks and the skips.

/// Settings of a check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// Step of the differences.
    pub h: f64,
    /// Denominator floor of the relative error, per unit of `max(1, |F(θ)|)` (see the module doc).
    pub floor: f64,
    /// Relative error above which a coordinate is examined for a branch switch, and relative
    /// disagreement of the one-sided differences above which a stencil holds one.
    pub kink_tol: f64,
    /// Largest share of the coordinates that may be skipped.
    pub max_skip_fraction: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            h: 1e-5,
            floor: 1e-3,
            kink_tol: 5e-7,
            max_skip_fraction: 0.25,
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
    /// Number of coordinates checked (the skipped ones not included).
    pub checked: usize,
    /// Coordinates checked on a one-sided difference (a branch switch within 2·step at every step).
    pub one_sided: usize,
    /// Coordinates skipped (switches on both sides at every step: no difference to trust).
    pub skipped: usize,
    /// Most skips the check allows.
    pub max_skipped: usize,
}

impl GradReport {
    /// Whether the worst relative error is at most `tol` and no more coordinates than allowed were skipped.
    pub fn passes(&self, tol: f64) -> bool {
        self.max_rel_err <= tol && self.skipped <= self.max_skipped
    }

    /// Panics with the worst coordinate when the check fails (for tests).
    #[track_caller]
    pub fn assert_below(&self, tol: f64, what: &str) {
        assert!(
            self.passes(tol),
            "{what}: gradient check failed, relative error {:.3e} > {tol:.1e} at coordinate {} \
             (analytic {:.12e}, finite difference {:.12e}; {} coordinates checked, {} of them \
             one-sided; {} skipped, at most {} allowed)",
            self.max_rel_err,
            self.worst_index,
            self.analytic,
            self.numeric,
            self.checked,
            self.one_sided,
            self.skipped,
            self.max_skipped
        );
    }
}

/// `|a − n| / max(|a|, |n|, floor)`, infinite when either is not finite (a NaN is a failure, never a pass).
fn rel_err(a: f64, n: f64, floor: f64) -> f64 {
    if a.is_finite() && n.is_finite() {
        (a - n).abs() / a.abs().max(n.abs()).max(floor)
    } else {
        f64::INFINITY
    }
}

impl GradCheck {
    /// Checks `analytic` against finite differences of `f` at `x`, on every coordinate.
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
        let f0 = f(&xp);
        let floor = self.floor * f0.abs().max(1.0);
        let h = self.h;
        let mut rep = GradReport {
            max_rel_err: 0.0,
            worst_index: 0,
            analytic: 0.0,
            numeric: 0.0,
            checked: 0,
            one_sided: 0,
            skipped: 0,
            max_skipped: (self.max_skip_fraction * coords.len() as f64) as usize,
        };
        let mut at = |xp: &mut Vec<f64>, i: usize, x0: f64, t: f64| {
            xp[i] = x0 + t;
            let v = f(xp);
            xp[i] = x0;
            v
        };
        for &i in coords {
            let x0 = xp[i];
            let a = analytic[i];
            let mut n = f64::NAN;
            // a clean verdict: the central difference at the first step whose stencil holds no branch
            // switch (or which matches anyway); failing that, a one-sided difference that two
            // consecutive steps agree on (a side without a switch); failing that, a skip
            let (mut clean, mut sided, mut prev) = (None, f64::INFINITY, None);
            for step in [h, h / 2.0, h / 4.0] {
                let (fp, fm) = (at(&mut xp, i, x0, step), at(&mut xp, i, x0, -step));
                let c = (fp - fm) / (2.0 * step);
                if step == h {
                    n = c;
                }
                let rc = rel_err(a, c, floor);
                if rc <= self.kink_tol {
                    clean = Some(rc);
                    break;
                }
                let (fp2, fm2) = (
                    at(&mut xp, i, x0, 2.0 * step),
                    at(&mut xp, i, x0, -2.0 * step),
                );
                let right = (-3.0 * f0 + 4.0 * fp - fp2) / (2.0 * step);
                let left = (3.0 * f0 - 4.0 * fm + fm2) / (2.0 * step);
                if rel_err(right, left, floor) <= self.kink_tol {
                    // smooth on [−2·step, 2·step]
                    clean = Some(rc);
                    break;
                }
                if let Some((r0, l0)) = prev {
                    if rel_err(right, r0, floor) <= self.kink_tol {
                        sided = sided.min(rel_err(a, right, floor));
                    }
                    if rel_err(left, l0, floor) <= self.kink_tol {
                        sided = sided.min(rel_err(a, left, floor));
                    }
                }
                prev = Some((right, left));
            }
            let r = match clean {
                Some(rc) => rc,
                None if sided.is_finite() => {
                    rep.one_sided += 1;
                    sided
                }
                None => {
                    rep.skipped += 1;
                    continue;
                }
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
