//! The quadratic (affine-map) path of a potential: `q(x) = ½ xᵀ(L Lᵀ + diag(softplus(s)))x + βᵀx`,
//! with hand-derived value, input gradient, parameter gradients and double backprop (issue 13; the
//! "PosDefPotentials" idea of \[A23\]/ott-jax written out for monge's minimax).
//!
//! A potential with this path is `φ(x) = q(x) + ICNN(x)` ([`crate::nn::icnn::Icnn::with_quadratic`]):
//! its gradient `∇φ(x) = M x + β + ∇ICNN(x)` with `M = L Lᵀ + diag(softplus(s))` carries any symmetric
//! positive semi-definite affine map exactly (the Gaussian OT map of [`crate::ot::gaussian`]), and the ICNN
//! only has to learn the non-affine rest. `M ⪰ 0` for every parameter value (L Lᵀ ⪰ 0, softplus > 0), so φ
//! stays convex without any constraint on (L, s, β).
//!
//! # Shapes and layout
//! L is `d × r` (low rank r ≤ d: products cost `B·d·r`, so d in the thousands stays cheap), s and β have
//! length d. In the potential's flat buffer they follow the ICNN's blocks: `[… | L (d×r, row-major) | s | β]`.
//! Let `p = softplus(s)` (elementwise), `p' = σ(s)` (the logistic function).
//!
//! # Value (step Q-F), per row x of a batch X (B × d)
//! `K = X L` (one gemm, B × r), `q(x_i) = ½‖K_i‖² + ½ Σ_j p_j x_ij² + βᵀx_i`.
//!
//! # Input gradient with a seed w (step Q-B): `∇_x Σ_i w_i q(x_i)`, row i
//! `w_i (L Lᵀ x_i + p ⊙ x_i + β) = (diag(w) K) Lᵀ + w_i (p ⊙ x_i + β)` — one gemm with `K̃ = diag(w) K`.
//!
//! # Parameter gradient of the value (step Q-P): `∂/∂θ Σ_i w_i q(x_i)`
//! `∂/∂L ½ w (xᵀL)(Lᵀx) = w x (xᵀL)`, summed: `∂L += Xᵀ K̃` (d × r, one gemm);
//! `∂s_j += ½ p'_j Σ_i w_i x_ij²`; `∂β += Σ_i w_i x_i`.
//!
//! # Double backprop (step Q-D): `∂/∂θ Σ_i ⟨v_i, ∇q(x_i)⟩` (seed 1, V held fixed)
//! `h = Σ_i v_iᵀ L Lᵀ x_i + Σ_i Σ_j v_ij p_j x_ij + Σ_i v_iᵀβ`. With `J = V L` (B × r):
//! `∂L += Vᵀ K + Xᵀ J` (the bilinear form `vᵀ L Lᵀ x` differentiated in each factor L),
//! `∂s_j += p'_j Σ_i v_ij x_ij`, `∂β += Σ_i v_i`. The path's Hessian `M` does not depend on x, so unlike the
//! ICNN's step D there is no primal (second-order) term.
//!
//! # Hessian–vector product (step Q-J)
//! `∇²q(x) v = M v = (v L) Lᵀ + p ⊙ v`.
//!
//! # Softplus
//! `softplus(s) = max(s, 0) + ln(1 + e^{−|s|})` (no overflow), inverse `s = u + ln(1 − e^{−u})` for u > 0
//! ([`softplus_inv`], used to set a given diagonal at initialisation).

use crate::linalg::{gemm, MatMut, MatRef, Op, Real};

/// softplus(s) = ln(1 + eˢ) and its derivative, the logistic function 1 / (1 + e^{−s}), both without
/// overflow (one implementation, in [`crate::linalg::ops`]).
pub use crate::linalg::ops::{sigmoid as logistic, softplus};

/// The s with softplus(s) = u, for u > 0: `u + ln(1 − e^{−u}) = u + ln(−expm1(−u))`.
pub fn softplus_inv(u: f64) -> f64 {
    assert!(u > 0.0, "softplus_inv needs a positive value");
    u + (-(-u).exp_m1()).ln()
}

/// Where the quadratic path sits in a potential's flat parameter buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quadratic {
    /// Input dimension d.
    pub dim: usize,
    /// Rank r of L (0 ≤ r ≤ d; r = 0 leaves the diagonal and linear terms).
    pub rank: usize,
    /// Offset of L in the buffer (s and β follow).
    pub off: usize,
}

