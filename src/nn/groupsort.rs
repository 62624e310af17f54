//! GroupSort activation \[A19\] (SPEC §2.2, §7.6).
//!
//! # Forward
//! Each row of a `B × w` batch is split into `w / k` consecutive groups of `k` features; each group is
//! sorted (descending by default, as w1ot's code; ascending as an option), equal values kept in input
//! order (a stable sort). The position `ρ_i(j)` of input `x[i, j]` in row i of the output is stored:
//! `y[i, ρ_i(j)] = x[i, j]`. Three kernels give exactly the same output and positions (f32 ties do occur
//! in training — about one per 2.6 million sorted elements on the 8gaussians demo — so the tie rule is
//! part of what makes runs reproducible across CPUs):
//! - **k a power of two ≤ 32**: Batcher's odd–even merge sorting network ([`batcher_network`], 63
//!   comparators for k = 16), applied to 16 rows at once — a block of 16 rows × k features is read
//!   transposed into k vectors of 16 lanes (one lane per row), every comparator `(a, b)` is a lane-wise
//!   compare-and-swap of vectors a and b (the values and their input indices), and the block is written
//!   back. A comparator swaps iff the element at b comes strictly before the one at a — by value, then by
//!   input index — so the network sorts by that total order (a stable sort), and the output is always a
//!   permutation of the input (a NaN compares false, swaps with nothing and stays in its group). Compiled
//!   also for AVX-512 and AVX2 and chosen at run time.
//! - **f32 with k = 16 on an AVX-512 CPU** (the training default): one group per 16-lane register, sorted
//!   in registers by the 10 stages of the bitonic network (`bitonic16_f32`; same order, same swap rule).
//! - **any other k**: a stable rank count, `ρ(j) = #{t : x_t before x_j, or x_t = x_j and t < j}`, O(k²)
//!   per group.
//!
//! # Backward
//! The Jacobian of a sort is a permutation matrix (almost everywhere: away from ties), so
//! `x̄[i, j] = ȳ[i, ρ_i(j)]` — a gather by the stored ranks. GroupSort is therefore 1-Lipschitz and
//! gradient-norm preserving.
//!
//! `k = 2` is MaxMin; `k = w` is FullSort. w1ot's default (4 groups) is `k = w / 4`.

