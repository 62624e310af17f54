//! The tall orientation of a matrix, shared by the orthonormalisers ([`super::bjorck`],
//! [`super::cayley`]): for `W ∈ ℝ^{r×c}`, `R = W` if `r ≥ c`, else `R = Wᵀ`, so `R` is `n × m` with
//! `n ≥ m` and the Gram matrix `RᵀR` is the small `m × m` one. These copies move values only (no
//! arithmetic but the `+=` of [`add_from_tall`]).

use super::{Mat, MatMut, MatRef, Real};

/// A `rows × cols` weight and the `n × m` shape of its tall form (`n ≥ m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tall {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) n: usize,
    pub(crate) m: usize,
}

impl Tall {
    /// The tall form of a `rows × cols` matrix.
    pub(crate) fn of(rows: usize, cols: usize) -> Self {
        let (n, m) = if rows >= cols {
            (rows, cols)
        } else {
            (cols, rows)
        };
        Tall { rows, cols, n, m }
    }

    /// Panics (naming `who` and `what`) unless `shape` is `rows × cols`: a workspace used for a matrix
    /// of another shape is a violated internal invariant.
    pub(crate) fn check(&self, who: &str, what: &str, shape: (usize, usize)) {
        assert_eq!(shape, (self.rows, self.cols), "{who}: {what} shape");
    }
}

/// Copies `w` (rows×cols) into the tall `r` (n×m), transposing when wide.
pub(crate) fn to_tall<T: Real>(w: MatRef<'_, T>, r: &mut Mat<T>) {
    if w.rows() >= w.cols() {
        for i in 0..w.rows() {
            r.row_mut(i).copy_from_slice(w.row(i));
        }
    } else {
        for i in 0..w.rows() {
            for (j, &v) in w.row(i).iter().enumerate() {
                r.set(j, i, v);
            }
        }
    }
}

/// Writes the tall `x` (n×m) into `q` (rows×cols), transposing when `q` is wide.
pub(crate) fn from_tall<T: Real>(x: &Mat<T>, q: &mut MatMut<'_, T>) {
    if q.rows() >= q.cols() {
        for i in 0..q.rows() {
            q.row_mut(i).copy_from_slice(x.row(i));
        }
    } else {
        for i in 0..q.rows() {
            let row = q.row_mut(i);
            for (j, v) in row.iter_mut().enumerate() {
                *v = x.get(j, i);
            }
        }
    }
}

/// `out += x` in the `rows × cols` orientation (x is its tall form).
pub(crate) fn add_from_tall<T: Real>(x: &Mat<T>, rows: usize, cols: usize, out: &mut [T]) {
    if rows >= cols {
        for (o, &v) in out.iter_mut().zip(x.as_slice()) {
            *o += v;
        }
    } else {
        for i in 0..rows {
            for j in 0..cols {
                out[i * cols + j] += x.get(j, i);
            }
        }
    }
}
