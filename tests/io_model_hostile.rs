//! Issue 14, item 2: model files with a valid checksum but hostile contents. Every size and
//! hyper-parameter is checked against the tensors present before anything is allocated from it, so a
//! crafted dimension or width is an `Error::Model` — never an abort on a petabyte allocation, a
//! "capacity overflow" panic or a NaN slope accepted.

use monge::io::model::{encode_model, parse_model};
use monge::io::LoadedModel;
use monge::linalg::Mat;
use monge::ot::w2::W2Map;
use monge::ot::{map_from_saved, SavedModel, TransportMap};
use monge::Error;

/// A valid W2 model (ICNN, hidden widths `hidden`, input dimension `d`), weights small and non-negative
/// where the ICNN needs it.
fn w2_model(d: usize, hidden: &[usize]) -> SavedModel<f64> {
    let l = hidden.len();
    let width = |i: usize| if i < l { hidden[i] } else { 1 };
    let mut tensors = Vec::new();
    let fill = |n: usize, k: usize| {
        (0..n)
            .map(|i| 0.01 * ((i + k) % 5) as f64)
            .collect::<Vec<_>>()
    };
    for i in 0..=l {
        tensors.push((format!("A{i}"), vec![width(i), d], fill(width(i) * d, i)));
        tensors.push((format!("b{i}"), vec![width(i)], fill(width(i), i + 1)));
    }
    for i in 1..=l {
        let (o, n) = (width(i), hidden[i - 1]);
        tensors.push((format!("W{i}"), vec![o, n], fill(o * n, i + 2)));
    }
    SavedModel {
        method: "w2".into(),
        dim: d,
        hyper: vec![
            ("potential".into(), "icnn".into()),
            (
                "hidden".into(),
                hidden
                    .iter()
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "activation".into(),
                "leaky_relu(0.2), squared first layer".into(),
            ),
            ("output_activation".into(), "false".into()),
        ],
        tensors,
    }
}

fn set_hyper(m: &mut SavedModel<f64>, key: &str, value: &str) {
    match m.hyper.iter_mut().find(|(k, _)| k == key) {
        Some(kv) => kv.1 = value.into(),
        None => m.hyper.push((key.into(), value.into())),
    }
}

/// Encodes `m` (a fresh, valid checksum), parses it back and rebuilds the map: the error message.
fn load_error(m: &SavedModel<f64>) -> String {
    let bytes = encode_model(m).expect("encodable");
    let loaded = parse_model(&bytes, "crafted.monge").expect("structurally valid");
    let LoadedModel::F64(s) = loaded else {
        panic!("f64 model")
    };
    match map_from_saved(&s) {
        Ok(_) => panic!("a hostile model was accepted: {:?}", m.hyper),
        Err(Error::Model { msg, .. }) => msg,
        Err(other) => panic!("not a model error: {other:?}"),
    }
}

#[test]
fn a_valid_w2_model_loads_and_maps() {
    let m = w2_model(3, &[4, 5]);
    let map = W2Map::from_saved(&m).unwrap();
    assert_eq!(TransportMap::<f64>::to_saved(&map), m);
    let x = Mat::from_fn(2, 3, |i, j| (i + j) as f64 * 0.1);
    assert!(map.transport(&x).as_slice().iter().all(|v| v.is_finite()));
}

#[test]
fn a_crafted_w2_dimension_is_checked_against_the_tensors_before_allocating() {
    let mut m = w2_model(3, &[4]);
    m.dim = 1 << 50; // a network of 2⁵² parameters: an abort if allocated
    let msg = load_error(&m);
    assert!(
        msg.contains("tensor 'A0'") && msg.contains("expected [4, 1125899906842624]"),
        "{msg}"
    );
}

#[test]
fn crafted_w2_widths_are_bounded_by_the_values_present() {
    for hidden in ["1000000000000,4", "18446744073709551615", "4,0", "4,x", ""] {
        let mut m = w2_model(3, &[4, 4]);
        set_hyper(&mut m, "hidden", hidden);
        let msg = load_error(&m);
        assert!(msg.contains("hidden"), "{hidden}: {msg}");
    }
    // widths that fit the values present but not the tensors' shapes
    let mut m = w2_model(3, &[4, 4]);
    set_hyper(&mut m, "hidden", "2,8");
    assert!(load_error(&m).contains("tensor 'A0' has shape [4, 3]"));
}

