//! Issue 13's accuracy table on known-map pairs ([`monge::experiments::known_map`]), as an ignored test
//! that prints it:
//!
//! ```text
//! nice -n 10 cargo test --release --test ot_w2_quality -- --ignored --nocapture known_map_table
//! ```
//!
//! Environment (all optional): `MONGE_KM_DIMS` (default `2,8,32,64`), `MONGE_KM_SEEDS` (`0,1,2`),
//! `MONGE_KM_N` (points per side, 4096), `MONGE_KM_CONFIGS` (comma-separated, default `plain,default`),
//! `MONGE_KM_TRACE=1` (L2-UVP of the current iterate at every evaluation, with the held-out criteria
//! that could select it; `MONGE_KM_TRACE=sliced` leaves out the slow semi-duals). A configuration is a
//! base — `plain` (the CellOT ICNN of `--preset cellot`, 10 000 iterations), `default` (`W2Config::monge()`) —
//! followed by `+key=value` overrides: `it`, `lr` (both networks), `lrf`, `lrg`, `g` (g steps),
//! `batch`, `eval`, `cos` (0/1), `min` (lr_min_factor), `b1`, `b2`, `fnorm`, `lrq` (the quadratic path's rate factor), `ema` (the decay of g's parameter average), `dim`
//! (`lr_reference_dim`, 0 = off), `width` (every hidden width), `depth` (number of hidden layers),
//! `conj` (the conjugate solver: 0 none, 1 L-BFGS, 2 Adam), `steps` (its step count), `act` (the ICNN's
//! activation: 0 LeakyReLU, 1 ELU), `oa` (0/1: the activation on the output), `std` (weights drawn N(0, std²)
//! instead of U(0, 0.1)), `seed` (the training seed: initialisation, batches, held-out split; default 0
//! on every pair), `pat` (the early-stopping patience in evaluations, 0 = run to the cap).
//! `architecture_ceiling` fits each configuration's g to the exact map instead (the oracle fit).

use monge::data::known_map::known_map_pair;
use monge::experiments::known_map::{
    best_affine, known_map_rows, oracle_fit, spearman, Trace, TracePoint, FRESH_STREAM,
    MANY_DIRECTIONS,
};
use monge::linalg::Mat;
use monge::metrics::l2_uvp;
use monge::nn::icnn::{Activation, IcnnInit};
use monge::ot::conjugate::ConjugateSolver;
use monge::ot::w2::W2Config;
use monge::random::Stream;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| t.trim().parse().ok().expect("a list of numbers"))
        .collect()
}

/// A configuration from its spec (module doc).
fn config(spec: &str) -> W2Config {
    let mut parts = spec.split('+');
    let mut cfg = match parts.next().unwrap() {
        "plain" => W2Config {
            iterations: 10_000,
            ..W2Config::default()
        },
        "default" => W2Config::monge(),
        other => panic!("unknown base {other}"),
    };
    for kv in parts {
        let (k, v) = kv.split_once('=').expect("key=value");
        let f: f64 = v.parse().expect("a number");
        match k {
            "it" => cfg.iterations = f as usize,
            "lr" => (cfg.lr_f, cfg.lr_g) = (f, f),
            "lrf" => cfg.lr_f = f,
            "lrg" => cfg.lr_g = f,
            "g" => cfg.g_iters = f as usize,
            "batch" => cfg.batch = f as usize,
            "eval" => cfg.eval_every = f as usize,
            "cos" => cfg.cosine_lr = f != 0.0,
            "min" => cfg.lr_min_factor = f,
            "b1" => cfg.betas.0 = f,
            "b2" => cfg.betas.1 = f,
            "fnorm" => cfg.fnorm_penalty = f,
            "lrq" => cfg.lr_quadratic_factor = f,
            "ema" => cfg.ema = f,
            "dim" => cfg.lr_reference_dim = f as usize,
            "width" => cfg.hidden.iter_mut().for_each(|h| *h = f as usize),
            "depth" => cfg.hidden.resize(f as usize, cfg.hidden[0]),
            "conj" => {
                cfg.conjugate.solver = [
                    ConjugateSolver::None,
                    ConjugateSolver::Lbfgs,
                    ConjugateSolver::Adam,
                ][f as usize]
            }
            "steps" => cfg.conjugate.steps = f as usize,
            "act" => cfg.activation = [Activation::LeakyRelu, Activation::Elu][f as usize],
            "oa" => cfg.output_activation = f != 0.0,
            "std" => cfg.init = IcnnInit::Normal { std: f },
            "seed" => cfg.seed = f as u64,
            "pat" => cfg.patience = f as usize,
            other => panic!("unknown key {other}"),
        }
    }
    cfg.threads = 1;
    cfg.progress_every = 0;
    cfg
}

