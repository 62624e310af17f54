//! The convexity constraint of the [`Icnn`] (g is convex in x when every W_l ≥ 0, l = 1..L).
//!
//! # Convexity constraint
//! [`Icnn::clamp_nonneg`]: `Wl ← max(Wl, 0)` (l = 1..L). [`Icnn::w_penalty`]: `P = Σ_l ‖relu(−Wl)‖_F`
//! (not squared, as \[B23\]); `∂P/∂Wl = −relu(−Wl)/‖relu(−Wl)‖_F` where the norm is positive, 0 otherwise.
//! The quadratic path is convex for every parameter value and is not touched.

use super::Icnn;
use crate::linalg::Real;

impl<T: Real> Icnn<T> {
    /// `Wl ← max(Wl, 0)` for l = 1..L (f's convexity constraint in \[B23\]).
    pub fn clamp_nonneg(&mut self) {
        let r = self.w_all_range();
        for w in &mut self.params[r] {
            if *w < T::ZERO {
                *w = T::ZERO;
            }
        }
    }

    /// Whether every Wl ≥ 0 (g is then convex in x).
    pub fn is_convex(&self) -> bool {
        self.params[self.w_all_range()]
            .iter()
            .all(|&w| w >= T::ZERO)
    }

    /// `P = Σ_l ‖relu(−Wl)‖_F`; adds `alpha · ∂P/∂θ` to `grads` (when `grads` is given) and returns P.
    pub fn w_penalty(&self, alpha: T, grads: Option<&mut [T]>) -> T {
        let mut grads = grads;
        let mut total = T::ZERO;
        for l in 1..=self.hidden.len() {
            let (r, _, _) = self.w_range(l);
            let w = &self.params[r.clone()];
            let n2 = w
                .iter()
                .fold(T::ZERO, |s, &v| if v < T::ZERO { s + v * v } else { s });
            if n2 > T::ZERO {
                let n = n2.sqrt();
                total += n;
                if let Some(g) = grads.as_deref_mut() {
                    // ∂‖relu(−W)‖_F/∂W = −relu(−W)/‖relu(−W)‖_F = W/n where W < 0
                    let c = alpha / n;
                    for (gv, &wv) in g[r].iter_mut().zip(w) {
                        if wv < T::ZERO {
                            *gv += c * wv;
                        }
                    }
                }
            }
        }
        total
    }
}
