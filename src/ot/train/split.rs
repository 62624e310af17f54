//! Train / held-out split per side (SPEC §7.7, w1ot / CellOT evaluation), used by every solver.
//!
//! Held-out size: `h = max(500, min(1000, ⌊n·test_frac⌋))`. Fallback for small sets: when that rule would
//! leave fewer training than held-out points (`n − h < h`, i.e. n < 2h, which includes h ≥ n), the
//! held-out size is `⌊n·test_frac⌋` clamped to `[1, n − 1]` instead (so toys and small test instances
//! still train on the larger part). The held-out indices are the first h of a uniform permutation of
//! 0..n drawn from the caller's stream (normally `streams::SPLIT`; call once per side, source first);
//! both index lists are returned sorted ascending, so the training rows keep the file's order.
//!
//! A user who has a split of their own passes it instead ([`HeldoutSets::given`]; the CLI's
//! `--heldout-source/--heldout-target FILE`): then the whole of each input set is training data.

use crate::linalg::{Mat, Real};
use crate::random::{streams, Stream};
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
            "held-out fraction must be in (0, 1), got {test_frac}"
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

/// Where a solver's held-out cells come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Heldout<T> {
    /// None: no model selection, no held-out report.
    None,
    /// SPEC §7.7's seeded split of each input set with this fraction (default 0.1).
    Fraction(f64),
    /// The caller's own held-out sets (source, target); the inputs are all training data.
    Given(Mat<T>, Mat<T>),
}

impl<T> Default for Heldout<T> {
    /// `Fraction(0.1)` (w1ot's validation split, then SPEC §7.7's size rule).
    fn default() -> Self {
        Heldout::Fraction(0.1)
    }
}

impl<T: Real> Heldout<T> {
    /// The split of a solver's `heldout_fraction` option: `Fraction(f)`, or `None` for f = 0.
    pub fn fraction(f: f64) -> Self {
        if f == 0.0 {
            Heldout::None
        } else {
            Heldout::Fraction(f)
        }
    }

    /// Checks the option (a usage error names it).
    pub fn validate(&self) -> Result<()> {
        if let Heldout::Fraction(f) = self {
            if !(*f > 0.0 && *f < 1.0) {
                return Err(Error::Usage(format!(
                    "held-out fraction must be in (0, 1), got {f}"
                )));
            }
        }
        Ok(())
    }

    /// Whether there are held-out cells.
    pub fn is_none(&self) -> bool {
        matches!(self, Heldout::None)
    }
}

/// The four sets a solver trains and selects on.
#[derive(Clone, Debug)]
pub struct HeldoutSets<T> {
    /// Training source.
    pub train_source: Mat<T>,
    /// Training target.
    pub train_target: Mat<T>,
    /// Held-out source (0 rows without held-out cells).
    pub heldout_source: Mat<T>,
    /// Held-out target (0 rows without held-out cells).
    pub heldout_target: Mat<T>,
}

impl<T: Real> HeldoutSets<T> {
    /// Splits `source` and `target` as `how` says (seeded by `seed`, stream `SPLIT`, source first).
    pub fn new(source: &Mat<T>, target: &Mat<T>, how: &Heldout<T>, seed: u64) -> Result<Self> {
        how.validate()?;
        let frac = match how {
            Heldout::None => {
                return Ok(HeldoutSets {
                    train_source: source.clone(),
                    train_target: target.clone(),
                    heldout_source: Mat::zeros(0, source.cols()),
                    heldout_target: Mat::zeros(0, target.cols()),
                })
            }
            Heldout::Given(hs, ht) => return Self::given(source, target, hs, ht),
            Heldout::Fraction(f) => *f,
        };
        let mut rng = Stream::new(seed, streams::SPLIT);
        let ss = train_test_split(source.rows(), frac, &mut rng)
            .map_err(|e| Error::Usage(format!("source set: {e}")))?;
        let st = train_test_split(target.rows(), frac, &mut rng)
            .map_err(|e| Error::Usage(format!("target set: {e}")))?;
        let (train_source, heldout_source) = ss.apply(source);
        let (train_target, heldout_target) = st.apply(target);
        Ok(HeldoutSets {
            train_source,
            train_target,
            heldout_source,
            heldout_target,
        })
    }

    /// The caller's own held-out sets: checked non-empty, finite and of the inputs' dimension.
    pub fn given(source: &Mat<T>, target: &Mat<T>, hs: &Mat<T>, ht: &Mat<T>) -> Result<Self> {
        for (m, what) in [(hs, "held-out source set"), (ht, "held-out target set")] {
            if m.cols() != source.cols() {
                return Err(Error::Shape(format!(
                    "{what} has {} features, the training data {}",
                    m.cols(),
                    source.cols()
                )));
            }
            check_set(m, what)?;
        }
        Ok(HeldoutSets {
            train_source: source.clone(),
            train_target: target.clone(),
            heldout_source: hs.clone(),
            heldout_target: ht.clone(),
        })
    }

    /// Whether there are held-out cells.
    pub fn has_heldout(&self) -> bool {
        self.heldout_source.rows() > 0 && self.heldout_target.rows() > 0
    }
}

/// A data set is usable for training: samples, features, every value finite (the error names the first
/// bad row and column).
pub fn check_set<T: Real>(m: &Mat<T>, what: &str) -> Result<()> {
    if m.rows() == 0 {
        return Err(Error::data(what, None, None, "no samples"));
    }
    if m.cols() == 0 {
        return Err(Error::data(what, None, None, "no features"));
    }
    for i in 0..m.rows() {
        if let Some(j) = m.row(i).iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                what,
                Some(i + 1),
                Some(j + 1),
                "value is not finite",
            ));
        }
    }
    Ok(())
}

/// The two training sets of a solver: each usable ([`check_set`]) and of one dimension.
pub fn check_pair<T: Real>(source: &Mat<T>, target: &Mat<T>) -> Result<()> {
    check_set(source, "source set")?;
    check_set(target, "target set")?;
    if source.cols() != target.cols() {
        return Err(Error::Shape(format!(
            "source has {} features, target has {}",
            source.cols(),
            target.cols()
        )));
    }
    Ok(())
}