impl Quadratic {
    /// Number of parameters `d·r + 2d`.
    pub fn n_params(&self) -> usize {
        self.dim * self.rank + 2 * self.dim
    }
    /// Range of L (d × r, row-major).
    pub fn l_range(&self) -> core::ops::Range<usize> {
        self.off..self.off + self.dim * self.rank
    }
    /// Range of s (the diagonal's softplus pre-image).
    pub fn s_range(&self) -> core::ops::Range<usize> {
        let s = self.off + self.dim * self.rank;
        s..s + self.dim
    }
    /// Range of β (the linear term).
    pub fn beta_range(&self) -> core::ops::Range<usize> {
        let s = self.off + self.dim * self.rank + self.dim;
        s..s + self.dim
    }
    fn l<'a, T: Real>(&self, p: &'a [T]) -> MatRef<'a, T> {
        MatRef::from_slice(&p[self.l_range()], self.dim, self.rank).unwrap()
    }
    /// `out ← Y L` (B × r) for a batch Y: K = X L (Q-F), J = V L (Q-D, Q-J).
    #[inline]
    fn times_l<T: Real>(&self, p: &[T], y: MatRef<'_, T>, out: &mut [T]) {
        let (b, r) = (y.rows(), self.rank);
        let om = MatMut::from_slice(&mut out[..b * r], b, r).unwrap();
        gemm(T::ONE, y, Op::N, self.l(p), Op::N, T::ZERO, om);
    }

    /// Step Q-F: `sp ← softplus(s)` (length d, for the other passes), `k ← X L` (B × r) and
    /// `val_i += q(x_i)`.
    pub fn forward<T: Real>(
        &self,
        p: &[T],
        x: MatRef<'_, T>,
        sp: &mut [T],
        k: &mut [T],
        val: &mut [T],
    ) {
        let (b, d, r) = (x.rows(), self.dim, self.rank);
        if r > 0 {
            self.times_l(p, x, k);
        }
        let beta = &p[self.beta_range()];
        for (o, &sv) in sp.iter_mut().zip(&p[self.s_range()]) {
            *o = softplus(sv);
        }
        let half = T::from_f64(0.5);
        for (i, vi) in val.iter_mut().enumerate().take(b) {
            let xr = x.row(i);
            let kr = &k[i * r..(i + 1) * r];
            let mut acc = T::ZERO;
            for &kv in kr {
                acc += kv * kv;
            }
            let mut diag = T::ZERO;
            let mut lin = T::ZERO;
            for j in 0..d {
                diag += sp[j] * xr[j] * xr[j];
                lin += beta[j] * xr[j];
            }
            *vi += half * (acc + diag) + lin;
        }
    }

    /// `kw_i ← w_i k_i` (the seeded K̃ of steps Q-B and Q-P).
    pub fn seed_rows<T: Real>(&self, rows: usize, k: &[T], w: &[T], kw: &mut [T]) {
        let r = self.rank;
        for i in 0..rows {
            for j in 0..r {
                kw[i * r + j] = w[i] * k[i * r + j];
            }
        }
    }

    /// Step Q-B: `out += K̃ Lᵀ + diag(w)(X diag(p) + 1βᵀ)` (`sp` = softplus(s) from the forward).
    pub fn input_grad_add<T: Real>(
        &self,
        p: &[T],
        sp: &[T],
        x: MatRef<'_, T>,
        kw: &[T],
        w: &[T],
        mut out: MatMut<'_, T>,
    ) {
        let (b, d, r) = (x.rows(), self.dim, self.rank);
        if r > 0 {
            let km = MatRef::from_slice(&kw[..b * r], b, r).unwrap();
            gemm(T::ONE, km, Op::N, self.l(p), Op::T, T::ONE, out.rb_mut());
        }
        let beta = &p[self.beta_range()];
        for (i, &wi) in w.iter().enumerate().take(b) {
            let xr = x.row(i);
            let orow = out.row_mut(i);
            for j in 0..d {
                orow[j] += wi * (sp[j] * xr[j] + beta[j]);
            }
        }
    }

    /// Step Q-P: `grads += ∂/∂θ Σ_i w_i q(x_i)` (K̃ = diag(w) X L from [`Quadratic::seed_rows`]).
    pub fn value_param_grad<T: Real>(
        &self,
        p: &[T],
        x: MatRef<'_, T>,
        kw: &[T],
        w: &[T],
        grads: &mut [T],
    ) {
        let (b, d, r) = (x.rows(), self.dim, self.rank);
        if r > 0 {
            let km = MatRef::from_slice(&kw[..b * r], b, r).unwrap();
            let gl = MatMut::from_slice(&mut grads[self.l_range()], d, r).unwrap();
            gemm(T::ONE, x, Op::T, km, Op::N, T::ONE, gl);
        }
        let s = &p[self.s_range()];
        let (s0, b0) = (self.s_range().start, self.beta_range().start);
        let half = T::from_f64(0.5);
        for j in 0..d {
            let mut sq = T::ZERO;
            let mut lin = T::ZERO;
            for (i, &wi) in w.iter().enumerate().take(b) {
                let xv = x.get(i, j);
                sq += wi * xv * xv;
                lin += wi * xv;
            }
            grads[s0 + j] += half * logistic(s[j]) * sq;
            grads[b0 + j] += lin;
        }
    }

    /// Step Q-D: `grads += ∂/∂θ Σ_i ⟨v_i, ∇q(x_i)⟩`, with `k = X L` of the last forward; `j` is scratch
    /// (B × r) for `V L`.
    pub fn map_param_grad<T: Real>(
        &self,
        p: &[T],
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        k: &[T],
        jbuf: &mut [T],
        grads: &mut [T],
    ) {
        let (b, d, r) = (x.rows(), self.dim, self.rank);
        if r > 0 {
            self.times_l(p, v, jbuf);
            let km = MatRef::from_slice(&k[..b * r], b, r).unwrap();
            let jm = MatRef::from_slice(&jbuf[..b * r], b, r).unwrap();
            let mut gl = MatMut::from_slice(&mut grads[self.l_range()], d, r).unwrap();
            gemm(T::ONE, v, Op::T, km, Op::N, T::ONE, gl.rb_mut());
            gemm(T::ONE, x, Op::T, jm, Op::N, T::ONE, gl);
        }
        let s = &p[self.s_range()];
        let (s0, b0) = (self.s_range().start, self.beta_range().start);
        for j in 0..d {
            let mut vx = T::ZERO;
            let mut vs = T::ZERO;
            for i in 0..b {
                let vv = v.get(i, j);
                vx += vv * x.get(i, j);
                vs += vv;
            }
            grads[s0 + j] += logistic(s[j]) * vx;
            grads[b0 + j] += vs;
        }
    }

    /// Step Q-J: `out += V M` (row i: `M v_i`); `jbuf` is scratch (B × r), `sp` = softplus(s).
    pub fn hvp_add<T: Real>(
        &self,
        p: &[T],
        sp: &[T],
        v: MatRef<'_, T>,
        jbuf: &mut [T],
        mut out: MatMut<'_, T>,
    ) {
        let (b, d, r) = (v.rows(), self.dim, self.rank);
        if r > 0 {
            self.times_l(p, v, jbuf);
            let jm = MatRef::from_slice(&jbuf[..b * r], b, r).unwrap();
            gemm(T::ONE, jm, Op::N, self.l(p), Op::T, T::ONE, out.rb_mut());
        }
        for i in 0..b {
            let vr = v.row(i);
            let orow = out.row_mut(i);
            for j in 0..d {
                orow[j] += sp[j] * vr[j];
            }
        }
    }

    /// Sets the path to `M = L Lᵀ + diag(softplus(s))` and β from a symmetric positive-definite `m` (d × d,
    /// row-major, f64) and `beta`: from the eigen-decomposition `m = Σ λ_k u_k u_kᵀ` (λ descending), the
    /// diagonal is `δ I` and `L = [√(λ_k − δ) u_k]_{k<r}`, with δ = ½ λ_min when r = d (exact), else δ the
    /// mean of the eigenvalues left out (the closest isotropic remainder in Frobenius norm), clipped to
    /// `[1e-6·λ_max, λ_r]`. Returns the Frobenius error `‖M − m‖_F` of the representation.
    pub fn set_from_matrix<T: Real>(&self, p: &mut [T], m: &[f64], beta: &[f64]) -> f64 {
        let d = self.dim;
        assert!(m.len() == d * d && beta.len() == d, "quadratic init shapes");
        let mm = nalgebra::DMatrix::from_row_slice(d, d, m);
        let sym = (&mm + mm.transpose()) * 0.5;
        let eig = nalgebra::SymmetricEigen::new(sym.clone());
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let lam: Vec<f64> = order.iter().map(|&k| eig.eigenvalues[k].max(0.0)).collect();
        let r = self.rank.min(d);
        let lmax = lam[0].max(f64::MIN_POSITIVE);
        let delta = if r >= d {
            0.5 * lam[d - 1]
        } else {
            lam[r..].iter().sum::<f64>() / (d - r) as f64
        };
        let upper = if r > 0 { lam[r - 1] } else { f64::INFINITY };
        let delta = delta.max(1e-6 * lmax).min(upper.max(1e-6 * lmax));
        let l = self.l_range();
        for i in 0..d {
            for k in 0..self.rank {
                let v = if k < r {
                    let c = (lam[k] - delta).max(0.0).sqrt();
                    c * eig.eigenvectors[(i, order[k])]
                } else {
                    0.0
                };
                p[l.start + i * self.rank + k] = T::from_f64(v);
            }
        }
        let s_val = T::from_f64(softplus_inv(delta));
        for v in &mut p[self.s_range()] {
            *v = s_val;
        }
        for (dst, &v) in p[self.beta_range()].iter_mut().zip(beta) {
            *dst = T::from_f64(v);
        }
        // representation error
        let mut err = 0.0;
        for i in 0..d {
            for j in 0..d {
                let mut v = if i == j {
                    softplus(p[self.s_range().start + i].to_f64())
                } else {
                    0.0
                };
                for k in 0..self.rank {
                    v += p[l.start + i * self.rank + k].to_f64()
                        * p[l.start + j * self.rank + k].to_f64();
                }
                err += (v - sym[(i, j)]).powi(2);
            }
        }
        err.sqrt()
    }
}
