//! Built-in 2-D toy problems (SPEC §5), defined as FFJORD / scikit-learn define them so that figures compare
//! with the reference runs.
//!
//! Unless stated, the source is N(0, I₂) and the target is the named distribution:
//! - `8gaussians`: centre `4·u` for one of the 8 unit directions (±1,0), (0,±1), (±1/√2, ±1/√2) chosen
//!   uniformly; add N(0, 0.5² I); divide by 1.414.
//! - `moons`: `make_moons(noise = 0.1)`: ⌊n/2⌋ points on the outer arc (cos t, sin t) and the rest on the inner
//!   arc (1 − cos t, 1 − sin t − 0.5), t evenly spaced on [0, π] (`linspace`, endpoints included), plus
//!   N(0, 0.1² I); then `×2 + (−1, −0.2)`; rows shuffled.
//! - `circles`: `make_circles(factor = 0.5, noise = 0.08)`: ⌊n/2⌋ points on the unit circle and the rest on
//!   the circle of radius 0.5, angles evenly spaced on [0, 2π) (`linspace(…, endpoint=False)` per circle),
//!   plus N(0, 0.08² I); then `×3`; rows shuffled.
//! - `swissroll`: `t = 1.5π(1 + 2U)`, `(t cos t, t sin t) + N(0, I)` (`make_swiss_roll(noise = 1)` keeping
//!   coordinates 0 and 2), then `/5`.
//! - `checkerboard`: `x₁ = 4U − 2`, `x₂ = U − 2·Bernoulli(½) + (⌊x₁⌋ mod 2)`, then `×2`
//!   (`mod` is Python's: the result is in {0, 1} also for negative ⌊x₁⌋).
//! - `bookshelf` (\[W1\]): source `(U(0, 1), N(0, 0.001²))`, target `(U(2, 3), N(0, 0.001²))`. The W2 and W1
//!   optimal maps are the monotone shift x ↦ x + 2 of the first coordinate.
//! - `circles-pair` (\[W1\] monotonicity): source = ⌊n/2⌋ points on the circle of radius 1 (the "inner" set)
//!   and the rest on radius 3, uniform random angles, N(0, 0.05² I) noise; target = the same construction with
//!   radii 1.5 and 4. Both share the centre, so an order-preserving (monotone) map sends inner to inner.
//!   Rows are ordered inner first (use [`circles_pair_is_inner`] to label them).

use crate::linalg::{Mat, Real};
use crate::random::Stream;
use crate::{Error, Result};

/// A built-in toy problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toy {
    /// `8gaussians`
    EightGaussians,
    /// `moons`
    Moons,
    /// `circles`
    Circles,
    /// `swissroll`
    SwissRoll,
    /// `checkerboard`
    Checkerboard,
    /// `bookshelf`
    Bookshelf,
    /// `circles-pair`
    CirclesPair,
}

impl Toy {
    /// Every toy, in the order of SPEC §5.
    pub const ALL: [Toy; 7] = [
        Toy::EightGaussians,
        Toy::Moons,
        Toy::Circles,
        Toy::SwissRoll,
        Toy::Checkerboard,
        Toy::Bookshelf,
        Toy::CirclesPair,
    ];

    /// The toy called `name` (as printed by [`Toy::name`]).
    pub fn from_name(name: &str) -> Result<Toy> {
        Toy::ALL
            .iter()
            .copied()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Toy::ALL.iter().map(|t| t.name()).collect();
                Error::Usage(format!(
                    "unknown dataset '{name}' (expected one of: {})",
                    names.join(", ")
                ))
            })
    }

    /// The toy's name.
    pub fn name(&self) -> &'static str {
        match self {
            Toy::EightGaussians => "8gaussians",
            Toy::Moons => "moons",
            Toy::Circles => "circles",
            Toy::SwissRoll => "swissroll",
            Toy::Checkerboard => "checkerboard",
            Toy::Bookshelf => "bookshelf",
            Toy::CirclesPair => "circles-pair",
        }
    }

    /// Sampling-noise floor of exact W2² at n = 1000 (two independent target samples), SPEC §5.
    pub fn w2sq_floor(&self) -> Option<f64> {
        match self {
            Toy::EightGaussians => Some(0.111),
            Toy::Moons => Some(0.012),
            Toy::Circles => Some(0.027),
            Toy::SwissRoll => Some(0.031),
            Toy::Checkerboard => Some(0.156),
            _ => None,
        }
    }

    /// Exact W2²(μ, ν) at n = 1000 from SPEC §5 (the cost of doing nothing clever).
    pub fn w2sq_source_target(&self) -> Option<f64> {
        match self {
            Toy::EightGaussians => Some(2.70),
            Toy::Moons => Some(1.02),
            Toy::Circles => Some(1.14),
            Toy::SwissRoll => Some(0.66),
            Toy::Checkerboard => Some(3.76),
            _ => None,
        }
    }

    /// `n` source points.
    pub fn sample_source<T: Real>(&self, n: usize, rng: &mut Stream) -> Mat<T> {
        match self {
            Toy::Bookshelf => bookshelf(n, 0.0, rng),
            Toy::CirclesPair => circles_pair(n, 1.0, 3.0, rng),
            _ => Mat::from_fn(n, 2, |_, _| rng.normal()),
        }
    }

    /// `n` target points.
    pub fn sample_target<T: Real>(&self, n: usize, rng: &mut Stream) -> Mat<T> {
        match self {
            Toy::EightGaussians => eight_gaussians(n, rng),
            Toy::Moons => moons(n, rng),
            Toy::Circles => circles(n, rng),
            Toy::SwissRoll => swissroll(n, rng),
            Toy::Checkerboard => checkerboard(n, rng),
            Toy::Bookshelf => bookshelf(n, 2.0, rng),
            Toy::CirclesPair => circles_pair(n, 1.5, 4.0, rng),
        }
    }
}