#[test]
#[ignore = "minutes per pair: the issue 13 table (run with --ignored --nocapture)"]
fn known_map_table() {
    let dims: Vec<usize> = list(&env("MONGE_KM_DIMS", "2,8,32,64"));
    let seeds: Vec<u64> = list(&env("MONGE_KM_SEEDS", "0,1,2"));
    let n: usize = env("MONGE_KM_N", "4096").parse().unwrap();
    let trace = match env("MONGE_KM_TRACE", "0").as_str() {
        "1" => Trace::Full,
        "sliced" => Trace::Sliced,
        "0" => Trace::Off,
        other => panic!("MONGE_KM_TRACE: '{other}' (expected 0, 1 or sliced)"),
    };
    let configs: Vec<(String, W2Config)> = env("MONGE_KM_CONFIGS", "plain,default")
        .split(',')
        .map(|s| (s.to_string(), config(s)))
        .collect();
    println!("L2-UVP (%) on 2048 fresh source points, n = {n} per side; seconds to reach each row");
    for &d in &dims {
        for &seed in &seeds {
            // one configuration at a time, so each row prints as soon as it is measured (the
            // identity, affine and Gaussian rows are recomputed: milliseconds)
            let mut first = true;
            for one in std::iter::once(&[][..]).chain(configs.chunks(1)) {
                let rows = known_map_rows(d, seed, n, one, trace).unwrap();
                let skip = if first { 0 } else { 3 };
                first = false;
                print_rows(d, seed, &rows[skip..]);
            }
        }
    }
}

/// The architecture's ceiling: each configuration's g fitted to the exact map on the training source
/// (`oracle_fit`; `MONGE_KM_STEPS` Adam steps, default 5000, at rate `MONGE_KM_LR`, default 1e-3), beside
/// the best affine fit and the Gaussian start.
#[test]
#[ignore = "seconds to minutes per pair: the oracle fit of each architecture (run with --ignored --nocapture)"]
fn architecture_ceiling() {
    let Sweep {
        dims,
        seeds,
        n,
        steps,
        lr,
    } = Sweep::from_env("2,8,32,64", "0", 5000);
    let specs = env("MONGE_KM_CONFIGS", "default,default+depth=1+width=256");
    println!("oracle fit: L2-UVP (%) on 2048 fresh points, n = {n}, {steps} steps at lr {lr}");
    for &d in &dims {
        for &seed in &seeds {
            let k = Oracle::new(d, seed, n);
            println!("D={d:<3} seed={seed} best affine {:.3} %", k.uvp(&k.affine));
            for spec in specs.split(',') {
                let t0 = std::time::Instant::now();
                let mut cfg = config(spec);
                cfg.seed = seed;
                let fit = oracle_fit(&k.x, &k.t, &k.fresh, &cfg, steps, lr).unwrap();
                println!(
                    "D={d:<3} seed={seed} {spec:<40} {:>8.3} %  {:>6.1} s",
                    k.uvp(&fit),
                    t0.elapsed().as_secs_f64()
                );
            }
        }
    }
}

