//! GroupSort activation [A19] (SPEC §2.2, §7.6).
//!
//! # Forward
//! Each row of a `B × w` batch is split into `w / k` consecutive groups of `k` features; each group is
//! sorted (descending by default, as w1ot's code; ascending as an option). The sort is a stable
//! insertion sort on indices, and the permutation is stored: `y[i, j] = x[i, π_i(j)]`.
//!
//! # Backward
//! The Jacobian of a sort is the permutation matrix of π (almost everywhere: away from ties), so
//! `x̄[i, π_i(j)] = ȳ[i, j]` — a scatter by the stored argsort. GroupSort is therefore 1-Lipschitz and
//! gradient-norm preserving.
//!
//! `k = 2` is MaxMin; `k = w` is FullSort. w1ot's default (4 groups) is `k = w / 4`.

use crate::linalg::{Mat, Real};

/// GroupSort with group size `k` and a sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSort {
    /// Group size k (must divide the width).
    pub group: usize,
    /// Sort each group in descending order (w1ot) instead of ascending.
    pub descending: bool,
}

impl GroupSort {
    /// w1ot's default for a layer of width `width`: 4 groups of `width / 4`, descending (groups of 1, i.e.
    /// the identity, for widths below 4).
    pub fn w1ot(width: usize) -> Self {
        GroupSort {
            group: (width / 4).max(1),
            descending: true,
        }
    }

    /// `y ← GroupSort(x)`, recording the permutation in `perm` (`perm[i·w + j] = π_i(j)`).
    pub fn forward<T: Real>(&self, x: &Mat<T>, y: &mut Mat<T>, perm: &mut [u32]) {
        let (b, w) = x.shape();
        let k = self.group;
        assert!(
            k > 0 && w % k == 0,
            "groupsort: group size {k} does not divide width {w}"
        );
        assert_eq!(y.shape(), (b, w), "groupsort: output shape");
        assert!(perm.len() >= b * w, "groupsort: permutation buffer");
        if w == 0 {
            return;
        }
        for ((xr, yr), pr) in x
            .as_slice()
            .chunks_exact(w)
            .zip(y.as_mut_slice().chunks_exact_mut(w))
            .zip(perm.chunks_exact_mut(w))
        {
            for g0 in (0..w).step_by(k) {
                let p = &mut pr[g0..g0 + k];
                // stable insertion sort of the indices by value
                for t in 0..k {
                    let idx = (g0 + t) as u32;
                    let v = xr[g0 + t];
                    let mut s = t;
                    while s > 0 {
                        let prev = xr[p[s - 1] as usize];
                        let before = if self.descending { prev < v } else { prev > v };
                        if !before {
                            break;
                        }
                        p[s] = p[s - 1];
                        s -= 1;
                    }
                    p[s] = idx;
                }
                for t in 0..k {
                    yr[g0 + t] = xr[p[t] as usize];
                }
            }
        }
    }

    /// `x̄ ← Pᵀ ȳ` (overwrites `x_bar`) with the permutation of the last forward.
    pub fn backward<T: Real>(&self, y_bar: &Mat<T>, perm: &[u32], x_bar: &mut Mat<T>) {
        let (b, w) = y_bar.shape();
        assert_eq!(x_bar.shape(), (b, w), "groupsort: gradient shape");
        if w == 0 {
            return;
        }
        for ((yr, xr), pr) in y_bar
            .as_slice()
            .chunks_exact(w)
            .zip(x_bar.as_mut_slice().chunks_exact_mut(w))
            .zip(perm.chunks_exact(w))
        {
            for (&yv, &p) in yr.iter().zip(pr) {
                xr[p as usize] = yv;
            }
        }
    }
}
