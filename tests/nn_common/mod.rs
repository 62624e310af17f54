//! The ICNN cases of the finite-difference tests (tests/nn_icnn.rs, nn_icnn_quadratic.rs,
//! nn_production_shape.rs): a random network with weights of both signs and random biases (so the kinks
//! are off the data), or with a quadratic path whose every parameter is random; a batch X, tangents V
//! and row weights w; and the f64 evaluations the checks difference.
#![allow(dead_code)] // each test crate uses its own subset

use monge::linalg::Mat;
use monge::nn::icnn::{Activation, Icnn, IcnnConfig, IcnnInit};
use monge::random::Stream;

/// A network and the batch it is checked on.
pub struct Case {
    pub net: Icnn<f64>,
    pub x: Mat<f64>,
    pub v: Mat<f64>,
    /// Row weights of the scalar under test.
    pub w: Vec<f64>,
}

/// What [`case`] draws.
pub struct Shape {
    pub d: usize,
    pub hidden: Vec<usize>,
    /// Batch rows.
    pub b: usize,
    pub output_activation: bool,
    pub activation: Activation,
    /// Standard deviation of the initial weights.
    pub std: f64,
    /// Rank of a quadratic path (its parameters all drawn N(0, 1)); None: random biases N(0, ¼) instead.
    pub quadratic: Option<usize>,
    /// V and w are divided by this (B at the production shape: the losses are batch means).
    pub scale: f64,
}

/// The case of `seed` (stream 0): the network, then its biases or quadratic path, then X, V, w.
pub fn case(seed: u64, s: Shape) -> Case {
    let mut rng = Stream::new(seed, 0);
    let cfg = IcnnConfig {
        hidden: s.hidden,
        init: IcnnInit::Normal { std: s.std },
        output_activation: s.output_activation,
        activation: s.activation,
    };
    let (d, b) = (s.d, s.b);
    let mut net = Icnn::<f64>::new(d, &cfg, &mut rng);
    match s.quadratic {
        None => {
            let nb = net.h_total() + 1;
            let off_b = nb * d;
            for p in &mut net.params_mut()[off_b..off_b + nb] {
                *p = 0.5 * rng.normal_f64();
            }
        }
        Some(rank) => {
            net = net.with_quadratic(rank);
            let off = net.quadratic().unwrap().off;
            for p in &mut net.params_mut()[off..] {
                *p = rng.normal_f64();
            }
        }
    }
    let x = Mat::from_fn(b, d, |_, _| rng.normal());
    let v = Mat::from_fn(b, d, |_, _| rng.normal::<f64>() / s.scale);
    let w = (0..b).map(|_| rng.normal_f64() / s.scale).collect();
    Case { net, x, v, w }
}

/// `net` with the parameters `theta`.
pub fn with_params(net: &Icnn<f64>, theta: &[f64]) -> Icnn<f64> {
    let mut n = net.clone();
    n.params_mut().copy_from_slice(theta);
    n
}

/// `∇g(x_i)` for every row.
pub fn grad_map(net: &Icnn<f64>, x: &Mat<f64>) -> Mat<f64> {
    let mut ws = net.workspace(x.rows());
    let mut out = Mat::zeros(x.rows(), x.cols());
    net.grad_x(x.view(), &mut ws, out.view_mut());
    out
}

/// `Σ_i ⟨V_i, ∇g(x_i)⟩` (the scalar step D differentiates).
pub fn map_dot(net: &Icnn<f64>, x: &Mat<f64>, v: &Mat<f64>) -> f64 {
    let t = grad_map(net, x);
    t.as_slice()
        .iter()
        .zip(v.as_slice())
        .map(|(a, b)| a * b)
        .sum()
}

/// `Σ_i w_i g(x_i)`.
pub fn seeded_value(net: &Icnn<f64>, x: &Mat<f64>, w: &[f64]) -> f64 {
    let mut ws = net.workspace(x.rows());
    let mut val = vec![0.0; x.rows()];
    net.value(x.view(), &mut ws, &mut val);
    val.iter().zip(w).map(|(a, b)| a * b).sum()
}