#[test]
fn w2_tensors_that_are_missing_repeated_or_unexpected_are_refused() {
    let mut m = w2_model(2, &[3]);
    m.tensors.retain(|t| t.0 != "W1");
    assert!(load_error(&m).contains("missing tensor 'W1'"));
    let mut m = w2_model(2, &[3]);
    m.tensors.push(("extra".into(), vec![1], vec![0.0]));
    assert!(load_error(&m).contains("1 unexpected tensor"));
    let mut m = w2_model(2, &[3]);
    let dup = m.tensors[0].clone();
    m.tensors.push(dup);
    assert!(load_error(&m).contains("appears twice"));
    let mut m = w2_model(2, &[3]);
    set_hyper(&mut m, "output_activation", "maybe");
    assert!(load_error(&m).contains("output_activation"));
}

#[test]
fn a_deep_w2_model_loads() {
    // 4 000 layers of width 1: built once, each tensor found through one index
    let m = w2_model(2, &vec![1; 4000]);
    let map = W2Map::from_saved(&m).unwrap();
    assert_eq!(TransportMap::<f64>::dim(&map), 2);
}

fn w1_model() -> SavedModel<f64> {
    use monge::ot::w1::{fit, W1Config};
    let x = Mat::from_fn(64, 2, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1);
    let y = Mat::from_fn(64, 2, |i, j| ((i * 5 + j) % 13) as f64 * 0.1 + 1.0);
    let cfg = W1Config {
        potential_iters: 2,
        gan_iters: 2,
        batch: 16,
        eval_every: 0,
        ..W1Config::default()
    };
    let (map, _) = fit(&x, &y, &cfg, &mut |_| {}).unwrap();
    map.to_saved()
}

#[test]
fn w1_hyper_parameters_must_be_finite_and_bounded() {
    let good = w1_model();
    assert!(map_from_saved(&good).is_ok());
    let cases = [
        ("step.leaky_slope", "NaN", "step.leaky_slope"),
        ("step.leaky_slope", "inf", "step.leaky_slope"),
        ("step.leaky_slope", "-3", "step.leaky_slope"),
        ("potential.hidden", "1000000000000", "potential.hidden"),
        ("potential.hidden", "64,64,64,65", "potential"),
        ("step.hidden", "99999999999999999999", "step.hidden"),
        ("potential.group_size", "100000000", "potential.group_size"),
        ("potential.group_size", "0", "potential.group_size"),
        (
            "potential.ortho",
            "bjorck:4:1000000000:frobenius",
            "Björck iteration count",
        ),
    ];
    for (key, value, needle) in cases {
        let mut m = good.clone();
        set_hyper(&mut m, key, value);
        let msg = load_error(&m);
        assert!(msg.contains(needle), "{key} = {value}: {msg}");
    }
    let mut m = good.clone();
    m.dim = usize::MAX / 2;
    assert!(load_error(&m).contains("overflows") || load_error(&m).contains("tensor"));
}

#[test]
fn baseline_models_are_checked_too() {
    let shift = SavedModel {
        method: "mean-shift".to_string(),
        dim: 3,
        hyper: vec![],
        tensors: vec![("shift".into(), vec![3], vec![1.0, 2.0, 3.0])],
    };
    assert!(map_from_saved(&shift).is_ok());
    let mut m = shift.clone();
    m.dim = 1 << 40;
    assert!(load_error(&m).contains("tensor 'shift' has shape [3]"));
    let mut m = shift.clone();
    m.tensors.push(("more".into(), vec![1], vec![0.0]));
    assert!(load_error(&m).contains("unexpected tensor"));
    let id = SavedModel::<f64> {
        method: "identity".to_string(),
        dim: 0,
        hyper: vec![],
        tensors: vec![],
    };
    assert!(load_error(&id).contains("dimension 0"));
}

#[test]
fn the_w2_activation_is_read_back_and_an_unknown_one_is_refused() {
    let mut m = w2_model(3, &[4, 5]);
    // points where u0 < 0 for some units: ELU and the squared LeakyReLU differ there
    let x = Mat::from_fn(4, 3, |i, j| (i as f64 - 1.5) * (j as f64 + 1.0));
    let leaky = W2Map::from_saved(&m).unwrap().transport(&x);
    set_hyper(&mut m, "activation", "elu");
    let map = W2Map::from_saved(&m).unwrap();
    assert_eq!(TransportMap::<f64>::to_saved(&map), m);
    let elu = map.transport(&x);
    let gap = leaky
        .as_slice()
        .iter()
        .zip(elu.as_slice())
        .fold(0.0f64, |g, (a, b)| g.max((a - b).abs()));
    assert!(
        gap > 1e-3,
        "the ELU model maps as the LeakyReLU one (gap {gap})"
    );
    set_hyper(&mut m, "activation", "tanh");
    assert!(load_error(&m).contains("activation 'tanh'"));
}
