//! Step B of the [`Icnn`]: the backward pass, the input gradient (the map T = ∇g) and the parameter
//! gradient of the value (architecture and notation in the parent module's doc).
//!
//! # Step B (backward with seed w, [`Icnn::backward`]) — ∂(Σ_i w_i g(x_i))/∂(everything)
//! Let `s_i = w_i ρ'(u_{L,i})` (the adjoint of u_L). Then, per sample (row vectors):
//! B1. `a_{L−1} = s W_L`;
//! B2. for l = L−1 down to 1: `el = al ⊙ σ'(ul)`, `a_{l−1} = el Wl`;
//! B3. `e0 = a0 ⊙ q'(u0)`.
//! Collect `E = [e0 | e1 | … | e_{L−1} | s]` (`B × (H+1)`, same column layout as U). Then
//! B4 (input gradient, [`Icnn::input_grad`]): `∇_x Σ w_i g(x_i)` row i `= Σ_l e_l A_l + s A_L`, i.e. `E A`.
//! With w = 1 this is the map `T(x) = ∇g(x)`.
//! B5 (parameter gradient of the value, [`Icnn::value_param_grad`]): `el` is the adjoint of `ul`, so
//! `∂A += Eᵀ X`, `∂b += 1ᵀ E`, `∂Wl += E_lᵀ Z_{l−1}` (l = 1..L, with `E_L = s`).

use super::{with_act, Act, Icnn, IcnnWorkspace};
use crate::linalg::simd::simd_dispatch;
use crate::linalg::{gemm, Mat, MatMut, MatRef, Op, Real};

impl<T: Real> Icnn<T> {
    /// Step B (B1–B3): backward pass of the last forward with per-row seed `w` (`None` = all ones),
    /// filling the adjoints E.
    pub fn backward(&self, ws: &mut IcnnWorkspace<T>, seed: Option<&[T]>) {
        with_act!(self.activation, backward_simd::<T>(self, ws, seed));
        if let Some(q) = &self.quad {
            let b = ws.rows;
            match seed {
                Some(w) => ws.qw[..b].copy_from_slice(w),
                None => ws.qw[..b].fill(T::ONE),
            }
            q.seed_rows(b, &ws.qk, &ws.qw, &mut ws.qkw);
        }
    }

    /// Step B4: `out ← E A` — row i is ∇_x (w_i g(x_i)) for the seed of the last backward.
    pub fn input_grad(&self, ws: &IcnnWorkspace<T>, out: MatMut<'_, T>) {
        assert!(ws.state >= 2, "ICNN input_grad before backward");
        let b = ws.rows;
        let h1 = self.h_total() + 1;
        let e = MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap();
        let mut out = out;
        gemm(T::ONE, e, Op::N, self.a_all(), Op::N, T::ZERO, out.rb_mut());
        if let Some(q) = &self.quad {
            let x = MatRef::from_slice(&ws.qx[..b * self.dim], b, self.dim).unwrap();
            q.input_grad_add(&self.params, &ws.qsp, x, &ws.qkw, &ws.qw, out);
        }
    }

    /// Step B5: `grads += ∂/∂θ Σ_i w_i g(x_i)` for the seed w of the last backward on the same `x`.
    pub fn value_param_grad(&self, x: MatRef<'_, T>, ws: &IcnnWorkspace<T>, grads: &mut [T]) {
        value_param_grad_simd(self, x, ws, grads);
        if let Some(q) = &self.quad {
            q.value_param_grad(&self.params, x, &ws.qkw, &ws.qw, grads);
        }
    }

    /// `∂A += Eᵀ X` and `∂b += 1ᵀ E` over the first `n` stacked rows, with `e` a B × n buffer: all of
    /// A and b with E (step B5), or A0 and b0 with Ū0 (step D5).
    #[inline(always)]
    pub(super) fn affine_grads(&self, e: &[T], n: usize, x: MatRef<'_, T>, grads: &mut [T]) {
        let b = x.rows();
        let (ga, rest) = grads.split_at_mut(self.off_b);
        gemm(
            T::ONE,
            MatRef::from_slice(e, b, n).unwrap(),
            Op::T,
            x,
            Op::N,
            T::ONE,
            MatMut::from_slice(&mut ga[..n * self.dim], n, self.dim).unwrap(),
        );
        let gb = &mut rest[..n];
        for row in e.chunks_exact(n) {
            for (g, &v) in gb.iter_mut().zip(row) {
                *g += v;
            }
        }
    }

    /// `∂Wl += E_lᵀ Y_{l−1}` for l = 1..L, with `y` = Z (value) or Ż (map).
    pub(super) fn w_grads(&self, e: MatRef<'_, T>, y: MatRef<'_, T>, grads: &mut [T]) {
        let b = e.rows();
        for l in 1..=self.hidden.len() {
            let (r, o, i) = self.w_range(l);
            let (o0, i0) = (self.h_off[l], self.h_off[l - 1]);
            gemm(
                T::ONE,
                e.block(0, b, o0, o0 + o),
                Op::T,
                y.block(0, b, i0, i0 + i),
                Op::N,
                T::ONE,
                MatMut::from_slice(&mut grads[r], o, i).unwrap(),
            );
        }
    }

    /// T(x) = ∇g(x) for every row of `x` into `out` (rows × d). Leaves the workspace ready for
    /// [`Icnn::map_param_grad`] on the same `x`.
    pub fn grad_x(&self, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, out: MatMut<'_, T>) {
        self.forward(x, ws);
        self.backward(ws, None);
        self.input_grad(ws, out);
    }

