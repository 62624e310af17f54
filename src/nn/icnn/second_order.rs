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
//! # Smooth activations ([`super::Activation::Elu`]): steps D6–D8
//! With σ'' ≠ 0 the primal adjoints above layer 0 no longer vanish. Write `r = σ''/σ'` (σ' > 0), `z̄l`
//! and `ūl` for the adjoints of zl and ul on the primal path. h depends on u_L through ρ'(u_L), on ul
//! (1 ≤ l < L) through σ'(ul) in `żl = σ'(ul) ⊙ u̇l` (the adjoint of żl is al) and through
//! `zl = σ(ul)`, which feeds u_{l+1}:
//! D6. `ū_L = ρ''(u_L) u̇_L = s ⊙ r(u_L) ⊙ u̇_L` (0 without the output activation; D3 runs to l = L);
//! D7. for l = L−1 down to 1: `z̄l = ū_{l+1} W_{l+1}`,
//!     `ūl = z̄l ⊙ σ'(ul) + al ⊙ σ''(ul) ⊙ u̇l = z̄l ⊙ σ'(ul) + el ⊙ r(ul) ⊙ u̇l`;
//! D8. `z̄0 = ū1 W1`, `ū0 = z̄0 ⊙ q'(u0) + a0 ⊙ q''(u0) ⊙ u̇0`;
//! and the primal path's gradients are B5's with `Ū = [ū0 | … | ū_L]` in place of E: `∂A += Ūᵀ X`,
//! `∂b += 1ᵀ Ū`, `∂Wl += ū_lᵀ Z_{l−1}`. For LeakyReLU r = 0 and ρ'' = 0, so `ūl = 0` for l ≥ 1,
//! `z̄0 = 0`, and D8 is D5 — the leaky pass computes D5 alone.
//!
//! # Step J (Hessian–vector product, [`Icnn::jacobian_vector`])
//! Differentiating B1–B4 along v: ṡ = 0, `ėl = ȧl ⊙ σ'(ul) = 0` for l ≥ 1 (ȧ_{L−1} = 0), and
//! `ė0 = a0 ⊙ q''(u0) ⊙ u̇0 = ū0`. So `∇²g(x) v = ū0 A0` — the Hessian is `A0ᵀ diag(a0 ⊙ q''(u0)) A0`,
//! positive semi-definite when every W ≥ 0 (then a0 ≥ 0): the map ∇g is monotone.
//! With a smooth activation, differentiating B1–B4 along v gives `ṡ = ρ''(u_L) u̇_L`,
//! `ȧ_{l−1} = ėl Wl`, `ėl = ȧl ⊙ σ'(ul) + al ⊙ σ''(ul) ⊙ u̇l` and `ė0 = ȧ0 ⊙ q'(u0) + a0 ⊙ q''(u0) ⊙ u̇0`:
//! D6–D8 term by term (`Ė = Ū`, the Hessian is symmetric), so `∇²g(x) v = Ū A` after the tangent
//! pass D1–D3.

use super::{with_act, Act, Icnn, IcnnWorkspace};
use crate::linalg::simd::simd_dispatch;
use crate::linalg::{gemm, MatMut, MatRef, Op, Real};

impl<T: Real> Icnn<T> {
    /// Steps D1–D5 (D1–D8 for a smooth activation): `grads += ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩`. Needs
    /// `forward(x)` and `backward(None)` on the same `x` first (as left by [`Icnn::grad_x`]).
    pub fn map_param_grad(
        &self,
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        ws: &mut IcnnWorkspace<T>,
        grads: &mut [T],
    ) {
        with_act!(
            self.activation,
            map_param_grad_simd::<T>(self, x, v, ws, grads)
        );
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
        let mut out = out;
        with_act!(
            self.activation,
            jacobian_vector_simd::<T>(self, v, ws, out.rb_mut())
        );
        if let Some(q) = &self.quad {
            q.hvp_add(&self.params, &ws.qsp, v, &mut ws.qj, out);
        }
    }
}

// The elementwise loops vectorise: the pass is compiled per instruction set (`linalg::simd`, same bits).

