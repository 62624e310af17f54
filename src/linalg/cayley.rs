//! Cayley orthonormalisation \[TK21\] of a rectangular matrix, with an optional learnable scale (w1ot, SPEC
//! §1, §7.6), and its exact derivative.
//!
//! # Forward
//! For `W ∈ ℝ^{r×c}` let `R = W` if `r ≥ c`, else `R = Wᵀ` (the transpose rule), so `R` is `n × m`, `n ≥ m`.
//! 1. Scale (optional, w1ot): `Z = α·R/ρ` with `ρ = ‖R‖_F` and a learnable scalar α; without it `Z = R`.
//! 2. Split `Z = [U; V]`, `U = Z[:m]` (m×m), `V = Z[m:]` ((n−m)×m).
//! 3. `A = U − Uᵀ + VᵀV`, `M = I + A`.
//! 4. `N = M⁻¹` — Gauss–Jordan elimination with partial pivoting, always in f64 (M is never singular: its
//!    symmetric part `I + VᵀV` is positive definite).
//! 5. `Q = [Q₁; Q₂]` with `Q₁ = N(I − A) = N(2I − M) = 2N − I` and `Q₂ = −2 V N`; `Q` has orthonormal
//!    columns (`QᵀQ = I`). `Q` is transposed back when `W` was wide (then `QQᵀ = I`).
//!
//! # Backward (given `Q̄ = [Q̄₁; Q̄₂]` in the tall orientation)
//! 6. `Q₁ = 2N − I`, `Q₂ = −2 V N`  ⇒  `N̄ = 2 Q̄₁ − 2 Vᵀ Q̄₂`, `V̄ = −2 Q̄₂ Nᵀ`;
//! 7. `N = M⁻¹`, `d(M⁻¹) = −M⁻¹ dM M⁻¹`  ⇒  `M̄ = −Nᵀ N̄ Nᵀ`;  `Ā = M̄`;
//! 8. `A = U − Uᵀ + VᵀV`  ⇒  `Ū = Ā − Āᵀ`, `V̄ += V (Ā + Āᵀ)`;
//! 9. `Z = α R / ρ`  ⇒  `ᾱ = ⟨Z̄, R⟩/ρ`, `R̄ = (α/ρ)·(Z̄ − (⟨Z̄, R⟩/ρ²)·R)` (or `R̄ = Z̄` unscaled);
//! 10. `W̄ += R̄` (transposed back when wide).

use super::simd::simd_dispatch;
use super::tall::{add_from_tall, from_tall, to_tall, Tall};
use super::{gemm, ops, Mat, MatMut, MatRef, Op, Real};

/// Workspace of [`cayley_forward`] / [`cayley_backward`] for one shape, sized once.
#[derive(Clone, Debug)]
pub struct CayleyWork<T> {
    /// The weight's shape and its tall form's.
    tall: Tall,
    /// R (tall copy of W) and ρ, α of the last forward.
    r: Mat<T>,
    rho: T,
    alpha: Option<T>,
    /// Z (tall, scaled).
    z: Mat<T>,
    /// A, then M̄ in backward.
    a: Mat<T>,
    /// N = M⁻¹.
    ninv: Mat<T>,
    nbar: Mat<T>,
    tmp: Mat<T>,
    zbar: Mat<T>,
    qbar: Mat<T>,
    mbuf: Vec<f64>,
    lu: Vec<f64>,
    inv: Vec<f64>,
    piv: Vec<usize>,
}

impl<T: Real> CayleyWork<T> {
    /// Workspace for a `rows × cols` weight.
    pub fn new(rows: usize, cols: usize) -> Self {
        let tall = Tall::of(rows, cols);
        let Tall { n, m, .. } = tall;
        CayleyWork {
            tall,
            r: Mat::zeros(n, m),
            rho: T::ONE,
            alpha: None,
            z: Mat::zeros(n, m),
            a: Mat::zeros(m, m),
            ninv: Mat::zeros(m, m),
            nbar: Mat::zeros(m, m),
            tmp: Mat::zeros(m, m),
            zbar: Mat::zeros(n, m),
            qbar: Mat::zeros(n, m),
            mbuf: vec![0.0; m * m],
            lu: vec![0.0; 2 * m * m],
            inv: vec![0.0; m * m],
            piv: vec![0; m],
        }
    }
}

