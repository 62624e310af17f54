//! Second-order passes of the [`Icnn`]: step D, the double backprop (the parameter gradient of
//! ⟨V, ∇g⟩, which the map loss needs), and step J, the Hessian–vector product (architecture and
//! notation in the parent module's doc; the backward quantities s, a_l, e_l in `backward.rs`).
//!
//! # Step D (double backprop, [`Icnn::map_param_grad`]) — ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩
//! Per sample with tangent v = V_i, `h(θ) = ⟨v, ∇g(x)⟩` is the directional derivative of g along v, i.e. the
//! forward-mode tangent of step F (seed w = 1, so `s = ρ'(u_L)`):
//! D1. `U̇ = V Aᵀ` (one gemm: `u̇l` starts as `v Alᵀ`); D2. `ż0 = q'(u0) ⊙ u̇0`;
//! D3. for l = 1..L: `u̇l += ż_{l−1} Wlᵀ`, `żl = σ'(ul) ⊙ u̇l` (l < L); `h = s·u̇_L`.
//! Reverse mode through D1–D3 and F. The tangent path is linear in (Wl, Al) with coefficients ż, v;
//! its adjoints are exactly the backward quantities of step B: the adjoint of `u̇_L` is s, of `żl` is
//! `al`, of `u̇l` is `el`. Hence (tangent path)
//! D4. `∂A += Eᵀ V` (rows of A_L get `sᵀ V`), `∂Wl += E_lᵀ Ż_{l−1}` (l = 1..L, `E_L = s`), `∂b_L += 0`.
//! The primal path: h depends on u_l through σ'(u_l) (l ≥ 1, piecewise constant: derivative 0 a.e.),
//! through ρ'(u_L) (also piecewise constant), and on u0 through `ż0 = q'(u0) ⊙ u̇0`, whose derivative is
//! `q''(u0) ⊙ u̇0` with adjoint `a0`. So every primal adjoint above layer 0 vanishes and
//! D5. `ū0 = a0 ⊙ u̇0 ⊙ q''(u0)`, `∂A0 += Ū0ᵀ X`, `∂b0 += 1ᵀ Ū0`.
//! This agrees term by term with the reference derivation in SPEC §2.1 (its `z̄l = 0` for l ≥ 0, its
//! `ūl = al ⊙ u̇l ⊙ σ''(ul) = 0` for l ≥ 1). Cost: one forward, one backward, one tangent pass, and the
//! gradient gemms.
//!
//! # Step J (Hessian–vector product, [`Icnn::jacobian_vector`])
//! Differentiating B1–B4 along v: ṡ = 0, `ėl = ȧl ⊙ σ'(ul) = 0` for l ≥ 1 (ȧ_{L−1} = 0), and
//! `ė0 = a0 ⊙ q''(u0) ⊙ u̇0 = ū0`. So `∇²g(x) v = ū0 A0` — the Hessian is `A0ᵀ diag(a0 ⊙ q''(u0)) A0`,
//! positive semi-definite when every W ≥ 0 (then a0 ≥ 0): the map ∇g is monotone.

use super::{d2q, dq, dsigma, Icnn, IcnnWorkspace};
use crate::linalg::simd::simd_dispatch;
use crate::linalg::{gemm, MatMut, MatRef, Op, Real};

impl<T: Real> Icnn<T> {
    /// Steps D1–D5: `grads += ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩`. Needs `forward(x)` and `backward(None)` on the same
    /// `x` first (as left by [`Icnn::grad_x`]).
    pub fn map_param_grad(
        &self,
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        ws: &mut IcnnWorkspace<T>,
        grads: &mut [T],
    ) {
        map_param_grad_simd(self, x, v, ws, grads);
        if let Some(q) = &self.quad {
            q.map_param_grad(&self.params, x, v, &ws.qk, &mut ws.qj, grads);
        }
    }

    /// `grads += ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩` (forward, backward, tangent and gradient passes).
    pub fn param_grad_of_map(
        &self,
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        ws: &mut IcnnWorkspace<T>,
        grads: &mut [T],
    ) {
        self.forward(x, ws);
        self.backward(ws, None);
        self.map_param_grad(x, v, ws, grads);
    }