/// What the finite sample itself supports (issue 13): the exact discrete OT plan between the two
/// training samples pairs x_i with y_σ(i) (`optimal_matching`); those pairs take the place of the exact
/// images T*(x_i) in the best affine fit and in the oracle fit of the default configuration
/// (`MONGE_KM_STEPS`, default 3000, at `MONGE_KM_LR`, default 1e-3, times the configuration's dimension
/// factor) — learning a map by regression on a plan, as Seguy et al. 2018 do. Beside them, the best
/// affine fit to the exact map. Default `MONGE_KM_DIMS=2,8`: the plan costs O(n³) (about a minute at
/// n = 4096, D = 8).
#[test]
#[ignore = "minutes per pair: the empirical plan's maps (run with --ignored --nocapture)"]
fn empirical_plan_reference() {
    use monge::metrics::optimal_matching;
    let Sweep {
        dims,
        seeds,
        n,
        steps,
        lr,
    } = Sweep::from_env("2,8", "0,1,2", 3000);
    println!("empirical plan: L2-UVP (%) on 2048 fresh points, n = {n}, {steps} steps at lr {lr}");
    for &d in &dims {
        for &seed in &seeds {
            let k = Oracle::new(d, seed, n);
            let t0 = std::time::Instant::now();
            let sigma = optimal_matching(&k.x, &k.target);
            let plan = Mat::from_fn(n, d, |i, j| k.target.get(sigma[i], j));
            let secs = t0.elapsed().as_secs_f64();
            let affine = best_affine(&k.x, &plan, &k.fresh).unwrap();
            let mut cfg = config("default");
            cfg.seed = seed;
            let fit = oracle_fit(
                &k.x,
                &plan,
                &k.fresh,
                &cfg,
                steps,
                lr * cfg.lr_dim_factor(d),
            );
            println!(
                "D={d:<3} seed={seed} best affine (exact map) {:.3} %, on the plan: best affine {:.3} %, \
                 default g {:.3} % (plan {secs:.1} s)",
                k.uvp(&k.affine),
                k.uvp(&affine),
                k.uvp(&fit.unwrap())
            );
        }
    }
}

/// The knobs of the oracle sweeps: `MONGE_KM_DIMS`, `MONGE_KM_SEEDS`, `MONGE_KM_N` (4096),
/// `MONGE_KM_STEPS` and `MONGE_KM_LR` (1e-3), with each sweep's own defaults for the first two and steps.
struct Sweep {
    dims: Vec<usize>,
    seeds: Vec<u64>,
    n: usize,
    steps: usize,
    lr: f64,
}

impl Sweep {
    fn from_env(dims: &str, seeds: &str, steps: usize) -> Self {
        Sweep {
            dims: list(&env("MONGE_KM_DIMS", dims)),
            seeds: list(&env("MONGE_KM_SEEDS", seeds)),
            n: env("MONGE_KM_N", "4096").parse().unwrap(),
            steps: env("MONGE_KM_STEPS", &steps.to_string()).parse().unwrap(),
            lr: env("MONGE_KM_LR", "1e-3").parse().unwrap(),
        }
    }
}

/// A known-map pair with the exact map on its source and on 2048 fresh points.
struct Oracle {
    x: Mat<f64>,
    t: Mat<f64>,
    target: Mat<f64>,
    fresh: Mat<f64>,
    t_fresh: Mat<f64>,
    affine: Mat<f64>,
}

impl Oracle {
    fn new(d: usize, seed: u64, n: usize) -> Self {
        let pair = known_map_pair::<f64>(n, n, d, 3, seed).unwrap();
        let fresh = pair
            .map
            .sample_source::<f64>(2048, &mut Stream::new(seed, FRESH_STREAM));
        let t = pair.map.map::<f64>(pair.source.view());
        let affine = best_affine(&pair.source, &t, &fresh).unwrap();
        Oracle {
            t_fresh: pair.map.map::<f64>(fresh.view()),
            x: pair.source,
            t,
            target: pair.target,
            fresh,
            affine,
        }
    }

    fn uvp(&self, tx: &Mat<f64>) -> f64 {
        l2_uvp(tx.view(), self.t_fresh.view(), self.target.view())
    }
}