simd_dispatch! {
    fn map_param_grad_simd[T: Real, A: Act][T, A](net: &Icnn<T>, x: MatRef<'_, T>, v: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, grads: &mut [T]) -> () = map_param_grad_body;
}

simd_dispatch! {
    fn jacobian_vector_simd[T: Real, A: Act][T, A](net: &Icnn<T>, v: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, out: MatMut<'_, T>) -> () = jacobian_vector_body;
}

#[inline(always)]
fn map_param_grad_body<T: Real, A: Act>(
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
    let h = net.h_total();
    let h1 = h + 1;
    let h0 = net.hidden[0];
    tangent::<T, A>(net, v, ws);
    // D4. ∂A += Eᵀ V
    gemm(
        T::ONE,
        MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap(),
        Op::T,
        v,
        Op::N,
        T::ONE,
        MatMut::from_slice(&mut grads[..net.off_b], h1, net.dim).unwrap(),
    );
    if A::SMOOTH {
        // D6–D8, then ∂A += Ūᵀ X, ∂b += 1ᵀ Ū, ∂Wl += ū_lᵀ Z_{l−1}
        second_adjoint::<T, A>(net, ws);
        net.affine_grads(&ws.ub[..b * h1], h1, x, grads);
        let ub = MatRef::from_slice(&ws.ub[..b * h1], b, h1).unwrap();
        net.w_grads(ub, MatRef::new(&ws.z[..], b, h, h).unwrap(), grads);
    } else {
        // D5. ∂A0 += Ū0ᵀ X, ∂b0 += 1ᵀ Ū0
        net.affine_grads(&ws.ub0[..b * h0], h0, x, grads);
    }
    // D4. ∂Wl += E_lᵀ Ż_{l−1}
    let e = MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap();
    let zd = MatRef::new(&ws.zd[..], b, h, h).unwrap();
    net.w_grads(e, zd, grads);
}

/// Steps D1–D3 on the batch of the last forward and backward: the tangents U̇ (through u̇_L for a smooth
/// activation: D6 needs it) and Ż; without σ'' also D5's `Ū0 = a0 ⊙ u̇0 ⊙ q''(u0)`.
#[inline(always)]
fn tangent<T: Real, A: Act>(net: &Icnn<T>, v: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>) {
    let b = ws.rows;
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    let h0 = net.hidden[0];
    // D1. U̇ = V Aᵀ
    net.input_product(v, &mut ws.ud);
    // D2 (+ D5's first half). ż0 = q'(u0) ⊙ u̇0, ū0 = a0 ⊙ u̇0 ⊙ q''(u0)
    for i in 0..b {
        let ur = &ws.u[i * h1..i * h1 + h0];
        let udr = &ws.ud[i * h1..i * h1 + h0];
        let ar = &ws.a0[i * h0..(i + 1) * h0];
        let zdr = &mut ws.zd[i * h..i * h + h0];
        let ubr = &mut ws.ub0[i * h0..(i + 1) * h0];
        for j in 0..h0 {
            zdr[j] = A::dq(ur[j]) * udr[j];
            if !A::SMOOTH {
                ubr[j] = ar[j] * udr[j] * A::d2q(ur[j]);
            }
        }
    }
    // D3. u̇l += ż_{l−1} Wlᵀ, żl = σ'(ul) ⊙ u̇l (l < L; u̇_L only for σ'' ≠ 0)
    for l in 1..l_n {
        let (o0, wl) = (net.h_off[l], net.hidden[l]);
        net.add_w_input(l, b, &ws.zd, &mut ws.ud);
        for i in 0..b {
            let ur = &ws.u[i * h1 + o0..i * h1 + o0 + wl];
            let udr = &ws.ud[i * h1 + o0..i * h1 + o0 + wl];
            let zdr = &mut ws.zd[i * h + o0..i * h + o0 + wl];
            for ((zv, &uv), &udv) in zdr.iter_mut().zip(ur).zip(udr) {
                *zv = A::dsigma(uv) * udv;
            }
        }
    }
    if A::SMOOTH {
        net.add_w_input(l_n, b, &ws.zd, &mut ws.ud);
    }
}

/// Steps D6–D8: the second adjoint Ū (B × (H+1), into `ws.ub`) from the tangents of [`tangent`] and the
/// backward quantities (z̄l in the scratch `ws.a`).
#[inline(always)]
fn second_adjoint<T: Real, A: Act>(net: &Icnn<T>, ws: &mut IcnnWorkspace<T>) {
    let b = ws.rows;
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    let hmax = *net.hidden.iter().max().unwrap();
    // D6. ū_L = s ⊙ r(u_L) ⊙ u̇_L
    for i in 0..b {
        let k = i * h1 + h;
        ws.ub[k] = if net.output_activation {
            ws.e[k] * A::ratio(ws.u[k]) * ws.ud[k]
        } else {
            T::ZERO
        };
    }
    // z̄_{L−1} = ū_L W_L (rank one: a loop)
    let (r, _, _) = net.w_range(l_n);
    let w_last = &net.params[r];
    for i in 0..b {
        let ul = ws.ub[i * h1 + h];
        for (d, &wv) in ws.a[i * hmax..i * hmax + w_last.len()]
            .iter_mut()
            .zip(w_last)
        {
            *d = ul * wv;
        }
    }
    // D7. ūl = z̄l ⊙ σ'(ul) + el ⊙ r(ul) ⊙ u̇l, z̄_{l−1} = ūl Wl (down to l = 1)
    for l in (1..l_n).rev() {
        let (o0, wl) = (net.h_off[l], net.hidden[l]);
        for i in 0..b {
            let k = i * h1 + o0;
            let zb = &ws.a[i * hmax..i * hmax + wl];
            let (ur, udr, er) = (&ws.u[k..k + wl], &ws.ud[k..k + wl], &ws.e[k..k + wl]);
            let ubr = &mut ws.ub[k..k + wl];
            for j in 0..wl {
                ubr[j] = zb[j] * A::dsigma(ur[j]) + er[j] * A::ratio(ur[j]) * udr[j];
            }
        }
        let ubl = MatRef::new(&ws.ub[..], b, h1, h1)
            .unwrap()
            .block(0, b, o0, o0 + wl);
        let wi = net.hidden[l - 1];
        let dst = MatMut::new(&mut ws.a[..], b, wi, hmax).unwrap();
        gemm(T::ONE, ubl, Op::N, net.w(l), Op::N, T::ZERO, dst);
    }
    // D8. ū0 = z̄0 ⊙ q'(u0) + a0 ⊙ q''(u0) ⊙ u̇0
    let h0 = net.hidden[0];
    for i in 0..b {
        let k = i * h1;
        let zb = &ws.a[i * hmax..i * hmax + h0];
        let ar = &ws.a0[i * h0..(i + 1) * h0];
        let (ur, udr) = (&ws.u[k..k + h0], &ws.ud[k..k + h0]);
        let ubr = &mut ws.ub[k..k + h0];
        for j in 0..h0 {
            ubr[j] = zb[j] * A::dq(ur[j]) + ar[j] * A::d2q(ur[j]) * udr[j];
        }
    }
}

/// Step J on the batch of the last forward and backward (seed 1): `out ← ∇²g V` without the quadratic
/// path.
#[inline(always)]
fn jacobian_vector_body<T: Real, A: Act>(
    net: &Icnn<T>,
    v: MatRef<'_, T>,
    ws: &mut IcnnWorkspace<T>,
    out: MatMut<'_, T>,
) {
    let b = ws.rows;
    let h1 = net.h_total() + 1;
    let mut out = out;
    if A::SMOOTH {
        // ∇²g V = Ū A after D1–D3 and D6–D8
        tangent::<T, A>(net, v, ws);
        second_adjoint::<T, A>(net, ws);
        let ub = MatRef::from_slice(&ws.ub[..b * h1], b, h1).unwrap();
        gemm(T::ONE, ub, Op::N, net.a_all(), Op::N, T::ZERO, out.rb_mut());
        return;
    }
    let h0 = net.hidden[0];
    let a0 = net.a_all().rows_range(0, h0);
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
            ubr[j] *= ar[j] * A::d2q(ur[j]);
        }
    }
    let ub0 = MatRef::from_slice(&ws.ub0[..b * h0], b, h0).unwrap();
    gemm(T::ONE, ub0, Op::N, a0, Op::N, T::ZERO, out.rb_mut());
}