    /// Step J: `out` row i ← ∇²g(x_i) V_i (Hessian–vector products; rows × d).
    pub fn jacobian_vector(
        &self,
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        ws: &mut IcnnWorkspace<T>,
        out: MatMut<'_, T>,
    ) {
        self.forward(x, ws);
        self.backward(ws, None);
        let b = ws.rows;
        let h0 = self.hidden[0];
        let h1 = self.h_total() + 1;
        let a0 = self.a_all().rows_range(0, h0);
        // u̇0 = V A0ᵀ (into Ū0's buffer), then ū0 = a0 ⊙ q''(u0) ⊙ u̇0 in place
        gemm(
            T::ONE,
            v,
            Op::N,
            a0,
            Op::T,
            T::ZERO,
            MatMut::from_slice(&mut ws.ub0[..b * h0], b, h0).unwrap(),
        );
        for i in 0..b {
            let ur = &ws.u[i * h1..i * h1 + h0];
            let ar = &ws.a0[i * h0..(i + 1) * h0];
            let ubr = &mut ws.ub0[i * h0..(i + 1) * h0];
            for j in 0..h0 {
                ubr[j] *= ar[j] * d2q(ur[j]);
            }
        }
        let ub0 = MatRef::from_slice(&ws.ub0[..b * h0], b, h0).unwrap();
        let mut out = out;
        gemm(T::ONE, ub0, Op::N, a0, Op::N, T::ZERO, out.rb_mut());
        if let Some(q) = &self.quad {
            q.hvp_add(&self.params, &ws.qsp, v, &mut ws.qj, out);
        }
    }
}

// The elementwise loops vectorise: the pass is compiled per instruction set (`linalg::simd`, same bits).

simd_dispatch! {
    fn map_param_grad_simd[T: Real][T](net: &Icnn<T>, x: MatRef<'_, T>, v: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, grads: &mut [T]) -> () = map_param_grad_body;
}

#[inline(always)]
fn map_param_grad_body<T: Real>(
    net: &Icnn<T>,
    x: MatRef<'_, T>,
    v: MatRef<'_, T>,
    ws: &mut IcnnWorkspace<T>,
    grads: &mut [T],
) {
    assert_eq!(
        ws.state, 2,
        "ICNN map_param_grad needs forward + backward(seed 1)"
    );
    assert_eq!(grads.len(), net.params.len(), "ICNN gradient buffer length");
    let b = ws.rows;
    assert!(
        x.rows() == b && v.rows() == b,
        "x/V are not the batch of the last forward"
    );
    assert_eq!(v.cols(), net.dim, "V has the wrong dimension");
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    let h0 = net.hidden[0];
    // D1. U̇ = V Aᵀ
    net.input_product(v, &mut ws.ud);
    // D2 + D5 (first half). ż0 = q'(u0) ⊙ u̇0, ū0 = a0 ⊙ u̇0 ⊙ q''(u0)
    for i in 0..b {
        let ur = &ws.u[i * h1..i * h1 + h0];
        let udr = &ws.ud[i * h1..i * h1 + h0];
        let ar = &ws.a0[i * h0..(i + 1) * h0];
        let zdr = &mut ws.zd[i * h..i * h + h0];
        let ubr = &mut ws.ub0[i * h0..(i + 1) * h0];
        for j in 0..h0 {
            zdr[j] = dq(ur[j]) * udr[j];
            ubr[j] = ar[j] * udr[j] * d2q(ur[j]);
        }
    }
    // D3. u̇l += ż_{l−1} Wlᵀ, żl = σ'(ul) ⊙ u̇l (l < L; u̇_L is not needed for the gradient)
    for l in 1..l_n {
        let (o0, wl) = (net.h_off[l], net.hidden[l]);
        net.add_w_input(l, b, &ws.zd, &mut ws.ud);
        for i in 0..b {
            let ur = &ws.u[i * h1 + o0..i * h1 + o0 + wl];
            let udr = &ws.ud[i * h1 + o0..i * h1 + o0 + wl];
            let zdr = &mut ws.zd[i * h + o0..i * h + o0 + wl];
            for ((zv, &uv), &udv) in zdr.iter_mut().zip(ur).zip(udr) {
                *zv = dsigma(uv) * udv;
            }
        }
    }
    let e = MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap();
    // D4. ∂A += Eᵀ V
    gemm(
        T::ONE,
        e,
        Op::T,
        v,
        Op::N,
        T::ONE,
        MatMut::from_slice(&mut grads[..net.off_b], h1, net.dim).unwrap(),
    );
    // D5. ∂A0 += Ū0ᵀ X, ∂b0 += 1ᵀ Ū0
    net.affine_grads(&ws.ub0[..b * h0], h0, x, grads);
    // D4. ∂Wl += E_lᵀ Ż_{l−1}
    let zd = MatRef::new(&ws.zd[..], b, h, h).unwrap();
    net.w_grads(e, zd, grads);
}
