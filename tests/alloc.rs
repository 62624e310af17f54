//! Allocation audit of the training loops (SPEC §0, §8: workspaces are sized once).
//!
//! A counting global allocator wraps `System`. The test is this binary's `main` (`harness = false` in
//! Cargo.toml), so no thread but monge's runs beside the count: libtest's main thread prints "has been
//! running for over 60 seconds" on a loaded machine, and that notice allocates (a run at load 12 counted 4
//! allocations in one 5-step window, which passed on rerun). It builds small f32 problems, takes warm-up
//! steps (the pool's helper threads exist from the trainer's construction on, and each thread's gemm
//! packing buffer is allocated by its first product), then counts the heap allocations (alloc,
//! alloc_zeroed, realloc — on every thread, the pool's helpers included) of
//! further steps. They must be zero.
//!
//! On a CPU without AVX-512F or AVX2 + FMA, `linalg::gemm` falls back to `matrixmultiply` (0.3.11), which
//! allocates its packing buffer (`Alloc::new(nelem, K::ALIGNMENT)`, freed on return) on every call and
//! offers no way to pass one in. There the test calibrates on one gemm call that it makes exactly one
//! allocation, with an alignment above any of monge's own types, counts allocations with that alignment
//! apart, and requires every other count to be zero: monge's own code still allocates nothing per step.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