/// The ELU network's map is continuous where the LeakyReLU network's jumps across its units' kinks, and
/// it fits a smooth map better: fitted to the exact map in the oracle test's setting below (D = 2,
/// n = 1024, \[32\]×2, 400 steps at 1e-2), the ELU g ends at least 2× closer to T* than the LeakyReLU g
/// on seeds 0 and 1 (measured: 0.027 against 0.078 %, 0.001 against 0.036 %; at the production shape,
/// 20 000 steps on n = 4096, seed 0: 0.004 against 0.054 %). Mutation: `Elu`'s σ, q and their
/// derivatives replaced by LeakyReLU's fails it.
#[test]
fn an_elu_network_fits_a_smooth_map_closer_than_a_leaky_one() {
    for seed in [0, 1] {
        let k = Oracle::new(2, seed, 1024);
        let fit = |spec: &str| {
            let mut cfg = config(spec);
            cfg.seed = seed;
            k.uvp(&oracle_fit(&k.x, &k.t, &k.fresh, &cfg, 400, 1e-2).unwrap())
        };
        let leaky = fit("default+width=32+depth=2");
        let elu = fit("default+width=32+depth=2+act=1");
        println!("seed {seed}: ELU {elu:.4} %, LeakyReLU {leaky:.4} %");
        assert!(
            elu < leaky / 2.0,
            "seed {seed}: ELU {elu} %, LeakyReLU {leaky} %"
        );
    }
}

/// The oracle fit does what it says: 400 steps at D = 2 (n = 1024, [32]×2) bring g from its Gaussian
/// start to a map at least 3× closer to T* than the best affine fit (measured: 1.74 % → 0.078 %, affine
/// 1.70 %). Mutation: the step-D gradient left out (g stays at its start) fails it.
#[test]
fn the_oracle_fit_beats_the_best_affine_fit_at_d2() {
    let k = Oracle::new(2, 0, 1024);
    let mut cfg = config("default+width=32+depth=2");
    cfg.seed = 0;
    let start = oracle_fit(&k.x, &k.t, &k.fresh, &cfg, 0, 1e-3).unwrap();
    let fit = oracle_fit(&k.x, &k.t, &k.fresh, &cfg, 400, 1e-2).unwrap();
    let (s, f, a) = (k.uvp(&start), k.uvp(&fit), k.uvp(&k.affine));
    println!("start {s:.3} %, fit {f:.3} %, best affine {a:.3} %");
    assert!(
        f < a / 3.0 && f < s / 3.0,
        "start {s} %, fit {f} %, affine {a} %"
    );
}

/// The oracle fit's batch loss has the gradient it claims (f64 finite differences over every parameter
/// of a quadratic-path ICNN, d = 3, [6]×2, B = 9). Mutations: dropping the 1/B scale of V, or the sign of
/// the residual, fails it.
#[test]
fn the_oracle_fit_loss_has_the_gradient_it_claims() {
    use monge::experiments::known_map::map_regression_grad;
    use monge::gradcheck::GradCheck;
    use monge::nn::icnn::{Icnn, IcnnConfig};
    let (b, d) = (9, 3);
    let cfg = IcnnConfig {
        hidden: vec![6, 6],
        ..IcnnConfig::default()
    };
    let mut rng = Stream::new(4, 1);
    let net = Icnn::<f64>::new(d, &cfg, &mut rng).with_quadratic(2);
    let x = Mat::from_fn(b, d, |_, _| rng.normal_f64());
    let t = Mat::from_fn(b, d, |_, _| 2.0 * rng.normal_f64());
    let mut ws = net.workspace(b);
    let mut v = Mat::zeros(b, d);
    let mut grads = vec![0.0; net.n_params()];
    map_regression_grad(&net, x.view(), t.view(), &mut ws, &mut v, &mut grads);
    let mut probe = net.clone();
    let loss = |p: &[f64]| {
        probe.params_mut().copy_from_slice(p);
        let mut g = vec![0.0; p.len()];
        map_regression_grad(&probe, x.view(), t.view(), &mut ws, &mut v, &mut g)
    };
    GradCheck::default()
        .check(loss, net.params(), &grads)
        .assert_below(1e-6, "oracle fit loss");
}

fn print_rows(d: usize, seed: u64, rows: &[monge::experiments::known_map::KnownMapRow]) {
    for r in rows {
        let it = r
            .best_iteration
            .map_or(String::new(), |b| format!(" best it {b}"));
        println!(
            "D={d:<3} seed={seed} {:<40} {:>8.3} %  {:>7.1} s{it}",
            r.name, r.l2_uvp, r.seconds
        );
        if !r.trace.is_empty() {
            print_trace(&r.trace);
        }
    }
}

