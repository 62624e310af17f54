//! Seeded randomness: one user seed, one independent stream per component.
//!
//! # Splitting
//! Stream `id` of seed `s` is `Xoshiro256PlusPlus::seed_from_u64(s)` advanced by `id + 1` calls of
//! `long_jump()`. Each long jump advances the generator by 2¹⁹² steps, so the streams are non-overlapping
//! segments of one period-2²⁵⁶ sequence: drawing more from one component never shifts another's draws.
//! The ids of the components are the constants in [`streams`].
//!
//! # Draws
//! The conversions from raw 64-bit words are written here (not borrowed from `rand`'s distributions) so
//! that a given seed yields the same numbers whatever the `rand` version:
//! - uniform `[0, 1)`: the top 53 bits, `(w >> 11)·2⁻⁵³` (then rounded to the target type);
//! - integer below n: Lemire's multiply-shift with rejection (unbiased);
//! - standard normal: Box–Muller on two uniforms, `√(−2 ln(1 − u₁))·cos(2π u₂)`, the sine partner cached.

use crate::linalg::Real;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Stream ids of the components that draw randomness (see the module doc).
pub mod streams {
    /// Initial parameters of the first network of a solver (f in W2, the potential in W1).
    pub const INIT_A: u64 = 0;
    /// Initial parameters of the second network (g in W2, the step size η in W1).
    pub const INIT_B: u64 = 1;
    /// Initial parameters of a third network (the discriminator in W1).
    pub const INIT_C: u64 = 2;
    /// Mini-batch indices from the source set.
    pub const BATCH_SOURCE: u64 = 3;
    /// Mini-batch indices from the target set.
    pub const BATCH_TARGET: u64 = 4;
    /// Train / held-out split.
    pub const SPLIT: u64 = 5;
    /// Proposals and acceptance draws of the λ annealers.
    pub const ANNEAL: u64 = 6;
    /// Random projections of sliced metrics.
    pub const PROJECTIONS: u64 = 7;
    /// Data generators (toys, synthetic scRNA, known maps).
    pub const DATA: u64 = 8;
    /// Data generators, second independent sample (e.g. the target side).
    pub const DATA_2: u64 = 9;
    /// Data generators, third independent sample (e.g. a held-out test source).
    pub const DATA_3: u64 = 10;
    /// Data generators, fourth independent sample (e.g. a held-out test target).
    pub const DATA_4: u64 = 11;
    /// Data generators, fifth independent sample (e.g. a second target sample for a noise floor).
    pub const DATA_5: u64 = 12;
    /// Data generators, sixth independent sample (e.g. a held-out source for model selection).
    pub const DATA_6: u64 = 13;
    /// Data generators, seventh independent sample (e.g. a held-out target for model selection).
    pub const DATA_7: u64 = 14;
    /// Anything a later component needs; add new ids above this one.
    pub const SPARE: u64 = 15;
}

/// One random stream (see the module doc for how it is split off the user seed).
#[derive(Clone, Debug)]
pub struct Stream {
    rng: Xoshiro256PlusPlus,
    spare_normal: Option<f64>,
    /// (seed, id) it was split from and the raw words drawn since: its position, for checkpoints.
    seed: u64,
    id: u64,
    draws: u64,
}

impl Stream {
    /// Stream `id` of user seed `seed`.
    pub fn new(seed: u64, id: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for _ in 0..=id {
            rng.long_jump();
        }
        Stream {
            rng,
            spare_normal: None,
            seed,
            id,
            draws: 0,
        }
    }

    /// Where the stream stands: (seed, stream id, raw words drawn, the cached normal partner).
    pub fn position(&self) -> (u64, u64, u64, Option<f64>) {
        (self.seed, self.id, self.draws, self.spare_normal)
    }

    /// The stream at a [`Stream::position`]: split again and advanced by `draws` words (a replay,
    /// about a nanosecond per word), so it continues with exactly the words it would have drawn.
    pub fn at(seed: u64, id: u64, draws: u64, spare_normal: Option<f64>) -> Self {
        let mut s = Stream::new(seed, id);
        for _ in 0..draws {
            s.rng.next_u64();
        }
        s.draws = draws;
        s.spare_normal = spare_normal;
        s
    }