/// Every allocation (alloc, alloc_zeroed, realloc).
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Those whose alignment is `PACK_ALIGN` (matrixmultiply's packing buffers, once calibrated).
static PACKING: AtomicUsize = AtomicUsize::new(0);
/// Alignment of matrixmultiply's packing buffer (0 until calibrated).
static PACK_ALIGN: AtomicUsize = AtomicUsize::new(0);
/// Alignment of the last allocation (for the calibration).
static LAST_ALIGN: AtomicUsize = AtomicUsize::new(0);

fn count(l: Layout) {
    ALLOCS.fetch_add(1, Relaxed);
    LAST_ALIGN.store(l.align(), Relaxed);
    if l.align() == PACK_ALIGN.load(Relaxed) {
        PACKING.fetch_add(1, Relaxed);
    }
}

// safety: every call is forwarded unchanged to `System`; the counters are lock-free atomics, so the
// allocator itself allocates nothing and never re-enters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l);
        // safety: the caller's contract, passed on unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count(l);
        // safety: the caller's contract, passed on unchanged.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        count(l);
        // safety: the caller's contract, passed on unchanged.
        unsafe { System.realloc(p, l, new) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // safety: the caller's contract, passed on unchanged.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

use monge::linalg::kernel::has_own_kernel;
use monge::linalg::{gemm, Mat, Op};
use monge::nn::icnn::Activation;
use monge::nn::lipschitz::LipschitzConfig;
use monge::nn::mlp::MlpConfig;
use monge::ot::conjugate::{Amortization, ConjugateConfig, ConjugateSolver};
use monge::ot::penalty::Penalty;
use monge::ot::w1::{W1Config, W1Trainer};
use monge::ot::w2::{W2Config, W2Trainer};
use monge::random::Stream;

/// Allocations made while running `f`: (all but matrixmultiply's packing buffers, those buffers).
fn allocations(f: impl FnOnce()) -> (usize, usize) {
    let (a0, p0) = (ALLOCS.load(Relaxed), PACKING.load(Relaxed));
    f();
    let (all, pack) = (ALLOCS.load(Relaxed) - a0, PACKING.load(Relaxed) - p0);
    (all - pack, pack)
}

/// Finds whether and how a gemm call allocates: monge's own kernels (this CPU has them) must not, after
/// the thread's first call; `matrixmultiply` (the fallback) must make exactly one allocation, aligned above
/// anything monge allocates (its buffers are `Vec`s of f32/f64/usize/u32, strings and boxes: ≤ 8).
fn calibrate() {
    let a = Mat::<f32>::from_fn(64, 16, |i, j| (i + j) as f32);
    let b = Mat::<f32>::from_fn(16, 16, |i, j| (i * j) as f32);
    let mut c = Mat::<f32>::zeros(64, 16);
    // The thread's first product may size its packing buffer.
    gemm(1.0, a.view(), Op::N, b.view(), Op::N, 0.0, c.view_mut());
    let a0 = ALLOCS.load(Relaxed);
    gemm(1.0, a.view(), Op::N, b.view(), Op::T, 0.0, c.view_mut());
    let n = ALLOCS.load(Relaxed) - a0;
    if has_own_kernel() {
        assert_eq!(n, 0, "monge's gemm allocated after its first call");
        return;
    }
    let align = LAST_ALIGN.load(Relaxed);
    assert_eq!(
        n, 1,
        "one matrixmultiply call should allocate exactly one packing buffer"
    );
    assert!(
        align > 8,
        "the packing buffer's alignment ({align}) does not tell it apart from monge's own allocations"
    );
    PACK_ALIGN.store(align, Relaxed);
    let (own, pack) = allocations(|| {
        gemm(1.0, a.view(), Op::N, b.view(), Op::T, 0.0, c.view_mut());
    });
    assert_eq!((own, pack), (0, 1), "calibration");
}

const WARM: usize = 3;
const STEPS: usize = 5;

/// `WARM` unmeasured calls of `step`, then the allocations of `STEPS` more.
fn steady_allocations<R>(mut step: impl FnMut() -> monge::Result<R>) -> (usize, usize) {
    for _ in 0..WARM {
        step().unwrap();
    }
    allocations(|| {
        for _ in 0..STEPS {
            step().unwrap();
        }
    })
}

fn data(n: usize, d: usize, seed: u64, shift: f32) -> Mat<f32> {
    let mut rng = Stream::new(seed, 0);
    Mat::from_fn(n, d, |_, _| rng.normal::<f32>() + shift)
}

fn main() {
    calibrate();
    const D: usize = 5;
    let x = data(600, D, 1, 0.0);
    let y = data(600, D, 2, 1.0);
    let mut report = Vec::new();
    for threads in [1usize, 2] {
        for (pname, penalty, lambda) in [
            ("none", Penalty::None, 0.0),
            ("smoothed-l0", Penalty::SmoothedL0 { sigma: 1.0 }, 0.1),
        ] {
            let cfg = W2Config {
                hidden: vec![16, 16],
                batch: 64,
                penalty,
                lambda,
                eval_every: 0,
                threads,
                ..W2Config::default()
            };
            let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
            let n = steady_allocations(|| tr.step());
            report.push((format!("W2Trainer::step {pname} threads {threads}"), n));
        }
        // issue 13: quadratic-ICNN potentials at the Gaussian start, with each conjugate solver and
        // regression amortisation
        // (and ELU networks: the second adjoint of every layer in steps D and J)
        let (leaky, elu) = (Activation::LeakyRelu, Activation::Elu);
        for (cname, solver, amortization, activation) in [
            (
                "quadratic",
                ConjugateSolver::None,
                Amortization::Objective,
                leaky,
            ),
            (
                "quadratic+lbfgs",
                ConjugateSolver::Lbfgs,
                Amortization::Objective,
                leaky,
            ),
            (
                "quadratic+adam+regression",
                ConjugateSolver::Adam,
                Amortization::Regression,
                leaky,
            ),
            (
                "quadratic+elu+lbfgs",
                ConjugateSolver::Lbfgs,
                Amortization::Objective,
                elu,
            ),
        ] {
            let cfg = W2Config {
                hidden: vec![16, 16],
                activation,
                batch: 64,
                eval_every: 0,
                threads,
                conjugate: ConjugateConfig {
                    solver,
                    amortization,
                    ..ConjugateConfig::default()
                },
                ..W2Config::monge()
            };
            let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
            let n = steady_allocations(|| tr.step());
            report.push((format!("W2Trainer::step {cname} threads {threads}"), n));
        }
        for (oname, potential) in [
            ("cayley", LipschitzConfig::default()),
            ("bjorck", LipschitzConfig::bjorck()),
        ] {
            let cfg = W1Config {
                potential: LipschitzConfig {
                    hidden: vec![16, 16],
                    ..potential
                },
                step_size: MlpConfig {
                    hidden: vec![16, 16],
                    ..MlpConfig::step_size()
                },
                discriminator: MlpConfig {
                    hidden: vec![16, 16],
                    ..MlpConfig::discriminator()
                },
                batch: 64,
                eval_every: 0,
                threads,
                ..W1Config::default()
            };
            let mut tr = W1Trainer::new(&x, &y, &cfg).unwrap();
            let n = steady_allocations(|| tr.potential_step());
            report.push((
                format!("W1Trainer::potential_step {oname} threads {threads}"),
                n,
            ));
            let n = steady_allocations(|| tr.gan_step());
            report.push((format!("W1Trainer::gan_step {oname} threads {threads}"), n));
        }
    }
    let own_kernels = has_own_kernel();
    let text: Vec<String> = report
        .iter()
        .map(|(what, (own, pack))| {
            if own_kernels {
                format!("{what}: {own} allocations in {STEPS} steps")
            } else {
                format!(
                    "{what}: {own} allocations of monge's own in {STEPS} steps \
                     ({pack} gemm packing buffers of the matrixmultiply fallback)"
                )
            }
        })
        .collect();
    let text = text.join("\n");
    assert!(report.iter().all(|(_, (own, _))| *own == 0), "\n{text}");
    assert!(
        !own_kernels || report.iter().all(|(_, (_, pack))| *pack == 0),
        "\n{text}"
    );
    println!("{text}");
}
