//! The spec files and fixtures are embedded in the binary (`src/runner/corpus.rs`); an edit
//! to either must rebuild it. The commit the binary is built from is named by `--version`
//! (`REGVERIFY_COMMIT`): `git rev-parse HEAD` when the source is a git checkout, else
//! "unknown" (a source tarball, a build without git).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=specs");
    println!("cargo:rerun-if-changed=fixtures");
    println!("cargo:rerun-if-env-changed=REGVERIFY_COMMIT");
    let commit = std::env::var("REGVERIFY_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // a new commit moves HEAD or the branch it names: both files rebuild the name (in a
    // worktree they live in different git directories, which --git-path resolves)
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = ["HEAD", "packed-refs"]
        .into_iter()
        .chain(branch.as_deref())
        .filter_map(|name| git(&["rev-parse", "--git-path", name]));
    for p in watched {
        if std::path::Path::new(&p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rustc-env=REGVERIFY_COMMIT={commit}");
}