    /// A raw 64-bit word.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.draws += 1;
        self.rng.next_u64()
    }

    /// Uniform on `[0, 1)` in f64 (53 random bits).
    #[inline]
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on `[0, 1)`, rounded to `T` (for f32 a value can round up to 1.0 with probability 2⁻²⁵,
    /// so it is clamped below 1).
    #[inline]
    pub fn uniform<T: Real>(&mut self) -> T {
        let u = T::from_f64(self.uniform_f64());
        if u >= T::ONE {
            T::ONE - T::EPSILON
        } else {
            u
        }
    }

    /// Uniform on `[lo, hi)`.
    #[inline]
    pub fn uniform_range<T: Real>(&mut self, lo: T, hi: T) -> T {
        T::from_f64(lo.to_f64() + (hi.to_f64() - lo.to_f64()) * self.uniform_f64())
    }

    /// Standard normal N(0, 1) in f64 (Box–Muller, pairs cached).
    pub fn normal_f64(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (1.0 - u1).ln()).sqrt();
        let th = 2.0 * core::f64::consts::PI * u2;
        self.spare_normal = Some(r * th.sin());
        r * th.cos()
    }

    /// Standard normal rounded to `T`.
    #[inline]
    pub fn normal<T: Real>(&mut self) -> T {
        T::from_f64(self.normal_f64())
    }

    /// Uniform integer in `0..n` (Lemire's method, unbiased). Panics if `n == 0`.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        let n = n as u64;
        let mut m = (self.next_u64() as u128) * (n as u128);
        let mut lo = m as u64;
        if lo < n {
            let t = n.wrapping_neg() % n;
            while lo < t {
                m = (self.next_u64() as u128) * (n as u128);
                lo = m as u64;
            }
        }
        (m >> 64) as usize
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform_f64() < p
    }

    /// Fills `out` with uniforms on `[lo, hi)`.
    pub fn fill_uniform<T: Real>(&mut self, out: &mut [T], lo: T, hi: T) {
        for v in out {
            *v = self.uniform_range(lo, hi);
        }
    }

    /// Fills `out` with N(mean, std²) draws.
    pub fn fill_normal<T: Real>(&mut self, out: &mut [T], mean: T, std: T) {
        for v in out {
            *v = mean + std * self.normal::<T>();
        }
    }

    /// Uniformly random permutation of `v` in place (Fisher–Yates).
    pub fn shuffle<U>(&mut self, v: &mut [U]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }

    /// `out[r]` ← independent uniform indices in `0..n` (mini-batch with replacement).
    pub fn batch_with_replacement(&mut self, n: usize, out: &mut [usize]) {
        for o in out {
            *o = self.below(n);
        }
    }
}

/// Mini-batches without replacement: a partial Fisher–Yates shuffle over a permutation buffer sized once.
///
/// Each call swaps `out.len()` uniformly chosen positions to the front of the buffer and copies them out,
/// so the batch is a uniform sample of distinct indices whatever the buffer's current order. Allocation
/// happens only in [`BatchSampler::new`].
#[derive(Clone, Debug)]
pub struct BatchSampler {
    perm: Vec<usize>,
}

impl BatchSampler {
    /// A sampler over `0..n`.
    pub fn new(n: usize) -> Self {
        BatchSampler {
            perm: (0..n).collect(),
        }
    }

    /// The current order of the index set (its whole state, for checkpoints).
    pub fn order(&self) -> &[usize] {
        &self.perm
    }

    /// A sampler with the order `perm` (from [`BatchSampler::order`]); None unless it is a permutation
    /// of 0..len.
    pub fn with_order(perm: Vec<usize>) -> Option<Self> {
        let mut seen = vec![false; perm.len()];
        for &i in &perm {
            if i >= perm.len() || std::mem::replace(&mut seen[i], true) {
                return None;
            }
        }
        Some(BatchSampler { perm })
    }

    /// Size of the index set.
    pub fn len(&self) -> usize {
        self.perm.len()
    }

    /// Whether the index set is empty.
    pub fn is_empty(&self) -> bool {
        self.perm.is_empty()
    }

    /// Writes `out.len()` distinct uniform indices. Panics if `out.len() > n` (callers check batch ≤ n
    /// when they validate options).
    pub fn sample(&mut self, rng: &mut Stream, out: &mut [usize]) {
        let n = self.perm.len();
        assert!(out.len() <= n, "batch larger than the data");
        for (i, o) in out.iter_mut().enumerate() {
            let j = i + rng.below(n - i);
            self.perm.swap(i, j);
            *o = self.perm[i];
        }
    }
}
