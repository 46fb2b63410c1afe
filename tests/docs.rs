//! What the binary says about itself: `--version` names the version, the commit and the
//! digest of its corpus (the one `results.json` records); completions and the man page are
//! generated from the command line itself, every subcommand in them.

mod common;

use std::process::{Command, Output};

use common::require;

fn regverify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The subcommands a user types, as `--help` lists them.
fn subcommands() -> Vec<String> {
    let help = stdout(&regverify(&["--help"]));
    let listed: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(String::from)
        .collect();
    assert!(listed.len() > 8, "{help}");
    listed
}

#[test]
fn version_names_the_commit_and_the_corpus_a_run_records() {
    let v = stdout(&regverify(&["--version"]));
    let (head, rest) = v.trim().split_once(" (commit ").expect(&v);
    assert_eq!(head, format!("regverify {}", env!("CARGO_PKG_VERSION")));
    let (commit, corpus) = rest.split_once(", corpus ").expect(&v);
    // built from this checkout: the commit git names, or `unknown` without git
    let git = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string());
    assert_eq!(commit, git.as_deref().unwrap_or("unknown"), "{v}");
    let corpus = corpus.strip_suffix(')').expect(&v);
    assert_eq!(
        corpus,
        regverify::runner::corpus::Corpus::embedded()
            .identity()
            .unwrap()
            .digest
    );
    // the digest a run of the embedded corpus writes in its results
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let o = regverify(&[
        "run",
        "--workflow",
        "pull",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["corpus"]["digest"], corpus);
    assert!(r["corpus"]["overlay"].is_null(), "{}", r["corpus"]);
}

#[test]
fn bash_completion_offers_every_subcommand() {
    let script = stdout(&regverify(&["completions", "bash"]));
    assert!(script.contains("complete -F"), "{script}");
    for sub in subcommands() {
        assert!(script.contains(&sub), "{sub} not completed");
    }
    // and the options of one
    assert!(script.contains("--allow-foreign-urls"));
    for shell in ["zsh", "fish"] {
        let s = stdout(&regverify(&["completions", shell]));
        assert!(s.contains("matrix") && s.contains("defect"), "{shell}: {s}");
    }
    assert_eq!(regverify(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let groff = require("groff", "apt-get update && apt-get install -y groff");
    let page = stdout(&regverify(&["man"]));
    assert!(
        page.lines().any(|l| l.starts_with(".TH regverify 1 ")),
        "{page}"
    );
    assert!(
        page.is_ascii(),
        "troff reads Latin-1: non-ASCII must be escaped"
    );
    for sub in subcommands() {
        let heading = format!(".SH \"REGVERIFY {}\"", sub.to_uppercase());
        assert!(page.contains(&heading), "no {heading}");
        assert!(
            page.contains(&format!("\\fBregverify {sub}\\fR")),
            "{sub} not listed"
        );
    }
    // groff formats it without complaint, and the text reads as written
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regverify.1");
    std::fs::write(&file, &page).unwrap();
    let o = Command::new(groff)
        .args(["-man", "-Tutf8", "-P-cbou", "-ww"])
        .arg(&file)
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&o.stderr);
    let complaints: Vec<&str> = errors
        .lines()
        // a long URL cannot be justified: layout, not a fault of the source
        .filter(|l| !l.contains("cannot adjust line") && !l.contains("cannot break line"))
        .collect();
    assert!(o.status.success() && complaints.is_empty(), "{errors}");
    // words as a reader sees them, whatever the line breaks and justification
    let text = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("requirements × scenarios"), "{text}");
    assert!(text.contains("regverify matrix"), "{text}");
}