    /// `grads += ∂/∂θ Σ_i w_i g(x_i)`; the values g(x_i) are left in `ws.values()`.
    pub fn param_grad_of_value(
        &self,
        x: MatRef<'_, T>,
        w: &[T],
        ws: &mut IcnnWorkspace<T>,
        grads: &mut [T],
    ) {
        self.forward(x, ws);
        self.backward(ws, Some(w));
        self.value_param_grad(x, ws, grads);
    }

    /// ∇g for every row of a set of any size (in chunks of the workspace capacity). Not a hot path.
    pub fn transport(&self, x: &Mat<T>, ws: &mut IcnnWorkspace<T>) -> Mat<T> {
        assert_eq!(x.cols(), self.dim, "ICNN input has the wrong dimension");
        let mut out = Mat::zeros(x.rows(), self.dim);
        let cap = ws.cap.max(1);
        let mut r0 = 0;
        while r0 < x.rows() {
            let r1 = (r0 + cap).min(x.rows());
            let dst = out.view_mut().rows_range(r0, r1);
            self.grad_x(x.view().rows_range(r0, r1), ws, dst);
            r0 = r1;
        }
        out
    }
}

// The elementwise loops vectorise: each pass is compiled per instruction set (`linalg::simd`, same bits).

simd_dispatch! {
    fn backward_simd[T: Real, A: Act][T, A](net: &Icnn<T>, ws: &mut IcnnWorkspace<T>, seed: Option<&[T]>) -> () = backward_body;
}

#[inline(always)]
fn backward_body<T: Real, A: Act>(net: &Icnn<T>, ws: &mut IcnnWorkspace<T>, seed: Option<&[T]>) {
    assert!(ws.state >= 1, "ICNN backward before forward");
    let b = ws.rows;
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    let hmax = *net.hidden.iter().max().unwrap();
    if let Some(w) = seed {
        assert_eq!(w.len(), b, "ICNN seed length differs from the batch");
    }
    // s_i = w_i ρ'(u_L,i)
    for i in 0..b {
        let w = seed.map_or(T::ONE, |w| w[i]);
        let r = if net.output_activation {
            A::dsigma(ws.u[i * h1 + h])
        } else {
            T::ONE
        };
        ws.e[i * h1 + h] = w * r;
    }
    // B1. a_{L−1} = s W_L (rank one: a loop)
    let wl_last = {
        let (r, _, _) = net.w_range(l_n);
        &net.params[r]
    };
    let top = net.hidden[l_n - 1];
    {
        let dst: &mut [T] = if l_n == 1 { &mut ws.a0 } else { &mut ws.a };
        let rs = if l_n == 1 { net.hidden[0] } else { hmax };
        for i in 0..b {
            let s = ws.e[i * h1 + h];
            for (d, &wv) in dst[i * rs..i * rs + top].iter_mut().zip(wl_last) {
                *d = s * wv;
            }
        }
    }
    // B2. el = al ⊙ σ'(ul), a_{l−1} = el Wl
    for l in (1..l_n).rev() {
        let (o0, wl) = (net.h_off[l], net.hidden[l]);
        for i in 0..b {
            let ar = &ws.a[i * hmax..i * hmax + wl];
            let ur = &ws.u[i * h1 + o0..i * h1 + o0 + wl];
            let er = &mut ws.e[i * h1 + o0..i * h1 + o0 + wl];
            for ((ev, &av), &uv) in er.iter_mut().zip(ar).zip(ur) {
                *ev = av * A::dsigma(uv);
            }
        }
        let el = MatRef::new(&ws.e[..], b, h1, h1)
            .unwrap()
            .block(0, b, o0, o0 + wl);
        let wi = net.hidden[l - 1];
        let dst = if l == 1 {
            MatMut::new(&mut ws.a0[..], b, wi, wi).unwrap()
        } else {
            MatMut::new(&mut ws.a[..], b, wi, hmax).unwrap()
        };
        gemm(T::ONE, el, Op::N, net.w(l), Op::N, T::ZERO, dst);
    }
    // B3. e0 = a0 ⊙ q'(u0)
    let h0 = net.hidden[0];
    for i in 0..b {
        let ar = &ws.a0[i * h0..(i + 1) * h0];
        let ur = &ws.u[i * h1..i * h1 + h0];
        let er = &mut ws.e[i * h1..i * h1 + h0];
        for ((ev, &av), &uv) in er.iter_mut().zip(ar).zip(ur) {
            *ev = av * A::dq(uv);
        }
    }
    ws.state = if seed.is_none() { 2 } else { 3 };
}

simd_dispatch! {
    fn value_param_grad_simd[T: Real][T](net: &Icnn<T>, x: MatRef<'_, T>, ws: &IcnnWorkspace<T>, grads: &mut [T]) -> () = value_param_grad_body;
}

#[inline(always)]
fn value_param_grad_body<T: Real>(
    net: &Icnn<T>,
    x: MatRef<'_, T>,
    ws: &IcnnWorkspace<T>,
    grads: &mut [T],
) {
    assert!(ws.state >= 2, "ICNN value_param_grad before backward");
    assert_eq!(grads.len(), net.params.len(), "ICNN gradient buffer length");
    let b = ws.rows;
    assert_eq!(x.rows(), b, "x is not the batch of the last forward");
    let h = net.h_total();
    let h1 = h + 1;
    let e = MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap();
    // ∂A += Eᵀ X, ∂b += 1ᵀ E
    net.affine_grads(&ws.e[..b * h1], h1, x, grads);
    // ∂Wl += E_lᵀ Z_{l−1}
    let z = MatRef::new(&ws.z[..], b, h, h).unwrap();
    net.w_grads(e, z, grads);
}
