//! The tools of spec authors, as a user runs them: `explain` (text and JSON, read back),
//! overlays (`--specs DIR` adding to and replacing the embedded corpus, and what `--check`
//! says they change), aliases (each refusal of the loader, and an `--expect` file written
//! with an old id), and the worked proposal of `specs/examples/`.

#[path = "../common/mod.rs"]
mod common;

mod aliases;
mod confined;
mod example;
mod explain;
mod overlay;

use std::path::Path;
use std::process::{Command, Output};

use common::{KillOnDrop, free_port, wait_for_port};
use serde_json::Value;

fn regverify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regverify"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn explain_json(args: &[&str]) -> Value {
    let mut all = vec!["explain", "--json"];
    all.extend_from_slice(args);
    let out = regverify(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// `run --check` with extra arguments: exit code, stdout, stderr.
fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["run", "--check"];
    all.extend_from_slice(args);
    let out = regverify(&all);
    (out.status.code(), stdout(&out), stderr(&out))
}

/// `spec files OK: N requirements (…), P profiles, S scenarios` as (N, P, S).
fn counts(stdout: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("spec files OK: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let n: Vec<usize> = line
        .split([' ', '('])
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[2], n[3])
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `regverify serve` with these arguments on a free port, killed when dropped.
fn server(args: &[&str]) -> (KillOnDrop, u16) {
    let port = free_port();
    let server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_regverify"))
            .args(["serve", "--memory"])
            .args(args)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(port), "the server did not start: {args:?}");
    (server, port)
}