/// The trace, each criterion's Spearman correlation with L2-UVP over the evaluation points, and the
/// L2-UVP of the point each criterion would select.
fn print_trace(t: &[TracePoint]) {
    for p in t {
        println!(
            "      it {:>5}  L2-UVP {:>7.3}  sw2 {:.6e}  sw2x{MANY_DIRECTIONS} {:.6e}  dual {:.8e} \
             (resid {:.1e}, {} it)  dual-all {:.8e}",
            p.iteration,
            p.l2_uvp,
            p.sliced,
            p.sliced_many,
            p.dual,
            p.dual_resid,
            p.dual_iters,
            p.dual_all
        );
    }
    let uvp: Vec<f64> = t.iter().map(|p| p.l2_uvp).collect();
    let best = uvp.iter().cloned().fold(f64::INFINITY, f64::min);
    for (name, v) in [
        ("sw2", t.iter().map(|p| p.sliced).collect::<Vec<_>>()),
        ("sw2-many", t.iter().map(|p| p.sliced_many).collect()),
        ("dual", t.iter().map(|p| p.dual).collect()),
        ("dual-all", t.iter().map(|p| p.dual_all).collect()),
    ] {
        if v.iter().any(|x| x.is_nan()) {
            continue; // not scored (MONGE_KM_TRACE=sliced)
        }
        let pick = (0..v.len()).min_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap();
        println!(
            "      {name:<9} spearman {:>6.3}  picks it {:>5} (L2-UVP {:.3}; best on trace {best:.3})",
            spearman(&v, &uvp),
            t[pick].iteration,
            uvp[pick]
        );
    }
    let last = t.last().unwrap();
    println!(
        "      last      it {:>5} (L2-UVP {:.3})",
        last.iteration, last.l2_uvp
    );
}

mod averaging {
    use monge::data::known_map::known_map_pair;
    use monge::ot::w2::{W2Config, W2Trainer};

    fn cfg(ema: f64) -> W2Config {
        W2Config {
            ema,
            batch: 64,
            iterations: 6,
            g_iters: 2,
            eval_every: 2,
            hidden: vec![8, 8],
            ..W2Config::monge()
        }
    }

    /// With `ema = ρ` the map the trainer gives is ḡ, replayed here from g's parameters after each
    /// outer iteration (same operations in the same order: equal bits); without it, the current g.
    #[test]
    fn the_returned_map_is_the_moving_average_of_g() {
        let p = known_map_pair::<f32>(300, 300, 3, 2, 4).unwrap();
        let rho = 0.7f32;
        let mut tr = W2Trainer::new(&p.source, &p.target, &cfg(rho as f64)).unwrap();
        let mut avg = tr.g().params().to_vec();
        for _ in 0..5 {
            tr.step().unwrap();
            for (a, &q) in avg.iter_mut().zip(tr.g().params()) {
                *a = rho * *a + (1.0 - rho) * q;
            }
        }
        assert_ne!(
            avg.as_slice(),
            tr.g().params(),
            "the average is the last iterate"
        );
        assert_eq!(tr.map().potential().params(), avg.as_slice());
        tr.evaluate();
        assert_eq!(tr.best_map().potential().params(), avg.as_slice());
        let mut off = W2Trainer::new(&p.source, &p.target, &cfg(0.0)).unwrap();
        off.step().unwrap();
        assert_eq!(off.map().potential().params(), off.g().params());
    }

    /// A run checkpointed at iteration 3 and restored into a new trainer continues to the same average
    /// as the run that was never stopped.
    #[test]
    fn the_average_survives_a_checkpoint() {
        let p = known_map_pair::<f32>(300, 300, 3, 2, 5).unwrap();
        let c = cfg(0.8);
        let mut a = W2Trainer::new(&p.source, &p.target, &c).unwrap();
        for _ in 0..3 {
            a.step().unwrap();
        }
        let saved = a.checkpoint(&[]);
        let mut b = W2Trainer::new(&p.source, &p.target, &c).unwrap();
        b.restore(&saved).unwrap();
        for _ in 0..3 {
            a.step().unwrap();
            b.step().unwrap();
        }
        assert_eq!(a.map().potential().params(), b.map().potential().params());
    }
}

mod dimension_scaled_rates {
    use monge::data::known_map::known_map_pair;
    use monge::ot::w2::{W2Config, W2Trainer};

