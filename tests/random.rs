//! Seeded streams: determinism, independence of streams, and the distributions' first moments.

use monge::random::{BatchSampler, Stream};

#[test]
fn same_seed_gives_bit_identical_draws() {
    let draw = |seed: u64| {
        let mut s = Stream::new(seed, 3);
        let mut v: Vec<u64> = (0..100).map(|_| s.next_u64()).collect();
        v.extend((0..100).map(|_| s.normal::<f64>().to_bits()));
        v.extend((0..100).map(|_| s.uniform::<f32>().to_bits() as u64));
        v.extend((0..100).map(|_| s.below(37) as u64));
        let mut b = BatchSampler::new(50);
        let mut idx = [0usize; 20];
        b.sample(&mut s, &mut idx);
        v.extend(idx.iter().map(|&i| i as u64));
        v
    };
    assert_eq!(draw(42), draw(42));
    assert_ne!(draw(42), draw(43));
}

#[test]
fn streams_of_one_seed_differ() {
    let a: Vec<u64> = {
        let mut s = Stream::new(1, 0);
        (0..8).map(|_| s.next_u64()).collect()
    };
    let b: Vec<u64> = {
        let mut s = Stream::new(1, 1);
        (0..8).map(|_| s.next_u64()).collect()
    };
    assert_ne!(a, b);
}

#[test]
fn uniform_and_normal_moments() {
    let mut s = Stream::new(7, 0);
    let n = 200_000;
    let u: Vec<f64> = (0..n).map(|_| s.uniform_f64()).collect();
    let mean = u.iter().sum::<f64>() / n as f64;
    let var = u.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
    // standard errors: 1/√(12n) ≈ 6.5e-4 for the mean
    assert!((mean - 0.5).abs() < 4e-3, "{mean}");
    assert!((var - 1.0 / 12.0).abs() < 2e-3, "{var}");
    assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    let z: Vec<f64> = (0..n).map(|_| s.normal_f64()).collect();
    let mean = z.iter().sum::<f64>() / n as f64;
    let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
    let kurt = z.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64 / (var * var);
    assert!(mean.abs() < 1e-2, "{mean}");
    assert!((var - 1.0).abs() < 1.5e-2, "{var}");
    assert!((kurt - 3.0).abs() < 0.1, "{kurt}");
}

#[test]
fn below_is_uniform() {
    let mut s = Stream::new(9, 0);
    let mut counts = [0usize; 7];
    for _ in 0..70_000 {
        counts[s.below(7)] += 1;
    }
    // each count ~ Binomial(70000, 1/7): sd ≈ 92
    for c in counts {
        assert!((c as i64 - 10_000).abs() < 500, "{counts:?}");
    }
}

#[test]
fn batches_without_replacement_are_distinct_and_cover_uniformly() {
    let mut s = Stream::new(5, 0);
    let mut b = BatchSampler::new(10);
    let mut idx = [0usize; 4];
    let mut hits = [0usize; 10];
    for _ in 0..10_000 {
        b.sample(&mut s, &mut idx);
        let mut sorted = idx;
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0] != w[1]));
        for &i in &idx {
            hits[i] += 1;
        }
    }
    // each index appears with probability 0.4 per batch: 4000 ± ~49
    for h in hits {
        assert!((h as i64 - 4000).abs() < 300, "{hits:?}");
    }
    // full batch is a permutation
    let mut all = [0usize; 10];
    b.sample(&mut s, &mut all);
    all.sort();
    assert_eq!(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
}
