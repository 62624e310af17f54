//! Step F of the [`Icnn`]: the forward pass (architecture and notation in the parent module's doc).
//!
//! # Step F (forward, [`Icnn::forward`])
//! F1. `U ← X Aᵀ + 1 bᵀ` (all layers' input terms in one gemm); F2. `z0 = q(u0)`;
//! F3. for l = 1..L: `ul += z_{l−1} Wlᵀ`, `zl = σ(ul)` (l < L); F4. `g = ρ(u_L)`.
//!
//! F caches U and Z in the workspace: every other pass starts from them.

use super::{with_act, Act, Icnn, IcnnWorkspace};
use crate::linalg::simd::simd_dispatch;
use crate::linalg::{gemm, MatMut, MatRef, Op, Real};

impl<T: Real> Icnn<T> {
    /// Step F: forward pass over the rows of `x` (≤ capacity), caching what the other passes need.
    pub fn forward(&self, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>) {
        with_act!(self.activation, forward_simd::<T>(self, x, ws));
        if let Some(q) = &self.quad {
            let (b, d) = (x.rows(), self.dim);
            for i in 0..b {
                ws.qx[i * d..(i + 1) * d].copy_from_slice(x.row(i));
            }
            q.forward(&self.params, x, &mut ws.qsp, &mut ws.qk, &mut ws.val);
        }
    }

    /// g(x_i) for every row of `x` into `out` (length = rows).
    pub fn value(&self, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, out: &mut [T]) {
        self.forward(x, ws);
        out.copy_from_slice(ws.values());
    }
}

// The elementwise loops of the passes vectorise: each pass is compiled for AVX-512F, AVX2 and the
// baseline, and the widest the CPU has runs (`linalg::simd`; same operations, same bits).

simd_dispatch! {
    fn forward_simd[T: Real, A: Act][T, A](net: &Icnn<T>, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>) -> () = forward_body;
}

#[inline(always)]
fn forward_body<T: Real, A: Act>(net: &Icnn<T>, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>) {
    let b = x.rows();
    assert!(
        b <= ws.cap,
        "ICNN batch {b} exceeds workspace capacity {}",
        ws.cap
    );
    assert_eq!(x.cols(), net.dim, "ICNN input has the wrong dimension");
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    ws.rows = b;
    ws.state = 1;
    // F1. U ← X Aᵀ + 1 bᵀ
    net.input_product(x, &mut ws.u);
    let bias = net.b_all();
    for row in ws.u[..b * h1].chunks_exact_mut(h1) {
        for (v, &bi) in row.iter_mut().zip(bias) {
            *v += bi;
        }
    }
    // F2. z0 = q(u0)
    let h0 = net.hidden[0];
    for i in 0..b {
        let (ur, zr) = (&ws.u[i * h1..i * h1 + h0], &mut ws.z[i * h..i * h + h0]);
        for (zv, &uv) in zr.iter_mut().zip(ur) {
            *zv = A::q(uv);
        }
    }
    // F3. ul += z_{l−1} Wlᵀ, zl = σ(ul)
    for l in 1..=l_n {
        let (o0, wl) = (net.h_off[l], net.width(l));
        net.add_w_input(l, b, &ws.z, &mut ws.u);
        if l < l_n {
            for i in 0..b {
                let ur = &ws.u[i * h1 + o0..i * h1 + o0 + wl];
                let zr = &mut ws.z[i * h + o0..i * h + o0 + wl];
                for (zv, &uv) in zr.iter_mut().zip(ur) {
                    *zv = A::sigma(uv);
                }
            }
        }
    }
    // F4. g = ρ(u_L)
    for i in 0..b {
        let ul = ws.u[i * h1 + h];
        ws.val[i] = if net.output_activation {
            A::sigma(ul)
        } else {
            ul
        };
    }
}

impl<T: Real> Icnn<T> {
    /// Step F1's product `U ← Y Aᵀ` (B × (H+1), into the front of `u`) for a batch Y: the inputs X,
    /// or the tangents V of step D1.
    #[inline(always)]
    pub(super) fn input_product(&self, y: MatRef<'_, T>, u: &mut [T]) {
        let (b, h1) = (y.rows(), self.h_total() + 1);
        let um = MatMut::from_slice(&mut u[..b * h1], b, h1).unwrap();
        gemm(T::ONE, y, Op::N, self.a_all(), Op::T, T::ZERO, um);
    }

    /// Step F3's product `u_l += z_{l−1} W_lᵀ` on the stacked buffers (`z`: B × H, `u`: B × (H+1)),
    /// also the tangent pass's `u̇_l += ż_{l−1} W_lᵀ` (step D3).
    #[inline(always)]
    pub(super) fn add_w_input(&self, l: usize, b: usize, z: &[T], u: &mut [T]) {
        let h = self.h_total();
        let (o0, wl) = (self.h_off[l], self.width(l));
        let (i0, wi) = (self.h_off[l - 1], self.hidden[l - 1]);
        let zin = MatRef::new(z, b, h, h).unwrap().block(0, b, i0, i0 + wi);
        let uout = MatMut::new(u, b, h + 1, h + 1)
            .unwrap()
            .block(0, b, o0, o0 + wl);
        gemm(T::ONE, zin, Op::N, self.w(l), Op::T, T::ONE, uout);
    }
}