simd_dispatch! {
    /// Inverse of the m×m row-major `a` (f64) by Gauss–Jordan elimination with partial pivoting on the
    /// augmented rows `[a | I]` (row-contiguous updates), into `inv`; `work` (m × 2m) and `piv` (m) are
    /// scratch. Returns false if a pivot is exactly zero (cannot happen for `I + A` above). The row updates
    /// vectorise: the widest instruction set of the CPU is used (`linalg::simd`).
    pub fn inverse_f64[][](
        m: usize,
        a: &[f64],
        work: &mut [f64],
        piv: &mut [usize],
        inv: &mut [f64],
    ) -> bool = inverse_f64_body;
}

#[inline(always)]
fn inverse_f64_body(
    m: usize,
    a: &[f64],
    work: &mut [f64],
    piv: &mut [usize],
    inv: &mut [f64],
) -> bool {
    let w = 2 * m;
    assert!(work.len() >= m * w && inv.len() >= m * m && piv.len() >= m);
    for i in 0..m {
        let row = &mut work[i * w..(i + 1) * w];
        row[..m].copy_from_slice(&a[i * m..(i + 1) * m]);
        row[m..].fill(0.0);
        row[m + i] = 1.0;
        piv[i] = i;
    }
    for k in 0..m {
        // pivot: the largest |entry| in column k at or below row k
        let mut best = k;
        let mut bv = work[k * w + k].abs();
        for i in k + 1..m {
            let v = work[i * w + k].abs();
            if v > bv {
                bv = v;
                best = i;
            }
        }
        if bv == 0.0 {
            return false;
        }
        if best != k {
            let (lo, hi) = work.split_at_mut(best * w);
            lo[k * w..(k + 1) * w].swap_with_slice(&mut hi[..w]);
            piv.swap(k, best);
        }
        let (before, rest) = work.split_at_mut(k * w);
        let (pivot_row, after) = rest.split_at_mut(w);
        let d = 1.0 / pivot_row[k];
        pivot_row[k..].iter_mut().for_each(|v| *v *= d);
        let pr = &pivot_row[k..];
        for row in before.chunks_exact_mut(w).chain(after.chunks_exact_mut(w)) {
            let l = row[k];
            if l != 0.0 {
                for (r, &p) in row[k..].iter_mut().zip(pr) {
                    *r -= l * p;
                }
            }
        }
    }
    for i in 0..m {
        inv[i * m..(i + 1) * m].copy_from_slice(&work[i * w + m..(i + 1) * w]);
    }
    true
}

/// `Q ← cayley(α·W/‖W‖_F)` (or `cayley(W)` when `alpha` is `None`); `q` has the shape of `w`
/// (module doc, steps 1–5).
pub fn cayley_forward<T: Real>(
    w: MatRef<'_, T>,
    alpha: Option<T>,
    mut q: MatMut<'_, T>,
    ws: &mut CayleyWork<T>,
) {
    ws.tall.check("cayley", "workspace", (w.rows(), w.cols()));
    ws.tall.check("cayley", "output", (q.rows(), q.cols()));
    let Tall { n, m, .. } = ws.tall;
    to_tall(w, &mut ws.r);
    // step 1
    ws.alpha = alpha;
    let factor = match alpha {
        Some(a) => {
            let rho = ops::norm2(ws.r.as_slice());
            let rho = if rho > T::ZERO { rho } else { T::ONE };
            ws.rho = rho;
            a / rho
        }
        None => T::ONE,
    };
    for (z, &r) in ws.z.as_mut_slice().iter_mut().zip(ws.r.as_slice()) {
        *z = factor * r;
    }
    // steps 2–3: A = U − Uᵀ + VᵀV
    let zv = ws.z.view();
    let u = zv.rows_range(0, m);
    let v = zv.rows_range(m, n);
    gemm(T::ONE, v, Op::T, v, Op::N, T::ZERO, ws.a.view_mut());
    for i in 0..m {
        for j in 0..m {
            let val = ws.a.get(i, j) + u.get(i, j) - u.get(j, i);
            ws.a.set(i, j, val);
        }
    }
    // step 4: N = (I + A)⁻¹ in f64
    for i in 0..m {
        for j in 0..m {
            let d = if i == j { 1.0 } else { 0.0 };
            ws.mbuf[i * m + j] = d + ws.a.get(i, j).to_f64();
        }
    }
    let ok = inverse_f64(m, &ws.mbuf, &mut ws.lu, &mut ws.piv, &mut ws.inv);
    assert!(
        ok,
        "cayley: I + A is singular (impossible for finite input)"
    );
    for i in 0..m {
        for j in 0..m {
            ws.ninv.set(i, j, T::from_f64(ws.inv[i * m + j]));
        }
    }
    // step 5: Q₁ = 2N − I, Q₂ = −2 V N (assembled in the `qbar` scratch, then written out)
    for i in 0..m {
        for j in 0..m {
            let d = if i == j { T::ONE } else { T::ZERO };
            ws.qbar.set(i, j, T::TWO * ws.ninv.get(i, j) - d);
        }
    }
    {
        let zv = ws.z.view();
        let v = zv.rows_range(m, n);
        let qv = ws.qbar.view_mut().rows_range(m, n);
        gemm(-T::TWO, v, Op::N, ws.ninv.view(), Op::N, T::ZERO, qv);
    }
    from_tall(&ws.qbar, &mut q);
}