use crate::linalg::simd::simd_dispatch;
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
        let (xs, ys, ps) = (x.as_slice(), y.as_mut_slice(), &mut perm[..b * w]);
        match k {
            2 => network_rows::<T, 2>(xs, ys, ps, w, self.descending),
            4 => network_rows::<T, 4>(xs, ys, ps, w, self.descending),
            8 => network_rows::<T, 8>(xs, ys, ps, w, self.descending),
            16 => {
                #[cfg(target_arch = "x86_64")]
                if core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>()
                    && std::arch::is_x86_feature_detected!("avx512f")
                {
                    // safety: T is f32 (checked just above), so the slices are [f32] of the same length;
                    // the CPU supports AVX-512F (checked just above).
                    unsafe {
                        let xs = core::slice::from_raw_parts(xs.as_ptr().cast::<f32>(), xs.len());
                        let ys = core::slice::from_raw_parts_mut(
                            ys.as_mut_ptr().cast::<f32>(),
                            ys.len(),
                        );
                        bitonic16_f32::rows(xs, ys, ps, w, self.descending);
                    }
                    return;
                }
                network_rows::<T, 16>(xs, ys, ps, w, self.descending)
            }
            32 => network_rows::<T, 32>(xs, ys, ps, w, self.descending),
            _ => rank_rows(xs, ys, ps, w, k, self.descending),
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

/// Rows sorted together by the network kernel (one vector lane per row).
const LANES: usize = 16;

/// Comparators of Batcher's odd–even merge sorting network for `n` inputs (a power of two, `n ≤ 32`):
/// `(a, b)` with `a < b` means "put the element that comes first at a". Returns the list in a fixed-size
/// array and its length (63 comparators for n = 16, 191 for n = 32).
pub const fn batcher_network(n: usize) -> ([(u8, u8); 256], usize) {
    let mut net = [(0u8, 0u8); 256];
    let mut len = 0;
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k > 0 {
            let mut j = k % p;
            while j + k < n {
                let mut i = 0;
                while i < k && i + j + k < n {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        net[len] = ((i + j) as u8, (i + j + k) as u8);
                        len += 1;
                    }
                    i += 1;
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    (net, len)
}

const NET2: ([(u8, u8); 256], usize) = batcher_network(2);
const NET4: ([(u8, u8); 256], usize) = batcher_network(4);
const NET8: ([(u8, u8); 256], usize) = batcher_network(8);
const NET16: ([(u8, u8); 256], usize) = batcher_network(16);
const NET32: ([(u8, u8); 256], usize) = batcher_network(32);

/// The comparators for group size K (a power of two ≤ 32).
fn network(k: usize) -> &'static [(u8, u8)] {
    let (net, len) = match k {
        2 => &NET2,
        4 => &NET4,
        8 => &NET8,
        16 => &NET16,
        32 => &NET32,
        _ => unreachable!("sorting networks exist for k = 2, 4, 8, 16, 32"),
    };
    &net[..*len]
}

simd_dispatch! {
    /// The network kernel over all rows (module doc), for the widest instruction set of the CPU.
    fn network_rows[T: Real, const K: usize][T, K](
        x: &[T],
        y: &mut [T],
        perm: &mut [u32],
        w: usize,
        descending: bool,
    ) -> () = network_rows_body;
}

#[inline(always)]
fn network_rows_body<T: Real, const K: usize>(
    x: &[T],
    y: &mut [T],
    perm: &mut [u32],
    w: usize,
    descending: bool,
) {
    let net = network(K);
    let b = x.len() / w;
    // v[p][lane]: the value at position p of the group in row r0 + lane; id[p][lane]: its input index
    let mut v = [[T::ZERO; LANES]; K];
    let mut id = [[0u32; LANES]; K];
    for r0 in (0..b).step_by(LANES) {
        let n = LANES.min(b - r0);
        for g0 in (0..w).step_by(K) {
            // read the block transposed (unused lanes keep stale values and are not written back)
            for lane in 0..n {
                let xr = &x[(r0 + lane) * w + g0..(r0 + lane) * w + g0 + K];
                for p in 0..K {
                    v[p][lane] = xr[p];
                    id[p][lane] = p as u32;
                }
            }
            for &(a, c) in net {
                let (a, c) = (a as usize, c as usize);
                let (lo, hi) = v.split_at_mut(c);
                let (va, vc) = (&mut lo[a], &mut hi[0]);
                let (ilo, ihi) = id.split_at_mut(c);
                let (ia, ic) = (&mut ilo[a], &mut ihi[0]);
                for lane in 0..LANES {
                    let (s, t) = (va[lane], vc[lane]);
                    let (is, it) = (ia[lane], ic[lane]);
                    // swap iff t comes strictly before s: first by value, then by input index
                    let swap = (if descending { t > s } else { t < s }) | ((t == s) & (it < is));
                    va[lane] = if swap { t } else { s };
                    vc[lane] = if swap { s } else { t };
                    ia[lane] = if swap { it } else { is };
                    ic[lane] = if swap { is } else { it };
                }
            }
            for lane in 0..n {
                let o = (r0 + lane) * w + g0;
                for p in 0..K {
                    y[o + p] = v[p][lane];
                    perm[o + id[p][lane] as usize] = (g0 + p) as u32;
                }
            }
        }
    }
}

/// f32 groups of 16 with AVX-512F: one group in one 16-lane register, sorted by the 10 stages of the
/// bitonic network (stage (k, j): lane i meets lane `i ^ j`; the lane that should hold the earlier element
/// of the pair is the lower one in an ascending block, `(i & k) = 0`, the upper one otherwise). "Earlier"
/// is the order of the module doc (by value, then input index); both lanes of a pair test the same strict
/// comparison, so they swap together and the result is a permutation of the input (a NaN swaps with
/// nothing and stays in its group).
#[cfg(target_arch = "x86_64")]
mod bitonic16_f32 {
    use std::arch::x86_64::*;

    /// (j, k) of the bitonic stages for 16 lanes.
    const STAGES: [(i32, i32); 10] = [
        (1, 2),
        (2, 4),
        (1, 4),
        (4, 8),
        (2, 8),
        (1, 8),
        (8, 16),
        (4, 16),
        (2, 16),
        (1, 16),
    ];

    /// Lanes that hold the earlier element of their pair at stage (j, k): the lower lane in an ascending
    /// block, `(i & k) = 0`, the upper one otherwise.
    const fn keeps_smaller(j: i32, k: i32) -> u16 {
        let mut m = 0u16;
        let mut i = 0;
        while i < 16 {
            if ((i & j) == 0) == ((i & k) == 0) {
                m |= 1 << i;
            }
            i += 1;
        }
        m
    }

    /// Sorts every group of 16 in `x` (rows of width `w`, a multiple of 16) into `y`, with positions into
    /// `perm` as [`super::GroupSort::forward`].
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn rows(x: &[f32], y: &mut [f32], perm: &mut [u32], w: usize, descending: bool) {
        if descending {
            rows_in::<true>(x, y, perm, w)
        } else {
            rows_in::<false>(x, y, perm, w)
        }
    }

    /// Lanes where `(a, ia)` comes strictly before `(b, ib)`: by value (larger first when DESC), then
    /// by input index.
    #[target_feature(enable = "avx512f")]
    fn before<const DESC: bool>(a: __m512, ia: __m512i, b: __m512, ib: __m512i) -> __mmask16 {
        let by_value = if DESC {
            _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b)
        } else {
            _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b)
        };
        by_value | (_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b) & _mm512_cmplt_epi32_mask(ia, ib))
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn rows_in<const DESC: bool>(x: &[f32], y: &mut [f32], perm: &mut [u32], w: usize) {
        assert!(w.is_multiple_of(16) && y.len() == x.len() && perm.len() == x.len());
        let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut partner = [iota; 10];
        let mut earlier = [0u16; 10];
        for (s, &(j, k)) in STAGES.iter().enumerate() {
            partner[s] = _mm512_xor_si512(iota, _mm512_set1_epi32(j));
            earlier[s] = keeps_smaller(j, k);
        }
        // G groups at a time: the 10 stages are a dependent chain per group, so independent groups
        // interleaved keep the vector units busy
        const G: usize = 8;
        let mut ids = [[0u32; 16]; G];
        let mut g = 0;
        while g < x.len() {
            let n = G.min((x.len() - g) / 16);
            let mut v = [_mm512_setzero_ps(); G];
            let mut id = [iota; G];
            for (t, vt) in v.iter_mut().enumerate().take(n) {
                // safety: g + 16·(t + 1) ≤ len; unaligned loads.
                *vt = _mm512_loadu_ps(x.as_ptr().add(g + 16 * t));
            }
            for s in 0..10 {
                for t in 0..G {
                    let pv = _mm512_permutexvar_ps(partner[s], v[t]);
                    let pid = _mm512_permutexvar_epi32(partner[s], id[t]);
                    // a lane that should hold the earlier element of its pair takes the partner's iff
                    // the partner comes before it; the other lane iff it comes before the partner —
                    // the same comparison seen from both sides, so the pair swaps together
                    let swap = (earlier[s] & before::<DESC>(pv, pid, v[t], id[t]))
                        | (!earlier[s] & before::<DESC>(v[t], id[t], pv, pid));
                    v[t] = _mm512_mask_blend_ps(swap, v[t], pv);
                    id[t] = _mm512_mask_blend_epi32(swap, id[t], pid);
                }
            }
            for t in 0..n {
                let o = g + 16 * t;
                // safety: o + 16 ≤ len; unaligned stores.
                _mm512_storeu_ps(y.as_mut_ptr().add(o), v[t]);
                _mm512_storeu_si512(ids[t].as_mut_ptr().cast(), id[t]);
                let g0 = (o % w) as u32;
                for (p, &src) in ids[t].iter().enumerate() {
                    perm[o + src as usize] = g0 + p as u32;
                }
            }
            g += 16 * n;
        }
    }
}

