//! Synthetic scRNA perturbation generator (SPEC §7.5) and the split rule (SPEC §7.7).

use monge::data::{heldout_size, synthetic_scrna, train_test_split, ScrnaConfig};
use monge::metrics::{displacement_dim, moved_genes_precision_recall};
use monge::random::{streams, Stream};

fn small() -> ScrnaConfig {
    ScrnaConfig {
        cells: 512,
        genes: 200,
        affected: 10,
        noise_genes: 120,
        seed: 3,
    }
}

#[test]
fn scrna_increments_follow_the_gene_sets() {
    let cfg = small();
    let data = synthetic_scrna::<f64>(&cfg).unwrap();
    assert_eq!(data.affected.len(), 10);
    assert_eq!(data.noise.len(), 120);
    assert!(data.affected.windows(2).all(|w| w[0] < w[1]));
    assert!(data.noise.windows(2).all(|w| w[0] < w[1]));
    let (mut max_drastic, mut max_noise) = (0.0f64, 0.0f64);
    for i in 0..cfg.cells {
        for g in 0..cfg.genes {
            let c = data.control.get(i, g);
            assert!((0.0..1.0).contains(&c));
            let inc = data.counterfactual.get(i, g) - c;
            let (aff, noi) = (data.affected.contains(&g), data.noise.contains(&g));
            let hi = 100.0 * aff as u8 as f64 + noi as u8 as f64;
            if hi == 0.0 {
                assert_eq!(inc, 0.0, "untouched cell {i} gene {g}");
            } else {
                assert!((0.0..hi + 1e-12).contains(&inc), "cell {i} gene {g}: {inc}");
            }
            if aff {
                max_drastic = max_drastic.max(inc);
            } else if noi {
                max_noise = max_noise.max(inc);
            }
        }
    }
    // The uniforms fill their ranges (512 draws per gene).
    assert!(max_drastic > 95.0 && max_noise > 0.95);
}

#[test]
fn scrna_perturbed_rows_are_the_shuffled_counterfactuals() {
    let data = synthetic_scrna::<f32>(&small()).unwrap();
    let mut seen = vec![false; 512];
    for (r, &i) in data.perm.iter().enumerate() {
        assert!(!seen[i]);
        seen[i] = true;
        assert_eq!(data.perturbed.row(r), data.counterfactual.row(i));
    }
    assert_ne!(data.perm, (0..512).collect::<Vec<_>>());
}

#[test]
fn scrna_true_map_moves_about_k_genes() {
    // At thr = 1 only drastic genes can move (a noise increment is < 1): precision 1; each drastic gene
    // moves with probability 0.99, so recall and dim/k are ≈ 0.99 (std of the mean ≈ 0.0014 here).
    let data = synthetic_scrna::<f64>(&small()).unwrap();
    let (mean, q3) = displacement_dim(data.control.view(), data.counterfactual.view(), 1.0);
    assert!((mean / 10.0 - 0.99).abs() < 0.01, "mean dim {mean}");
    assert!(q3 <= 10.0);
    let pr = moved_genes_precision_recall(
        data.control.view(),
        data.counterfactual.view(),
        &data.affected,
        1.0,
    );
    assert_eq!(pr.precision, 1.0);
    assert!((pr.recall - 0.99).abs() < 0.01, "recall {}", pr.recall);
}

#[test]
fn scrna_is_seeded_and_validates_sizes() {
    let a = synthetic_scrna::<f32>(&small()).unwrap();
    let b = synthetic_scrna::<f32>(&small()).unwrap();
    assert_eq!(a.perturbed, b.perturbed);
    let c = synthetic_scrna::<f32>(&ScrnaConfig { seed: 4, ..small() }).unwrap();
    assert_ne!(a.control, c.control);
    assert!(synthetic_scrna::<f32>(&ScrnaConfig {
        affected: 201,
        ..small()
    })
    .is_err());
    assert!(synthetic_scrna::<f32>(&ScrnaConfig {
        cells: 0,
        ..small()
    })
    .is_err());
    let def = ScrnaConfig::default();
    assert_eq!(
        (def.cells, def.genes, def.affected, def.noise_genes),
        (2000, 3000, 100, 2000)
    );
}

