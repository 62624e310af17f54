//! GroupSort activation [A19] (SPEC §2.2, §7.6).
//!
//! # Forward
//! Each row of a `B × w` batch is split into `w / k` consecutive groups of `k` features; each group is
//! sorted (descending by default, as w1ot's code; ascending as an option). The sort is a stable
//! rank count: element j goes to position `ρ(j) = #{t : x_t before x_j}` (ties broken by index), i.e.
//! `y[i, ρ_i(j)] = x[i, j]` — branch-free, O(k²) per group and vectorised, fast for the small groups used
//! here. The ranks ρ (positions within the row) are stored.
//!
//! # Backward
//! The Jacobian of a sort is a permutation matrix (almost everywhere: away from ties), so
//! `x̄[i, j] = ȳ[i, ρ_i(j)]` — a gather by the stored ranks. GroupSort is therefore 1-Lipschitz and
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

    /// `y ← GroupSort(x)`, recording the ranks in `perm` (`perm[i·w + j] = ρ_i(j)`, the position of
    /// `x[i, j]` in row i of `y`).
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
                let xg = &xr[g0..g0 + k];
                let yg = &mut yr[g0..g0 + k];
                let pg = &mut pr[g0..g0 + k];
                // NaN marks any slot a NaN input leaves unfilled (its rank collides), so it propagates
                yg.fill(T::from_f64(f64::NAN));
                match k {
                    2 => ranks_fixed::<T, 2>(xg, pg, self.descending),
                    4 => ranks_fixed::<T, 4>(xg, pg, self.descending),
                    8 => ranks_fixed::<T, 8>(xg, pg, self.descending),
                    16 => ranks_fixed::<T, 16>(xg, pg, self.descending),
                    32 => ranks_fixed::<T, 32>(xg, pg, self.descending),
                    _ => ranks_any(xg, pg, self.descending),
                }
                for (&v, &r) in xg.iter().zip(pg.iter()) {
                    yg[r as usize] = v;
                }
                // store the absolute position in the row
                pg.iter_mut().for_each(|r| *r += g0 as u32);
            }
        }
    }

    /// `x̄ ← Pᵀ ȳ` (overwrites `x_bar`) with the ranks of the last forward: `x̄[i, j] = ȳ[i, ρ_i(j)]`.
    pub fn backward<T: Real>(&self, y_bar: &Mat<T>, rank: &[u32], x_bar: &mut Mat<T>) {
        let (b, w) = y_bar.shape();
        assert_eq!(x_bar.shape(), (b, w), "groupsort: gradient shape");
        if w == 0 {
            return;
        }
        for ((yr, xr), rr) in y_bar
            .as_slice()
            .chunks_exact(w)
            .zip(x_bar.as_mut_slice().chunks_exact_mut(w))
            .zip(rank.chunks_exact(w))
        {
            for (xv, &r) in xr.iter_mut().zip(rr) {
                *xv = yr[r as usize];
            }
        }
    }
}

/// Ranks `ρ(j) = #{t : x_t before x_j, or x_t = x_j and t < j}` ("before" = larger when descending) of a
/// group whose size K is known at compile time: fixed trip counts let the compiler unroll and vectorise.
#[inline(always)]
fn ranks_fixed<T: Real, const K: usize>(xg: &[T], pg: &mut [u32], descending: bool) {
    let x: &[T; K] = xg.try_into().expect("group of size K");
    let mut r = [0u32; K];
    for (t, &u) in x.iter().enumerate() {
        for (j, (rj, &v)) in r.iter_mut().zip(x).enumerate() {
            let before = if descending { u > v } else { u < v };
            *rj += (before | ((u == v) & (t < j))) as u32;
        }
    }
    pg.copy_from_slice(&r);
}

/// The same ranks for any group size (two counting loops per element).
fn ranks_any<T: Real>(xg: &[T], pg: &mut [u32], descending: bool) {
    for (j, &v) in xg.iter().enumerate() {
        pg[j] = if descending {
            xg[..j].iter().fold(0u32, |c, &u| c + (u >= v) as u32)
                + xg[j + 1..].iter().fold(0u32, |c, &u| c + (u > v) as u32)
        } else {
            xg[..j].iter().fold(0u32, |c, &u| c + (u <= v) as u32)
                + xg[j + 1..].iter().fold(0u32, |c, &u| c + (u < v) as u32)
        };
    }
}
