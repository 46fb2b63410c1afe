//! The release-gate commands as a user runs them: `diff` of two runs that differ by a
//! defect, `baseline` made from a run and gating that run (then going stale), `matrix` over
//! the reference, Debian's distribution 2.8, a defect and a variation — every output parsed
//! back, the matrix page rendered by a real browser.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{KillOnDrop, free_port, require, start, wait_for_port};
use regverify::server::Config;
use regverify::server::defects::Defect;

/// Deterministic (no requirement it breaks only at times), and every profile has scenarios
/// it breaks.
const DEFECT: Defect = Defect::BlobCorrupted;

fn regverify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regverify"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `regverify run URL --json FILE` (plus `extra`), from a blocking thread.
async fn run_json(url: &str, json: &Path, extra: &[&str]) -> Output {
    let (url, json) = (url.to_string(), json.display().to_string());
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut args = vec!["run", &url, "--json", &json];
        args.extend(extra.iter().map(String::as_str));
        regverify(&args)
    })
    .await
    .unwrap()
}

async fn reference(defect: Option<Defect>) -> common::Registry {
    start(
        Config {
            defect,
            ..Config::default()
        },
        false,
    )
    .await
}

fn ids(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_names_what_a_defect_breaks_as_newly_failing() {
    let (clean, broken) = (reference(None).await, reference(Some(DEFECT)).await);
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    let o = run_json(&clean.url, &old, &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run_json(&broken.url, &new, &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let (old, new) = (old.display().to_string(), new.display().to_string());

    // worse: exit 1, the defect's requirements (those the run has) newly failing, no more
    let o = regverify(&["diff", &old, &new, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["worse"], true);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&new).unwrap()).unwrap();
    let in_run = ids(&results["requirements"]);
    let named: BTreeSet<String> = DEFECT
        .info()
        .breaks
        .iter()
        .map(|s| s.to_string())
        .filter(|s| in_run.contains(s))
        .collect();
    assert!(!named.is_empty());
    // newly failing: exactly what fails now (nothing failed before), the named among them
    let failing_now: BTreeSet<String> = results["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["verdict"] == "fail")
        .map(|q| q["id"].as_str().unwrap().to_string())
        .collect();
    let newly_failing = ids(&d["newly_failing"]);
    assert_eq!(newly_failing, failing_now, "{d:#}");
    assert!(newly_failing.is_superset(&named), "{d:#}");
    assert!(d["newly_passing"].as_array().unwrap().is_empty());
    assert!(d["scenarios_added"].as_array().unwrap().is_empty());
    assert!(d["scenarios_removed"].as_array().unwrap().is_empty());
    let blob_get = d["newly_failing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "pull.blob.get")
        .unwrap();
    assert_eq!(
        (&blob_get["old"], &blob_get["new"]),
        (&"pass".into(), &"fail".into())
    );
    assert!(
        blob_get["failing_in"]
            .as_array()
            .unwrap()
            .contains(&"pull::blob-get".into())
    );
    // the check's evidence: passed before, now the body differs
    let evidence = d["changed_evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["scenario"] == "pull::blob-get" && e["requirement"] == "pull.blob.get")
        .unwrap_or_else(|| panic!("no evidence change for pull::blob-get: {d:#}"));
    assert_eq!(evidence["old"]["outcome"], "pass");
    assert_eq!(evidence["new"]["outcome"], "fail");
    assert_eq!(evidence["query"], "body");
    assert!(evidence["new"]["got"].as_str().unwrap().contains("bytes"));

    // the text and Markdown say the same
    let o = regverify(&["diff", &old, &new]);
    assert_eq!(o.status.code(), Some(1));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.contains("newly failing") && t.contains("pull.blob.get [MUST] pass → fail"),
        "{t}"
    );
    assert!(t.contains("verdict: worse"), "{t}");
    let o = regverify(&["diff", &old, &new, "--markdown"]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("### Newly failing") && md.contains("| `pull.blob.get` | MUST | pass | fail |"),
        "{md}"
    );

    // the other way round nothing got worse: exit 0, the same requirements newly passing
    let o = regverify(&["diff", &new, &old, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let back: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(back["worse"], false);
    assert_eq!(ids(&back["newly_passing"]), failing_now);
    // a run against itself: no change
    let o = regverify(&["diff", &old, &old]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no change"));

    // unreadable input: exit 2, naming the file
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"tool\": 3}").unwrap();
    let o = regverify(&["diff", &old, &junk.display().to_string()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("junk.json"), "{}", text(&o));
    let o = regverify(&["diff", &old, "/nonexistent/results.json"]);
    assert_eq!(o.status.code(), Some(2));
    clean.server.shutdown().await;
    broken.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_gates_its_run_then_reports_stale_entries_with_the_refresh() {
    let (clean, broken) = (reference(None).await, reference(Some(DEFECT)).await);
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("broken.json");
    let o = run_json(&broken.url, &results, &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let o = regverify(&["baseline", &results.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(yaml.contains("requirement: pull.blob.get"), "{yaml}");
    assert!(yaml.contains("scenario: \"pull::blob-get\""), "{yaml}");
    assert!(
        yaml.contains("reason: \"FILL IN: why?"),
        "reasons to fill in are marked: {yaml}"
    );
    let expect = dir.path().join("expect.yaml");
    std::fs::write(&expect, &yaml).unwrap();
    let expect_arg = expect.display().to_string();

    // the run it was made from passes the gate
    let again = dir.path().join("again.json");
    let o = run_json(&broken.url, &again, &["--expect", &expect_arg]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{yaml}", text(&o));
    assert!(
        text(&o).contains("expectations: the run matches"),
        "{}",
        text(&o)
    );
    let to_fill = yaml.matches("reason: \"FILL IN:").count();
    assert!(
        text(&o).contains(&format!(
            "{to_fill} reason(s) in {expect_arg} still to fill in"
        )),
        "{}",
        text(&o)
    );

    // a person fills a reason in
    let filled = yaml.replacen(
        &yaml[yaml.find("reason: ").unwrap()..]
            .lines()
            .next()
            .unwrap()
            .to_string(),
        "reason: \"known: blob reads are corrupted\"",
        1,
    );
    std::fs::write(&expect, &filled).unwrap();

    // the registry is fixed: every entry is stale, and the output says how to refresh
    let fixed = dir.path().join("fixed.json");
    let o = run_json(&clean.url, &fixed, &["--expect", &expect_arg]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("now passes: pull.blob.get in pull::blob-get"),
        "{out}"
    );
    let refresh = format!(
        "regverify baseline {} --update {expect_arg}",
        fixed.display()
    );
    assert!(out.contains(&refresh), "{out}");

    // refreshing from the broken run keeps the reason filled in; from the fixed one, empties it
    let o = regverify(&[
        "baseline",
        &results.display().to_string(),
        "--update",
        &expect_arg,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let kept = std::fs::read_to_string(&expect).unwrap();
    assert!(kept.contains("known: blob reads are corrupted"), "{kept}");
    assert_eq!(
        kept.matches("requirement:").count(),
        yaml.matches("requirement:").count()
    );
    let o = regverify(&[
        "baseline",
        &fixed.display().to_string(),
        "--update",
        &expect_arg,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let refreshed = std::fs::read_to_string(&expect).unwrap();
    assert!(refreshed.contains("failures: []"), "{refreshed}");
    let o = run_json(&clean.url, &again, &["--expect", &expect_arg]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    clean.server.shutdown().await;
    broken.server.shutdown().await;
}

/// Debian's distribution 2.8 on a free port, stopped when dropped.
fn distribution(dir: &Path) -> (KillOnDrop, String) {
    let bin = require(
        "docker-registry",
        "apt-get update && apt-get install -y docker-registry",
    );
    let port = free_port();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = KillOnDrop(child);
    assert!(wait_for_port(port), "distribution did not start");
    (child, format!("http://127.0.0.1:{port}"))
}

#[test]
fn matrix_of_reference_distribution_defect_and_variation() {
    let chromium = require("chromium", "apt-get update && apt-get install -y chromium");
    let dir = tempfile::tempdir().unwrap();
    let (_dist, dist_url) = distribution(dir.path());
    let (json, html, md) = (
        dir.path().join("m.json"),
        dir.path().join("m.html"),
        dir.path().join("m.md"),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args([
            "matrix",
            &dist_url,
            "--reference",
            "--defect",
            DEFECT.name(),
        ])
        .args(["--variation", "blob-delete-disabled", "--json"])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    let out = text(&o);
    // findings (the defect, distribution's deviations), every registry run
    assert_eq!(o.status.code(), Some(1), "{out}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let labels: Vec<&str> = m["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    let defect_label = format!("defect {}", DEFECT.name());
    assert_eq!(
        labels,
        [
            dist_url.as_str(),
            "reference",
            &defect_label,
            "variation blob-delete-disabled"
        ]
    );
    let kinds: Vec<&str> = m["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["url", "reference", "defect", "variation"]);
    for c in m["columns"].as_array().unwrap() {
        assert!(
            c["error"].is_null(),
            "{} could not run: {}",
            c["label"],
            c["error"]
        );
        let statement = c["conformance"]["statement"].as_str().unwrap();
        assert!(
            out.contains(&format!("{}: {statement}", c["label"].as_str().unwrap())),
            "{out}"
        );
    }
    let rows = m["rows"].as_array().unwrap();
    let cell = |id: &str, col: usize| -> String {
        let r = rows
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no row {id}"));
        r["cells"][col].as_str().unwrap_or("absent").to_string()
    };
    // grouped by level: every MUST row before every SHOULD row before every MAY row
    let classes: Vec<&str> = rows.iter().map(|r| r["class"].as_str().unwrap()).collect();
    let mut sorted = classes.clone();
    sorted.sort_by_key(|c| ["MUST", "SHOULD", "MAY"].iter().position(|x| x == c));
    assert_eq!(classes, sorted);
    // the reference passes or skips everything; the variation fails nothing
    for r in rows {
        let id = r["id"].as_str().unwrap();
        assert!(
            matches!(cell(id, 1).as_str(), "pass" | "skip"),
            "reference {id}: {}",
            cell(id, 1)
        );
        assert!(
            !matches!(cell(id, 3).as_str(), "fail" | "error"),
            "variation {id}: {}",
            cell(id, 3)
        );
    }
    // the defect fails what it names, and errs on nothing
    let in_rows: BTreeSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in DEFECT
        .info()
        .breaks
        .iter()
        .filter(|id| in_rows.contains(*id))
    {
        assert_eq!(cell(id, 2), "fail", "{id}");
    }
    for r in rows {
        let id = r["id"].as_str().unwrap();
        assert_ne!(cell(id, 2), "error", "defect {id}");
    }
    // the variation shows what it changes: deletion refused is a skip, not a failure
    assert_eq!(cell("delete.blob", 3), "skip", "{}", out);
    // distribution fails only what its baseline of known deviations lists
    let baseline = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expectations/distribution-2.8.yaml"),
    )
    .unwrap();
    let dist_fails: Vec<&str> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .filter(|id| cell(id, 0) == "fail")
        .collect();
    assert!(!dist_fails.is_empty(), "{out}");
    for id in dist_fails {
        assert!(
            baseline.contains(&format!("requirement: {id}\n")),
            "distribution fails {id}, which its baseline does not list"
        );
    }
    // the terminal table and the Markdown carry the same cells
    assert!(out.contains("── MUST"), "{out}");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("### MUST") && md.contains(&defect_label),
        "{md}"
    );

    // the page, rendered: the table, and a cell's link opening its evidence
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("<script src") && !page.contains("<link "),
        "self-contained"
    );
    let target = "e2-pull.blob.get";
    assert!(
        page.contains(&format!("href=\"#{target}\"")),
        "the defect's cell links"
    );
    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}#{target}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("id=\"matrix\""), "no table rendered: {dom}");
    let details = &dom[dom
        .find(&format!("id=\"{target}\""))
        .unwrap_or_else(|| panic!("no evidence {target}: {dom}"))..];
    let tag_end = details.find('>').unwrap();
    assert!(
        details[..tag_end].contains("open"),
        "the linked evidence is open: {}",
        &details[..tag_end]
    );
    let evidence = &details[..details.find("</details>").unwrap()];
    assert!(evidence.contains("pull::blob-get"), "{evidence}");
    assert!(
        evidence.contains("&gt; GET "),
        "the failing exchange, escaped: {evidence}"
    );
    assert!(dom.contains("not conformant"), "statements rendered");
}

#[test]
fn a_matrix_shows_the_registries_it_ran_beside_one_it_could_not() {
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let o = regverify(&["matrix", &nobody, "--reference", "--workflow", "pull"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains(&format!("{nobody}: could not run")), "{out}");
    assert!(out.contains("reference: profile oci-1.1:"), "{out}");
    assert!(out.contains("pull.blob.get"), "the table is printed: {out}");
    // a reference with a defect that needs a login it cannot have
    let auth_only = regverify::server::defects::DEFECTS
        .iter()
        .find(|d| d.needs_auth)
        .unwrap();
    let o = regverify(&["matrix", "--defect", auth_only.name]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("needs authentication"), "{}", text(&o));
    let o = regverify(&["matrix", "--reference", "--profile", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown profile nope"), "{}", text(&o));
}

/// A release gate that does not flap: a requirement the baseline marks `intermittent` (a
/// known race) that fails in one run and passes in the next is listed as a known race, and
/// neither direction is "worse"; without the baseline, or with an entry not marked, it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_with_a_baseline_knows_its_intermittent_entries() {
    let (clean, broken) = (reference(None).await, reference(Some(DEFECT)).await);
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.json"), dir.path().join("new.json"));
    let o = run_json(&clean.url, &old, &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run_json(&broken.url, &new, &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&new).unwrap()).unwrap();
    let failing_now: BTreeSet<String> = results["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["verdict"] == "fail")
        .map(|q| q["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!failing_now.is_empty());
    let baseline = |intermittent: bool| {
        let mut y = String::from("failures:\n");
        for id in &failing_now {
            y += &format!(
                "  - requirement: {id}\n    intermittent: {intermittent}\n    reason: a race\n"
            );
        }
        let p = dir.path().join(format!("expect-{intermittent}.yaml"));
        std::fs::write(&p, y).unwrap();
        p.display().to_string()
    };
    let (races, known) = (baseline(true), baseline(false));
    let (old, new) = (old.display().to_string(), new.display().to_string());
    for (a, b) in [(&old, &new), (&new, &old)] {
        let o = regverify(&["diff", a, b, "--expect", &races, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(d["worse"], false, "{d:#}");
        // the races, and what they left unjudged on the scenarios they stopped
        assert!(ids(&d["intermittent"]).is_superset(&failing_now), "{d:#}");
        assert!(d["other_changes"].as_array().unwrap().is_empty(), "{d:#}");
        assert!(d["newly_failing"].as_array().unwrap().is_empty(), "{d:#}");
        assert!(d["newly_passing"].as_array().unwrap().is_empty(), "{d:#}");
    }
    let o = regverify(&["diff", &old, &new, "--expect", &races]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("known intermittent in the baseline"), "{t}");
    assert!(t.contains("verdict: nothing got worse"), "{t}");
    // entries not marked intermittent excuse nothing
    let o = regverify(&["diff", &old, &new, "--expect", &known]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    clean.server.shutdown().await;
    broken.server.shutdown().await;
}
