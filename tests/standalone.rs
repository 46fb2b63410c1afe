//! The binary carries its corpus: copied alone into an empty directory, it runs the suite,
//! and what it prints names spec files relative to the corpus, never the build tree. (The
//! test binary Cargo builds for the tests is used, not a release build: the same embedding,
//! without a second optimised build of the crate inside `cargo test`.)

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{KillOnDrop, free_port, wait_for_port};

/// The binary, copied into a fresh empty directory that is also its working directory.
fn alone() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("regverify");
    std::fs::copy(env!("CARGO_BIN_EXE_regverify"), &bin).unwrap();
    (dir, bin)
}

/// Runs `cmd`, retrying while the kernel calls the fresh copy busy: a test beside this one
/// may fork while the copy's file is still open for writing, and the child holds that
/// descriptor until it execs (ETXTBSY), a matter of milliseconds.
fn busy_retry<T>(mut cmd: impl FnMut() -> std::io::Result<T>) -> T {
    for _ in 0..100 {
        match cmd() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    panic!("the copied binary stayed busy for 2 s")
}

#[test]
fn the_binary_copied_to_an_empty_directory_runs_the_suite() {
    let (dir, bin) = alone();
    let out = busy_retry(|| Command::new(&bin).current_dir(dir.path()).output());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(embedded reference)"), "{stdout}");
    assert!(stdout.contains(" 0 failed, 0 errors"), "{stdout}");
    assert!(stdout.contains("— conformant"), "{stdout}");
    // it wrote nothing beside itself
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn failures_name_spec_files_relative_to_the_corpus() {
    let (dir, bin) = alone();
    let port = free_port();
    let _server = KillOnDrop(busy_retry(|| {
        Command::new(&bin)
            .args(["serve", "--memory", "--defect", "base-404"])
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
    }));
    assert!(wait_for_port(port), "the server did not start");
    let out = busy_retry(|| {
        Command::new(&bin)
            .current_dir(dir.path())
            .args(["run", &format!("http://127.0.0.1:{port}"), "base-v2"])
            .output()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(" at specs/scenarios/"), "{stdout}");
    assert!(!stdout.contains(env!("CARGO_MANIFEST_DIR")), "{stdout}");
}
