//! Train / held-out split per side (SPEC §7.7, w1ot / CellOT evaluation).
//!
//! Held-out size: `h = max(500, min(1000, ⌊n·test_frac⌋))`. Fallback for small sets: when that rule would
//! leave fewer training than held-out points (`n − h < h`, i.e. n < 2h, which includes h ≥ n), the
//! held-out size is `⌊n·test_frac⌋` clamped to `[1, n − 1]` instead (so toys and small test instances
//! still train on the larger part). The held-out indices are the first h of a uniform permutation of
//! 0..n drawn from the caller's stream (normally `streams::SPLIT`; call once per side, source first);
//! both index lists are returned sorted ascending.

use crate::linalg::{Mat, Real};
use crate::random::Stream;
use crate::{Error, Result};

/// Index sets of a split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Training rows, ascending.
    pub train: Vec<usize>,
    /// Held-out rows, ascending.
    pub test: Vec<usize>,
}

impl Split {
    /// (training rows, held-out rows) of `x`.
    pub fn apply<T: Real>(&self, x: &Mat<T>) -> (Mat<T>, Mat<T>) {
        (x.select_rows(&self.train), x.select_rows(&self.test))
    }
}

/// The held-out size for n points (module doc). Errors if n < 2 or `test_frac` is not in (0, 1).
pub fn heldout_size(n: usize, test_frac: f64) -> Result<usize> {
    if !(test_frac > 0.0 && test_frac < 1.0) {
        return Err(Error::Usage(format!(
            "test fraction must be in (0, 1), got {test_frac}"
        )));
    }
    if n < 2 {
        return Err(Error::Usage(format!(
            "cannot split {n} point(s) into training and held-out sets"
        )));
    }
    let frac = (n as f64 * test_frac).floor() as usize;
    let h = frac.clamp(500, 1000);
    Ok(if n - h.min(n) < h {
        frac.clamp(1, n - 1)
    } else {
        h
    })
}

/// A seeded split of 0..n (module doc).
pub fn train_test_split(n: usize, test_frac: f64, rng: &mut Stream) -> Result<Split> {
    let h = heldout_size(n, test_frac)?;
    let mut perm: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut perm);
    let mut test = perm[..h].to_vec();
    let mut train = perm[h..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok(Split { train, test })
}
