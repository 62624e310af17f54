//! Per-batch scratch of an [`Icnn`]: every buffer the passes F, B, D and J write, sized once for a
//! largest batch (no allocation per call). Shapes, with `H = Σ h_l`: U, E, U̇ are `B × (H+1)` (the
//! column layout of the stacked A; so is the second adjoint Ū of a smooth activation), Z and Ż are `B × H`, a0 and Ū0 are `B × h0`, the scratch a_l is
//! `B × max h`; the quadratic path adds X (`B × d`), K, K̃, V L (`B × r`), the seed w and softplus(s).

use super::Icnn;
use crate::linalg::Real;

/// Per-batch scratch of an [`Icnn`] (sized once for at most `capacity` rows; no allocation per call).
#[derive(Clone, Debug)]
pub struct IcnnWorkspace<T> {
    pub(super) cap: usize,
    pub(super) rows: usize,
    /// Pre-activations U, `cap × (H+1)`.
    pub(super) u: Vec<T>,
    /// Activations z_0 … z_{L−1}, `cap × H`.
    pub(super) z: Vec<T>,
    /// Network values g(x_i).
    pub(super) val: Vec<T>,
    /// Backward adjoints E, `cap × (H+1)`.
    pub(super) e: Vec<T>,
    /// a0 (adjoint of z0), `cap × h0`.
    pub(super) a0: Vec<T>,
    /// Scratch for a_l, `cap × max h`.
    pub(super) a: Vec<T>,
    /// Tangent pre-activations U̇, `cap × (H+1)`.
    pub(super) ud: Vec<T>,
    /// Tangent activations Ż, `cap × H`.
    pub(super) zd: Vec<T>,
    /// Ū0, `cap × h0`.
    pub(super) ub0: Vec<T>,
    /// The second adjoint Ū of a smooth activation (steps D6–D8), `cap × (H+1)`; empty otherwise.
    pub(super) ub: Vec<T>,
    /// Quadratic path: the batch X (cap × d; step Q-B needs it), K = X L and K̃ = diag(w) K (cap × r),
    /// scratch for V L (cap × r), the seed w (cap). Empty without the path.
    pub(super) qx: Vec<T>,
    pub(super) qk: Vec<T>,
    pub(super) qkw: Vec<T>,
    pub(super) qj: Vec<T>,
    pub(super) qw: Vec<T>,
    /// softplus(s) of the last forward (d).
    pub(super) qsp: Vec<T>,
    /// 0 = nothing, 1 = forward done, 2 = backward done (seed 1), 3 = backward done (other seed).
    pub(super) state: u8,
}

impl<T: Real> IcnnWorkspace<T> {
    /// Largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// g(x_i) of the last forward pass.
    pub fn values(&self) -> &[T] {
        &self.val[..self.rows]
    }
}

impl<T: Real> Icnn<T> {
    /// A workspace for batches of at most `capacity` rows.
    pub fn workspace(&self, capacity: usize) -> IcnnWorkspace<T> {
        let h1 = self.h_total() + 1;
        let h = self.h_total();
        let h0 = self.hidden[0];
        let hmax = *self.hidden.iter().max().unwrap();
        let z = |n: usize| vec![T::ZERO; capacity * n];
        let (qd, qr) = self.quad.map_or((0, 0), |q| (q.dim, q.rank));
        let qn = usize::from(self.quad.is_some());
        IcnnWorkspace {
            cap: capacity,
            rows: 0,
            u: z(h1),
            z: z(h),
            val: vec![T::ZERO; capacity],
            e: z(h1),
            a0: z(h0),
            a: z(hmax),
            ud: z(h1),
            zd: z(h),
            ub0: z(h0),
            ub: z(if self.smooth() { h1 } else { 0 }),
            qx: z(qd),
            qk: z(qr),
            qkw: z(qr),
            qj: z(qr),
            qw: z(qn),
            qsp: vec![T::ZERO; qd],
            state: 0,
        }
    }
}