/// `W̄ += ∂L/∂W` (and `ᾱ += ∂L/∂α` when the forward was scaled) given `Q̄ = ∂L/∂Q` (module doc,
/// steps 6–10). Uses the state of the last [`cayley_forward`] on this workspace.
pub fn cayley_backward<T: Real>(
    q_bar: MatRef<'_, T>,
    w_bar: &mut [T],
    alpha_bar: Option<&mut T>,
    ws: &mut CayleyWork<T>,
) {
    ws.tall.check("cayley", "Q̄", (q_bar.rows(), q_bar.cols()));
    assert_eq!(w_bar.len(), ws.tall.rows * ws.tall.cols, "cayley: W̄ length");
    let Tall { n, m, .. } = ws.tall;
    to_tall(q_bar, &mut ws.qbar);
    let zv = ws.z.view();
    let v = zv.rows_range(m, n);
    // step 6: N̄ = 2 Q̄₁ − 2 Vᵀ Q̄₂; V̄ = −2 Q̄₂ Nᵀ (into zbar rows m..n)
    for i in 0..m {
        for j in 0..m {
            ws.nbar.set(i, j, T::TWO * ws.qbar.get(i, j));
        }
    }
    {
        let qb = ws.qbar.view();
        let q2 = qb.rows_range(m, n);
        gemm(-T::TWO, v, Op::T, q2, Op::N, T::ONE, ws.nbar.view_mut());
        let vbar = ws.zbar.view_mut().rows_range(m, n);
        gemm(-T::TWO, q2, Op::N, ws.ninv.view(), Op::T, T::ZERO, vbar);
    }
    // step 7: M̄ = −Nᵀ N̄ Nᵀ (tmp = N̄ Nᵀ, then a ← −Nᵀ tmp = Ā)
    let (nbar, ninv) = (ws.nbar.view(), ws.ninv.view());
    gemm(T::ONE, nbar, Op::N, ninv, Op::T, T::ZERO, ws.tmp.view_mut());
    let tmp = ws.tmp.view();
    gemm(-T::ONE, ninv, Op::T, tmp, Op::N, T::ZERO, ws.a.view_mut());
    // step 8: Ū = Ā − Āᵀ (rows 0..m of zbar); V̄ += V (Ā + Āᵀ)
    for i in 0..m {
        for j in 0..m {
            let abar_ij = ws.a.get(i, j);
            let abar_ji = ws.a.get(j, i);
            ws.zbar.set(i, j, abar_ij - abar_ji);
            ws.tmp.set(i, j, abar_ij + abar_ji);
        }
    }
    {
        let vbar = ws.zbar.view_mut().rows_range(m, n);
        gemm(T::ONE, v, Op::N, ws.tmp.view(), Op::N, T::ONE, vbar);
    }
    // step 9: through the scale
    match ws.alpha {
        Some(alpha) => {
            let rho = ws.rho;
            let dot = ops::dot(ws.zbar.as_slice(), ws.r.as_slice());
            if let Some(ab) = alpha_bar {
                *ab += dot / rho;
            }
            let f = alpha / rho;
            let c = dot / (rho * rho);
            for (zb, &r) in ws.zbar.as_mut_slice().iter_mut().zip(ws.r.as_slice()) {
                *zb = f * (*zb - c * r);
            }
        }
        None => {
            assert!(
                alpha_bar.is_none(),
                "cayley: ᾱ requested for an unscaled forward"
            );
        }
    }
    // step 10
    add_from_tall(&ws.zbar, ws.tall.rows, ws.tall.cols, w_bar);
}