/// Whether row `i` of an `n`-point `circles-pair` sample lies on the inner circle.
pub fn circles_pair_is_inner(i: usize, n: usize) -> bool {
    i < n / 2
}

fn from_rows<T: Real>(rows: Vec<[f64; 2]>) -> Mat<T> {
    Mat::from_fn(rows.len(), 2, |i, j| T::from_f64(rows[i][j]))
}

fn eight_gaussians<T: Real>(n: usize, rng: &mut Stream) -> Mat<T> {
    let s = core::f64::consts::FRAC_1_SQRT_2;
    let centres = [
        (1.0, 0.0),
        (-1.0, 0.0),
        (0.0, 1.0),
        (0.0, -1.0),
        (s, s),
        (s, -s),
        (-s, s),
        (-s, -s),
    ];
    let rows = (0..n)
        .map(|_| {
            let px = 0.5 * rng.normal_f64();
            let py = 0.5 * rng.normal_f64();
            let (cx, cy) = centres[rng.below(8)];
            [(px + 4.0 * cx) / 1.414, (py + 4.0 * cy) / 1.414]
        })
        .collect();
    from_rows(rows)
}

/// `linspace(a, b, k)` with endpoints included (numpy's convention; k = 1 gives `[a]`).
fn linspace(a: f64, b: f64, k: usize, endpoint: bool) -> impl Iterator<Item = f64> {
    let div = if endpoint {
        k.saturating_sub(1).max(1)
    } else {
        k.max(1)
    } as f64;
    (0..k).map(move |i| a + (b - a) * i as f64 / div)
}

fn moons<T: Real>(n: usize, rng: &mut Stream) -> Mat<T> {
    let pi = core::f64::consts::PI;
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut rows: Vec<[f64; 2]> = linspace(0.0, pi, n_out, true)
        .map(|t| [t.cos(), t.sin()])
        .chain(linspace(0.0, pi, n_in, true).map(|t| [1.0 - t.cos(), 1.0 - t.sin() - 0.5]))
        .collect();
    for r in rows.iter_mut() {
        r[0] = (r[0] + 0.1 * rng.normal_f64()) * 2.0 - 1.0;
        r[1] = (r[1] + 0.1 * rng.normal_f64()) * 2.0 - 0.2;
    }
    rng.shuffle(&mut rows);
    from_rows(rows)
}

fn circles<T: Real>(n: usize, rng: &mut Stream) -> Mat<T> {
    let tau = 2.0 * core::f64::consts::PI;
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut rows: Vec<[f64; 2]> = linspace(0.0, tau, n_out, false)
        .map(|t| [t.cos(), t.sin()])
        .chain(linspace(0.0, tau, n_in, false).map(|t| [0.5 * t.cos(), 0.5 * t.sin()]))
        .collect();
    for r in rows.iter_mut() {
        r[0] = (r[0] + 0.08 * rng.normal_f64()) * 3.0;
        r[1] = (r[1] + 0.08 * rng.normal_f64()) * 3.0;
    }
    rng.shuffle(&mut rows);
    from_rows(rows)
}

fn swissroll<T: Real>(n: usize, rng: &mut Stream) -> Mat<T> {
    let pi = core::f64::consts::PI;
    let rows = (0..n)
        .map(|_| {
            let t = 1.5 * pi * (1.0 + 2.0 * rng.uniform_f64());
            let x = t * t.cos() + rng.normal_f64();
            let y = t * t.sin() + rng.normal_f64();
            [x / 5.0, y / 5.0]
        })
        .collect();
    from_rows(rows)
}

fn checkerboard<T: Real>(n: usize, rng: &mut Stream) -> Mat<T> {
    let rows = (0..n)
        .map(|_| {
            let x1 = 4.0 * rng.uniform_f64() - 2.0;
            let b = if rng.bernoulli(0.5) { 1.0 } else { 0.0 };
            let x2_ = rng.uniform_f64() - 2.0 * b;
            let parity = x1.floor().rem_euclid(2.0);
            [2.0 * x1, 2.0 * (x2_ + parity)]
        })
        .collect();
    from_rows(rows)
}

fn bookshelf<T: Real>(n: usize, offset: f64, rng: &mut Stream) -> Mat<T> {
    let rows = (0..n)
        .map(|_| [offset + rng.uniform_f64(), 0.001 * rng.normal_f64()])
        .collect();
    from_rows(rows)
}

fn circles_pair<T: Real>(n: usize, r_in: f64, r_out: f64, rng: &mut Stream) -> Mat<T> {
    let tau = 2.0 * core::f64::consts::PI;
    let rows = (0..n)
        .map(|i| {
            let r = if circles_pair_is_inner(i, n) {
                r_in
            } else {
                r_out
            };
            let t = tau * rng.uniform_f64();
            [
                r * t.cos() + 0.05 * rng.normal_f64(),
                r * t.sin() + 0.05 * rng.normal_f64(),
            ]
        })
        .collect();
    from_rows(rows)
}