#[test]
fn split_sizes_follow_the_rule_and_fallback() {
    assert_eq!(heldout_size(20_000, 0.1).unwrap(), 1000); // min(1000, 2000)
    assert_eq!(heldout_size(8_000, 0.1).unwrap(), 800);
    assert_eq!(heldout_size(3_000, 0.1).unwrap(), 500); // max(500, 300)
    assert_eq!(heldout_size(1_000, 0.2).unwrap(), 500); // n − h = h: rule kept
    assert_eq!(heldout_size(900, 0.2).unwrap(), 180); // fallback ⌊n·frac⌋
    assert_eq!(heldout_size(3, 0.1).unwrap(), 1); // fallback clamped to ≥ 1
    assert!(heldout_size(1, 0.5).is_err());
    assert!(heldout_size(100, 1.0).is_err());
    assert!(heldout_size(100, 0.0).is_err());
}

#[test]
fn split_partitions_the_rows_reproducibly() {
    let s = train_test_split(5000, 0.2, &mut Stream::new(1, streams::SPLIT)).unwrap();
    assert_eq!(s.test.len(), 1000);
    let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..5000).collect::<Vec<_>>());
    assert_eq!(
        s,
        train_test_split(5000, 0.2, &mut Stream::new(1, streams::SPLIT)).unwrap()
    );
    assert_ne!(
        s,
        train_test_split(5000, 0.2, &mut Stream::new(2, streams::SPLIT)).unwrap()
    );
}

#[test]
fn a_low_rank_shift_has_the_stated_rank_and_range() {
    use monge::data::{synthetic_scrna_with, DrasticShift};
    use monge::linalg::pca::{Pca, PcaConfig};
    let cfg = small();
    let rank = 2;
    let data = synthetic_scrna_with::<f64>(&cfg, DrasticShift::LowRank(rank)).unwrap();
    // the increments on the drastic genes that are not also noise genes: n × k', rank ≤ R
    let genes: Vec<usize> = data
        .affected
        .iter()
        .copied()
        .filter(|g| !data.noise.contains(g))
        .collect();
    assert!(
        genes.len() > rank + 1,
        "{} clean drastic genes",
        genes.len()
    );
    let inc = monge::linalg::Mat::from_fn(cfg.cells, genes.len(), |i, c| {
        data.counterfactual.get(i, genes[c]) - data.control.get(i, genes[c])
    });
    assert!(inc.as_slice().iter().all(|&v| (0.0..100.0).contains(&v)));
    let pca = Pca::fit(inc.view(), rank + 1, &PcaConfig::default()).unwrap();
    let sv = pca.singular_values();
    // centred 100·W u_i: R non-zero singular values, the next zero up to what the exact (Gram) path
    // resolves, about √ε·σ_1 ≈ 1.5e-8·σ_1: bound 1e-6·σ_1
    assert!(sv[rank - 1] > 1e-2 * sv[0], "{sv:?}");
    assert!(sv[rank] <= 1e-6 * sv[0], "{sv:?}");
    // the paper's independent draws have full rank
    let ind = synthetic_scrna_with::<f64>(&cfg, DrasticShift::Independent).unwrap();
    let inc = monge::linalg::Mat::from_fn(cfg.cells, genes.len(), |i, c| {
        ind.counterfactual.get(i, ind.affected[c]) - ind.control.get(i, ind.affected[c])
    });
    let pca = Pca::fit(inc.view(), rank + 1, &PcaConfig::default()).unwrap();
    assert!(pca.singular_values()[rank] > 0.5 * pca.singular_values()[0]);
    assert!(synthetic_scrna_with::<f64>(&cfg, DrasticShift::LowRank(0)).is_err());
}