    fn g_after_two_steps(d: usize, lr: f64, reference: usize) -> Vec<f32> {
        let p = known_map_pair::<f32>(200, 200, d, 2, 6).unwrap();
        let cfg = W2Config {
            lr_f: lr,
            lr_g: lr,
            lr_reference_dim: reference,
            cosine_lr: false,
            batch: 32,
            g_iters: 2,
            hidden: vec![8, 8],
            eval_every: 0,
            ..W2Config::monge()
        };
        let mut tr = W2Trainer::new(&p.source, &p.target, &cfg).unwrap();
        tr.step().unwrap();
        tr.step().unwrap();
        tr.g().params().to_vec()
    }

    /// With `lr_reference_dim = 8` a fit on d = 16 trains exactly as one at half the rate without the
    /// scaling, at d = 160 as one at the floor (a tenth), and at d = 4 as one at the full rate.
    #[test]
    fn the_rate_is_scaled_by_the_reference_dimension_over_d_down_to_the_floor() {
        assert_eq!(
            g_after_two_steps(16, 1e-3, 8),
            g_after_two_steps(16, 5e-4, 0)
        );
        assert_eq!(
            g_after_two_steps(160, 1e-3, 8),
            g_after_two_steps(160, 1e-4, 0)
        );
        assert_eq!(g_after_two_steps(4, 1e-3, 8), g_after_two_steps(4, 1e-3, 0));
        assert_ne!(
            g_after_two_steps(16, 1e-3, 8),
            g_after_two_steps(16, 1e-3, 0)
        );
    }
}

/// Mean and covariance (1/(n − 1)) of the rows of `x`, in f64.
fn sample_moments(x: &Mat<f64>) -> (Vec<f64>, nalgebra::DMatrix<f64>) {
    let (n, d) = (x.rows(), x.cols());
    let m: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| x.get(i, j)).sum::<f64>() / n as f64)
        .collect();
    let c = nalgebra::DMatrix::from_fn(n, d, |i, j| x.get(i, j) - m[j]);
    (m, c.transpose() * &c / (n - 1) as f64)
}

/// `count` draws from N(m, S) (S = L Lᵀ by Cholesky).
fn gaussian_draws(
    m: &[f64],
    s: &nalgebra::DMatrix<f64>,
    count: usize,
    rng: &mut Stream,
) -> Mat<f64> {
    let l = s
        .clone()
        .cholesky()
        .expect("a positive-definite covariance")
        .l();
    let d = m.len();
    let mut out = Mat::zeros(count, d);
    let mut z = vec![0.0; d];
    for i in 0..count {
        z.iter_mut().for_each(|v| *v = rng.normal_f64());
        for j in 0..d {
            let lz: f64 = (0..=j).map(|k| l[(j, k)] * z[k]).sum();
            out.set(i, j, m[j] + lz);
        }
    }
    out
}