/// The stable rank-count kernel for any group size k: `ρ(j) = #{t : x_t before x_j, or x_t = x_j and
/// t < j}` ("before" = larger when descending), then `y[ρ(j)] = x_j`.
fn rank_rows<T: Real>(
    x: &[T],
    y: &mut [T],
    perm: &mut [u32],
    w: usize,
    k: usize,
    descending: bool,
) {
    for ((xr, yr), pr) in x
        .chunks_exact(w)
        .zip(y.chunks_exact_mut(w))
        .zip(perm.chunks_exact_mut(w))
    {
        for g0 in (0..w).step_by(k) {
            let xg = &xr[g0..g0 + k];
            let yg = &mut yr[g0..g0 + k];
            let pg = &mut pr[g0..g0 + k];
            // NaN marks any slot a NaN input leaves unfilled (its rank collides), so it propagates
            yg.fill(T::from_f64(f64::NAN));
            for (j, &v) in xg.iter().enumerate() {
                let r = if descending {
                    xg[..j].iter().fold(0u32, |c, &u| c + (u >= v) as u32)
                        + xg[j + 1..].iter().fold(0u32, |c, &u| c + (u > v) as u32)
                } else {
                    xg[..j].iter().fold(0u32, |c, &u| c + (u <= v) as u32)
                        + xg[j + 1..].iter().fold(0u32, |c, &u| c + (u < v) as u32)
                };
                yg[r as usize] = v;
                pg[j] = g0 as u32 + r;
            }
        }
    }
}
