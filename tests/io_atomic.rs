//! Atomic writes: a failure at any point leaves no temp file and never a half-written or clobbered output.

use monge::io::{write_atomic, write_matrix};
use monge::linalg::Mat;
use monge::Error;
use std::path::{Path, PathBuf};

fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("io_atomic")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn injected_failure_leaves_no_output_and_no_temp_file() {
    let dir = fresh_dir("fresh");
    let out = dir.join("out.npy");
    let e = write_atomic(&out, |w| {
        w.write_all(&[7u8; 100_000])?; // more than the buffer: bytes really reached the temp file
        Err(std::io::Error::other("injected failure"))
    })
    .unwrap_err();
    match e {
        Error::Io { path, op, source } => {
            assert_eq!((path, op), (out.clone(), "write"));
            assert_eq!(source.to_string(), "injected failure");
        }
        other => panic!("{other:?}"),
    }
    assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
}

#[test]
fn existing_output_is_not_clobbered_on_failure_and_replaced_on_success() {
    let dir = fresh_dir("existing");
    let out = dir.join("model.monge");
    std::fs::write(&out, b"previous content").unwrap();
    let r = write_atomic(&out, |w| {
        w.write_all(b"half of the new")?;
        Err(std::io::Error::other("disk full (injected)"))
    });
    assert!(r.is_err());
    assert_eq!(std::fs::read(&out).unwrap(), b"previous content");
    assert_eq!(entries(&dir), vec!["model.monge".to_string()]);
    // A panicking writer is cleaned up too.
    let r = std::panic::catch_unwind(|| {
        let _ = write_atomic(&out, |w| {
            w.write_all(b"x")?;
            panic!("writer bug (injected)");
        });
    });
    assert!(r.is_err());
    assert_eq!(std::fs::read(&out).unwrap(), b"previous content");
    assert_eq!(entries(&dir), vec!["model.monge".to_string()]);
    // Success replaces it whole.
    write_atomic(&out, |w| w.write_all(b"new content")).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"new content");
    assert_eq!(entries(&dir), vec!["model.monge".to_string()]);
}

#[test]
fn unwritable_output_paths_are_io_errors_naming_them() {
    let dir = fresh_dir("unwritable");
    let m = Mat::from_vec(1, 2, vec![1.0f64, 2.0]).unwrap();
    // Missing directory.
    let p = dir.join("missing").join("x.csv");
    match write_matrix(&p, &m).unwrap_err() {
        Error::Io { path, op, .. } => assert_eq!((path, op), (p, "create")),
        other => panic!("{other:?}"),
    }
    // The output path is an existing directory: refused before any temp file is made.
    let p = dir.join("adir.npy");
    std::fs::create_dir(&p).unwrap();
    let e = write_matrix(&p, &m).unwrap_err();
    assert!(e.to_string().contains("adir.npy"), "{e}");
    assert!(e.to_string().contains("a directory"), "{e}");
    assert!(matches!(e, Error::Io { op: "write", .. }), "{e:?}");
    assert_eq!(entries(&dir), vec!["adir.npy".to_string()]);
    // A path without a file name (the root directory).
    assert!(matches!(
        write_atomic(Path::new("/"), |_| Ok(())).unwrap_err(),
        Error::Io { op: "write", .. }
    ));
}
