//! The reduced synthetic scRNA experiment of issue 5 (n = 1000, d = 500, k = 20, 300 noise genes).
//! Minutes of training on 2 cores: `cargo test --release --test experiments_scrna -- --ignored --nocapture`.

use monge::experiments::{scrna_experiment, ScrnaExperiment};

#[test]
#[ignore = "trains ten maps at d = 500 (minutes); run explicitly"]
fn reduced_scrna_table_shows_sparsity_where_expected() {
    let cfg = ScrnaExperiment::reduced();
    let k = cfg.data.affected as f64;
    let rows = scrna_experiment(&cfg, &mut |_| {}).unwrap();
    for r in &rows {
        println!(
            "{:<36} dim {:>7.1} q3 {:>6.1} sw2 {:.4} {:.1} s",
            r.name, r.dim_mean, r.dim_q3, r.sw2, r.seconds
        );
    }
    let row = |p: &str| rows.iter().find(|r| r.name.starts_with(p)).unwrap();
    let plain = row("ICNN OT");
    assert!(
        plain.dim_mean > 5.0 * k,
        "unpenalised ICNN moves far more than k genes"
    );
    for &l in &cfg.budgets {
        let r = row(&format!("ICNN Alg. 2 (l = {l})"));
        assert!(r.dim_mean <= l, "{}: {} > {l}", r.name, r.dim_mean);
    }
    let sk = row("Sinkhorn elastic L1");
    assert!(sk.dim_mean < plain.dim_mean);
}
