//! `monge synth`: generate data sets — the 2-D toys, the synthetic scRNA perturbation of \[C25\], and
//! known-map pairs.

use super::args::{check_memory, Args};
use super::common::check_paths;
use monge::data::known_map::known_map_pair;
use monge::data::scrna::{synthetic_scrna_with, DrasticShift, ScrnaConfig};
use monge::data::toys::Toy;
use monge::linalg::Mat;
use monge::random::{streams, Stream};
use monge::{Error, Result};
use std::path::Path;

/// Help text of `monge synth`.
pub const HELP: &str = "\
monge synth — generate data sets

USAGE:
    monge synth toy --dataset NAME [--n N] [--seed S] --out-source A --out-target B
    monge synth scrna --cells N --genes D --affected K --noise-genes M --seed S --out-source A --out-target B
                      [--out-counterfactual C] [--shift-rank R]
    monge synth known-map [--n N] [--dim D] [--components K] [--seed S] --out-source A --out-target B
                          [--out-true-map C]

scrna: [C25]'s generator (defaults 2000 cells, 3000 genes, 100 affected, 2000 noise genes); the target
rows are shuffled (unpaired); --out-counterfactual writes each control cell's true perturbed state;
--shift-rank R draws the affected genes' increments from R shared factors per cell (a rank-R effect,
still in [0, 100)) instead of independently.
known-map: source a Gaussian mixture, target ∇ψ*#source for a convex ψ* in closed form; --out-true-map
writes T*(source) row-aligned with the source (for `monge eval --true-mapped`).

toy datasets: 8gaussians, moons, circles, swissroll, checkerboard, bookshelf, circles-pair.
Output files: .npy, .csv or .tsv by extension; each is written atomically.";

/// Checks the output paths of one generator (distinct, writable, .npy/.csv/.tsv) before any work.
fn check_outputs(outputs: &[(&str, &str)]) -> Result<()> {
    for (_, p) in outputs {
        monge::io::MatrixFormat::from_path(Path::new(p))?;
    }
    check_paths(&[], outputs)
}

fn write(path: &str, m: &Mat<f64>) -> Result<()> {
    monge::io::write_matrix(Path::new(path), m)?;
    say!("wrote {path} ({}×{})", m.rows(), m.cols());
    Ok(())
}

/// Runs `monge synth`.
pub fn run(mut a: Args) -> Result<()> {
    let kind = a.positional();
    if a.flag("help") || kind.is_none() {
        super::common::print_help(HELP);
        return if kind.is_none() && !a.flag("help") {
            Err(Error::Usage(
                "monge synth needs a kind: toy, scrna or known-map".into(),
            ))
        } else {
            Ok(())
        };
    }
    match kind.as_deref() {
        Some("toy") => {
            let name: String = a.required("dataset")?;
            let n: usize = a.get_or("n", 1000)?;
            let seed: u64 = a.get_or("seed", 0)?;
            let out_s: String = a.required("out-source")?;
            let out_t: String = a.required("out-target")?;
            a.finish()?;
            let toy = Toy::from_name(&name)?;
            if n == 0 {
                return Err(Error::Usage("--n must be at least 1".into()));
            }
            // two n × 2 sets in f64, and their text or binary image while written
            check_memory(&format!("--n {n}"), 2.0 * 2.0 * n as f64 * 2.0 * 8.0)?;
            check_outputs(&[("out-source", &out_s), ("out-target", &out_t)])?;
            let x: Mat<f64> = toy.sample_source(n, &mut Stream::new(seed, streams::DATA));
            let y: Mat<f64> = toy.sample_target(n, &mut Stream::new(seed, streams::DATA_2));
            write(&out_s, &x)?;
            write(&out_t, &y)
        }
        Some("scrna") => {
            let d = ScrnaConfig::default();
            let cfg = ScrnaConfig {
                cells: a.get_or("cells", d.cells)?,
                genes: a.get_or("genes", d.genes)?,
                affected: a.get_or("affected", d.affected)?,
                noise_genes: a.get_or("noise-genes", d.noise_genes)?,
                seed: a.get_or("seed", d.seed)?,
            };
            let out_s: String = a.required("out-source")?;
            let out_t: String = a.required("out-target")?;
            let out_c: Option<String> = a.get("out-counterfactual")?;
            let shift = match a.get::<usize>("shift-rank")? {
                None => DrasticShift::Independent,
                Some(0) => return Err(Error::Usage("--shift-rank must be at least 1".into())),
                Some(r) => DrasticShift::LowRank(r),
            };
            a.finish()?;
            // control, counterfactual and the shuffled perturbed set (f64), and a copy of each
            check_memory(
                &format!("--cells {} --genes {}", cfg.cells, cfg.genes),
                6.0 * cfg.cells as f64 * cfg.genes as f64 * 8.0,
            )?;
            let mut outs = vec![
                ("out-source", out_s.as_str()),
                ("out-target", out_t.as_str()),
            ];
            if let Some(p) = &out_c {
                outs.push(("out-counterfactual", p.as_str()));
            }
            check_outputs(&outs)?;
            let data = synthetic_scrna_with::<f64>(&cfg, shift)?;
            write(&out_s, &data.control)?;
            write(&out_t, &data.perturbed)?;
            if let Some(p) = out_c {
                write(&p, &data.counterfactual)?;
            }
            Ok(())
        }
        Some("known-map") => {
            let n: usize = a.get_or("n", 1000)?;
            let dim: usize = a.get_or("dim", 2)?;
            let components: usize = a.get_or("components", 3)?;
            let seed: u64 = a.get_or("seed", 0)?;
            let out_s: String = a.required("out-source")?;
            let out_t: String = a.required("out-target")?;
            let out_m: Option<String> = a.get("out-true-map")?;
            a.finish()?;
            // the map's d × d matrices, the component means, source, target and T*(source) (f64)
            let (nf, df) = (n as f64, dim as f64);
            check_memory(
                &format!("--n {n} --dim {dim} --components {components}"),
                8.0 * (4.0 * df * df + components as f64 * df + 3.0 * nf * df),
            )?;
            let mut outs = vec![
                ("out-source", out_s.as_str()),
                ("out-target", out_t.as_str()),
            ];
            if let Some(p) = &out_m {
                outs.push(("out-true-map", p.as_str()));
            }
            check_outputs(&outs)?;
            let pair = known_map_pair::<f64>(n, n, dim, components, seed)?;
            write(&out_s, &pair.source)?;
            write(&out_t, &pair.target)?;
            if let Some(p) = out_m {
                write(&p, &pair.map.map(pair.source.view()))?;
            }
            Ok(())
        }
        Some(other) => Err(Error::Usage(format!(
            "unknown synth kind '{other}' (expected toy, scrna or known-map)"
        ))),
        None => unreachable!("handled above"),
    }
}