/// How much of issue 13's target the affine part's sampling noise alone takes at n points per side.
/// Per pair (`MONGE_KM_DIMS` default 2,8,32,64, `MONGE_KM_SEEDS`, `MONGE_KM_N`), L2-UVP % on the 2048
/// fresh points: the best affine fit (the oracle) and half of it (the target); the Gaussian map of the
/// n-point sample (the trainer's start) and of 2¹⁸ points per side (its population value, the bias of
/// the moment-matched affine map); then over `MONGE_KM_REPS` (10) fresh n-point samples the mean squared
/// distance of the n-point Gaussian map to its population value, in L2-UVP units, (a) on samples of the
/// pair itself and (b) on samples of the Gaussians with the pair's population moments, where the
/// Gaussian map of the sample moments is the maximum-likelihood estimate of the OT map and so
/// asymptotically efficient: no estimator of a Gaussian pair's map from n points per side does better.
///
/// Measured (2026-12-06, n = 4096, seeds 0 / 1 / 2, 17 s in all):
///
/// | D | best affine | target (½) | Gaussian map, n | Gaussian map, 2¹⁸ | noise: the pair | noise: Gaussian pair |
/// |---|---|---|---|---|---|---|
/// | 2 | 1.69 / 1.59 / 3.09 | 0.84 / 0.79 / 1.54 | 1.74 / 1.94 / 6.18 | 1.75 / 1.72 / 6.21 | 0.067 / 0.052 / 0.054 | 0.076 / 0.057 / 0.090 |
/// | 8 | 0.527 / 0.548 / 0.763 | 0.264 / 0.274 / 0.382 | 0.960 / 0.837 / 1.350 | 0.735 / 0.577 / 1.153 | 0.065 / 0.061 / 0.060 | 0.081 / 0.101 / 0.100 |
/// | 32 | 0.355 / 0.369 / 0.350 | 0.178 / 0.184 / 0.175 | 0.477 / 0.473 / 0.470 | 0.377 / 0.394 / 0.367 | 0.099 / 0.095 / 0.089 | 0.121 / 0.132 / 0.097 |
/// | 64 | 0.313 / 0.279 / 0.298 | 0.156 / 0.139 / 0.149 | 0.415 / 0.404 / 0.432 | 0.338 / 0.290 / 0.308 | 0.126 / 0.108 / 0.146 | 0.148 / 0.144 / 0.128 |
///
/// At D = 32 and 64 the moment-matched affine map is nearly the best affine map (2¹⁸ column), and the
/// sampling noise of its n-point estimate alone is 50–100 % of the target: an estimator meeting it
/// must recover the affine part more precisely than the efficient estimator of a Gaussian pair with
/// the same moments does, and the nonlinear part besides. (Not a proof: the pair's mixture source
/// is not Gaussian, and its clusters may carry more information than a Gaussian's moments.)
#[test]
#[ignore = "a minute: the affine part's sampling floor (run with --ignored --nocapture)"]
fn affine_sampling_floor() {
    use monge::ot::gaussian::GaussianMap;
    let sweep = Sweep::from_env("2,8,32,64", "0,1,2", 0);
    let reps: usize = env("MONGE_KM_REPS", "10").parse().unwrap();
    const POP: usize = 1 << 18;
    println!(
        "L2-UVP %, n = {} per side: best affine | target (½) | Gaussian map on n | on 2^18 | \
         noise of the n-point Gaussian map: the pair, the Gaussian pair ({reps} samples)",
        sweep.n
    );
    for &d in &sweep.dims {
        for &seed in &sweep.seeds {
            let k = Oracle::new(d, seed, sweep.n);
            let map = known_map_pair::<f64>(8, 8, d, 3, seed).unwrap().map;
            let mut rng = Stream::new(seed, 3000);
            let pair = |n: usize, rng: &mut Stream| {
                let x = map.sample_source::<f64>(n, rng);
                let y = map.map::<f64>(map.sample_source::<f64>(n, rng).view());
                (x, y)
            };
            let (xp, yp) = pair(POP, &mut rng);
            let pop = GaussianMap::from_samples(xp.view(), yp.view()).unwrap();
            let pop_fresh = pop.transport(k.fresh.view());
            let start = GaussianMap::from_samples(k.x.view(), k.target.view()).unwrap();
            let ((ms, ss), (mt, st)) = (sample_moments(&xp), sample_moments(&yp));
            let zfresh = gaussian_draws(&ms, &ss, 2048, &mut rng);
            let pop_z = pop.transport(zfresh.view());
            let (mut noise_pair, mut noise_gauss) = (0.0, 0.0);
            for _ in 0..reps {
                let (x, y) = pair(sweep.n, &mut rng);
                let g = GaussianMap::from_samples(x.view(), y.view()).unwrap();
                noise_pair += l2_uvp(
                    g.transport(k.fresh.view()).view(),
                    pop_fresh.view(),
                    k.target.view(),
                );
                let xg = gaussian_draws(&ms, &ss, sweep.n, &mut rng);
                let yg = gaussian_draws(&mt, &st, sweep.n, &mut rng);
                let g = GaussianMap::from_samples(xg.view(), yg.view()).unwrap();
                noise_gauss += l2_uvp(
                    g.transport(zfresh.view()).view(),
                    pop_z.view(),
                    k.target.view(),
                );
            }
            let a = k.uvp(&k.affine);
            println!(
                "D={d:<3} seed={seed} {a:.3} | {:.3} | {:.3} | {:.3} | {:.3}, {:.3}",
                a / 2.0,
                k.uvp(&start.transport(k.fresh.view())),
                k.uvp(&pop_fresh),
                noise_pair / reps as f64,
                noise_gauss / reps as f64
            );
        }
    }
}
