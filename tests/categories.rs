//! Conformance per category, as a user sees it: a registry without tag listing is stated
//! "Content Discovery: not implemented (SHOULD)", with one SHOULD failure and the category's
//! MUSTs not claimed, in every report format; claimed, the same MUSTs fail in full; a run
//! that judged nothing never says conformant and exits 2.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{KillOnDrop, free_port, wait_for_port};

/// `serve` on a free port (with a defect, if given), killed when dropped.
fn server(defect: Option<&str>) -> (KillOnDrop, String) {
    let port = free_port();
    let mut c = Command::new(env!("CARGO_BIN_EXE_regverify"));
    c.args(["serve", "--memory", "--addr", &format!("127.0.0.1:{port}")]);
    if let Some(d) = defect {
        c.args(["--defect", d]);
    }
    let child = KillOnDrop(c.stderr(std::process::Stdio::null()).spawn().unwrap());
    assert!(wait_for_port(port), "the server did not start");
    (child, format!("http://127.0.0.1:{port}"))
}

/// `run URL ARGS…` writing every report into `dir`, without the OCI suite's variables.
fn run(url: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regverify"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", url, "--report-dir"])
        .arg(dir)
        .arg("--markdown")
        .arg(dir.join("summary.md"))
        .args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OCI_")) {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    c.output().unwrap()
}

fn json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// The requirements the run charges as failed (claimed and failed).
fn charged(v: &serde_json::Value) -> Vec<String> {
    v["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["verdict"] == "fail" && q["claimed"] == true)
        .map(|q| q["id"].as_str().unwrap().to_string())
        .collect()
}

fn requirement<'v>(v: &'v serde_json::Value, id: &str) -> &'v serde_json::Value {
    v["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the report"))
}

#[test]
fn an_absent_tag_listing_is_one_should_failure_and_its_musts_are_not_claimed() {
    let (_server, url) = server(Some("no-tag-listing"));
    let dir = tempfile::tempdir().unwrap();
    let out = run(&url, dir.path(), &[], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // a SHOULD failure gives exit code 1, as any failure the registry is charged with
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "categories: Pull: conformant · Push: conformant · Content Discovery: not implemented (SHOULD) · Content Management: conformant"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("not charged: Content Discovery"),
        "{stdout}"
    );
    let v = json(dir.path());
    assert_eq!(charged(&v), ["category.content-discovery"], "{stdout}");
    assert_eq!(
        requirement(&v, "category.content-discovery")["level"],
        "SHOULD"
    );
    for id in [
        "tags.list",
        "tags.n",
        "tags.n-zero",
        "tags.last",
        "tags.order",
    ] {
        assert_eq!(requirement(&v, id)["claimed"], false, "{id}");
    }
    let k = &v["conformance"];
    assert_eq!(k["categories"][2]["state"], "not-implemented");
    assert_eq!(k["categories"][2]["claimed"], false);
    assert_eq!(k["categories"][0]["state"], "conformant");
    assert!(
        k["statement"].as_str().unwrap().contains("not claimed"),
        "{k}"
    );
    // every format carries the statement per category
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"name="category.Content Discovery" value="not implemented (SHOULD)""#),
        "{junit}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("not implemented (SHOULD)"));
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        md.contains("Content Discovery: not implemented (SHOULD)"),
        "{md}"
    );
}

#[test]
fn a_claimed_category_counts_its_musts_in_full() {
    let (_server, url) = server(Some("no-tag-listing"));
    for (args, env) in [
        (&["--claim", "content-discovery"][..], &[][..]),
        // the OCI suite's variable claims the category (and selects its workflow)
        (&[][..], &[("OCI_TEST_CONTENT_DISCOVERY", "1")][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&url, dir.path(), args, env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("Content Discovery: claimed, not implemented: "),
            "{stdout}"
        );
        let v = json(dir.path());
        let failed = charged(&v);
        for id in ["category.content-discovery", "tags.list", "tags.n"] {
            assert!(failed.iter().any(|f| f == id), "{id} in {failed:?}");
        }
        assert_eq!(requirement(&v, "tags.list")["claimed"], true);
        assert_eq!(v["conformance"]["categories"][2]["claimed"], true);
        assert_eq!(v["conformance"]["conformant"], false);
    }
}

#[test]
fn a_run_that_judged_nothing_never_says_conformant_and_exits_two() {
    let (_server, url) = server(None);
    let dir = tempfile::tempdir().unwrap();
    let out = run(&url, dir.path(), &["no-scenario-has-this-name"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(!stdout.contains("— conformant"), "{stdout}");
}
