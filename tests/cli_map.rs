//! `monge map --threads N` (issue 17, item 2): every saved method maps to the same bytes on 1 and 2
//! threads, the rows really are split (stderr reports the workers the pool used, which the CLI reads off
//! the pool, not off the option), and the default is `monge fit`'s: the machine's cores, at most 2.

mod common;

use common::{monge, scratch, stderr};
use monge::io::read_matrix_as;
use std::fs;
use std::path::Path;

/// `monge args…` in `dir`, asserting exit 0; returns stderr.
#[track_caller]
fn ok(args: &[&str], dir: &Path) -> String {
    let o = monge(args, dir);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    err
}

/// The threads `monge map` may use here: what it reports is capped at the cores.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn map_gives_every_method_the_same_bytes_on_1_and_2_threads_and_uses_both() {
    let dir = scratch("map-threads");
    let synth = |n: &str, seed: &str, a: &str, b: &str| {
        let args = ["synth", "known-map", "--n", n, "--dim", "6", "--seed", seed];
        ok(
            &[&args[..], &["--out-source", a, "--out-target", b]].concat(),
            &dir,
        );
    };
    synth("300", "1", "a.npy", "b.npy");
    // 2085 rows: two ranges of 1043 and 1042, each a full 1024-row chunk and a short one
    synth("2085", "2", "x.npy", "unused.npy");
    let fits: [&[&str]; 7] = [
        &["--method", "w2", "--iters", "20"],
        &["--method", "w2", "--preset", "cellot", "--iters", "20"],
        &["--method", "w1", "--iters", "20"],
        &["--method", "sinkhorn"],
        &["--method", "mean-shift"],
        &["--method", "identity"],
        &["--method", "w2", "--latent", "pca:3", "--iters", "20"],
    ];
    let two = cores().min(2);
    for (k, fit) in fits.iter().enumerate() {
        let model = format!("m{k}.monge");
        let base = [
            "fit", "--source", "a.npy", "--target", "b.npy", "--model", &model,
        ];
        ok(&[&base[..], fit, &["--quiet"]].concat(), &dir);
        let map = |threads: Option<&str>, out: &str| {
            let args = [
                "map", "--model", &model, "--input", "x.npy", "--output", out,
            ];
            match threads {
                Some(t) => ok(&[&args[..], &["--threads", t]].concat(), &dir),
                None => ok(&args, &dir),
            }
        };
        let on = |n: usize| format!("mapped on {n} thread{})", if n == 1 { "" } else { "s" });
        let e1 = map(Some("1"), "y1.npy");
        assert!(e1.contains(&on(1)), "{fit:?}: {e1}");
        let e2 = map(Some("2"), "y2.npy");
        let ed = map(None, "yd.npy");
        // the identity has nothing to split; every other map splits its rows over the workers
        let used = if fit[1] == "identity" { 1 } else { two };
        assert!(e2.contains(&on(used)), "{fit:?}: {e2}");
        assert!(ed.contains(&on(used)), "{fit:?} (default threads): {ed}");
        let y1 = fs::read(dir.join("y1.npy")).unwrap();
        assert!(
            y1 == fs::read(dir.join("y2.npy")).unwrap(),
            "{fit:?}: 2 threads"
        );
        assert!(
            y1 == fs::read(dir.join("yd.npy")).unwrap(),
            "{fit:?}: default"
        );
        let x = read_matrix_as::<f32>(&dir.join("x.npy")).unwrap();
        let y = read_matrix_as::<f32>(&dir.join("y1.npy")).unwrap();
        assert_eq!(y.shape(), (2085, 6), "{fit:?}");
        assert_eq!(y == x, fit[1] == "identity", "{fit:?} moves the points");
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn map_refuses_zero_threads() {
    let dir = scratch("map-threads-0");
    let args = [
        "map", "--model", "m.monge", "--input", "x.npy", "--output", "y.npy",
    ];
    let o = monge(&[&args[..], &["--threads", "0"]].concat(), &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--threads"), "{}", stderr(&o));
    let _ = fs::remove_dir_all(&dir);
}
