//! The tools of spec authors, as a user runs them: `explain` (text and JSON, read back),
//! overlays (`--specs DIR` adding to and replacing the embedded corpus, and what `--check`
//! says they change), aliases (each refusal of the loader, and an `--expect` file written
//! with an old id), and the worked proposal of `specs/examples/`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{KillOnDrop, free_port, root, wait_for_port};
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

/// The line at `file:line:col` (a file of the repository), cut at the column.
fn at(source: &str) -> (String, String) {
    let mut parts = source.rsplitn(3, ':');
    let col: usize = parts.next().unwrap().parse().unwrap();
    let line: usize = parts.next().unwrap().parse().unwrap();
    let file = parts.next().unwrap();
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let l = text.lines().nth(line - 1).unwrap();
    (l[..col - 1].to_string(), l[col - 1..].to_string())
}

/// `file:line:col` of the first line of `file` holding `needle`, at its first non-blank.
fn position_of(file: &str, needle: &str) -> String {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let (i, l) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap();
    let col = l.len() - l.trim_start_matches([' ', '-']).len() + 1;
    format!("{file}:{}:{col}", i + 1)
}

#[test]
fn explain_a_requirement_as_json_and_text() {
    let j = explain_json(&["push.chunk.order"]);
    assert_eq!(j["kind"], "requirement");
    assert_eq!(j["id"], "push.chunk.order");
    assert_eq!(j["level"], "MUST");
    assert_eq!(j["keyword"], "MUST");
    assert_eq!(j["source"], "v1.1.1");
    assert_eq!(
        j["spec"],
        "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-a-blob-in-chunks"
    );
    assert!(j["derived_from"].is_null());
    assert_eq!(j["needs_credentials"], false);
    // the scenarios naming it are those `coverage` lists for it
    let coverage = stdout(&regverify(&["coverage"]));
    let row = coverage
        .lines()
        .find(|l| l.starts_with("push.chunk.order "))
        .unwrap();
    let mut listed: Vec<&str> = row.split_whitespace().skip(3).collect();
    listed.iter_mut().for_each(|s| *s = s.trim_end_matches(','));
    let scenarios = j["scenarios"].as_array().unwrap();
    let mut names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    listed.sort();
    assert_eq!(names, listed);
    // each check's place points at a check in the file, inside its scenario's steps
    let chunked = scenarios
        .iter()
        .find(|s| s["name"] == "push::chunk-out-of-order")
        .unwrap();
    assert_eq!(
        chunked["source"],
        position_of("specs/scenarios/push.yaml", "id: chunk-out-of-order")
    );
    let checks = chunked["checks"].as_array().unwrap();
    assert!(checks.len() >= 3, "{checks:?}");
    for c in checks {
        assert_eq!(c["requirement"], "push.chunk.order");
        let src = c["source"].as_str().unwrap();
        assert!(src.starts_with("specs/scenarios/push.yaml:"), "{src}");
        // a check's place is its value, right after the key it checks
        let (before, _) = at(src);
        let what = c["what"].as_str().unwrap();
        let key = what.split(' ').next_back().unwrap();
        assert!(
            before.trim_end().ends_with(&format!("{key}:")),
            "{src} is after {before:?}, not {what}"
        );
    }
    assert!(
        checks.iter().any(|c| c["what"] == "status"
            && c["step"] == "a chunk that skips ahead"
            && at(c["source"].as_str().unwrap()).1 == "416"),
        "{checks:?}"
    );
    // failable: the defects the reference's table says break it, as `serve --defect list` says
    let list = stdout(&regverify(&["serve", "--defect", "list"]));
    // two lines a defect: its name and summary, then what it breaks
    let lines: Vec<&str> = list.lines().collect();
    let mut expected: Vec<&str> = lines
        .windows(2)
        .filter(|w| !w[0].starts_with(' ') && w[1].trim_start().starts_with("breaks: "))
        .filter(|w| {
            w[1].trim_start()["breaks: ".len()..]
                .split(", ")
                .any(|r| r.trim_end_matches(" (at times)") == "push.chunk.order")
        })
        .map(|w| w[0].split_whitespace().next().unwrap())
        .collect();
    expected.sort();
    let mut defects: Vec<&str> = j["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    defects.sort();
    assert!(defects.contains(&"accept-out-of-order"), "{defects:?}");
    assert_eq!(defects, expected, "{list}");
    // quiet: the variations of its section
    let variations: Vec<&str> = j["variations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variations, ["chunk-minimum"]);
    assert!(j["variations_total"].as_u64().unwrap() >= 10);
    let profiles = strings(&j["profiles"]);
    for p in ["oci-1.0", "oci-1.1", "oci-next", "distribution", "all"] {
        assert!(profiles.contains(&p.to_string()), "{profiles:?}");
    }
    assert!(!profiles.contains(&"read-only".to_string()), "{profiles:?}");

    let text = stdout(&regverify(&["explain", "push.chunk.order"]));
    assert!(
        text.starts_with("push.chunk.order — MUST (the sentence's keyword: MUST)\n"),
        "{text}"
    );
    assert!(
        text.contains("#pushing-a-blob-in-chunks (v1.1.1)"),
        "{text}"
    );
    assert!(text.contains("push::chunk-out-of-order — "), "{text}");
    assert!(
        text.contains(&format!(
            "    {}  status in step \"a chunk that skips ahead\"",
            checks
                .iter()
                .find(|c| c["step"] == "a chunk that skips ahead")
                .unwrap()["source"]
                .as_str()
                .unwrap()
        )),
        "{text}"
    );
    assert!(text.contains("\n  accept-out-of-order "), "{text}");
    assert!(text.contains("\n  chunk-minimum "), "{text}");
}

#[test]
fn a_derived_requirement_shows_what_it_is_derived_from() {
    let j = explain_json(&["base.v2"]);
    assert_eq!(j["keyword"], "none");
    assert!(
        j["derived_from"]
            .as_str()
            .unwrap()
            .starts_with("the spec defines implementing it"),
        "{j}"
    );
    assert_eq!(strings(&j["endpoints"]), ["end-1"]);
    let text = stdout(&regverify(&["explain", "base.v2"]));
    assert!(
        text.contains("\n  derived from: the spec defines implementing it"),
        "{text}"
    );
    // verified only with credentials: the variations, run without, prove nothing of it
    let j = explain_json(&["auth.challenge"]);
    assert_eq!(j["needs_credentials"], true);
    let text = stdout(&regverify(&["explain", "auth.challenge"]));
    assert!(
        text.contains("\nquiet: the reference with authentication on"),
        "{text}"
    );
}

#[test]
fn explain_a_scenario_by_name_and_by_id() {
    let j = explain_json(&["push::chunk-out-of-order"]);
    assert_eq!(j["kind"], "scenario");
    assert_eq!(j["name"], "push::chunk-out-of-order");
    assert_eq!(
        j["source"],
        position_of("specs/scenarios/push.yaml", "id: chunk-out-of-order")
    );
    assert_eq!(strings(&j["workflows"]), ["push"]);
    let ids: Vec<&str> = j["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    // those it lists, and those its expectations name (push.chunk.202)
    for id in [
        "push.chunk.order",
        "push.status.204",
        "push.chunk.close",
        "push.chunk.202",
    ] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let order = j["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "push.chunk.order")
        .unwrap();
    assert_eq!(order["level"], "MUST");
    assert!(!order["checks"].as_array().unwrap().is_empty());
    let defects: Vec<&str> = j["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(defects.contains(&"accept-out-of-order"), "{defects:?}");
    let profiles = strings(&j["profiles"]);
    assert!(profiles.contains(&"oci-1.0".to_string()), "{profiles:?}");
    assert!(!profiles.contains(&"read-only".to_string()), "{profiles:?}");
    // the bare id means the same scenario
    assert_eq!(explain_json(&["chunk-out-of-order"]), j);

    let text = stdout(&regverify(&["explain", "push::chunk-out-of-order"]));
    assert!(
        text.starts_with("push::chunk-out-of-order — A chunk out of order"),
        "{text}"
    );
    assert!(text.contains("\n  push.chunk.order [MUST] "), "{text}");
}

#[test]
fn an_unknown_id_exits_2_with_suggestions() {
    let out = regverify(&["explain", "push.chunk.ordr"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "no requirement or scenario is named push.chunk.ordr; did you mean push.chunk.order"
        ),
        "{err}"
    );
    let out = regverify(&["explain", "chunk-out-of"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("push::chunk-out-of-order"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn every_failure_of_a_run_ends_with_its_explain_command() {
    let port = free_port();
    let _server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_regverify"))
            .args(["serve", "--memory", "--defect", "accept-out-of-order"])
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(port));
    let out = regverify(&[
        "run",
        &format!("http://127.0.0.1:{port}"),
        "push::chunk-out-of-order",
        "--exact",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let failure = text.split("\nFAIL ").nth(1).expect("a failure printed");
    let failure = failure.split("\n\n").next().unwrap();
    assert!(
        failure.ends_with("\n  explain: regverify explain push.chunk.order"),
        "{failure}"
    );
}

// --- overlays --------------------------------------------------------------------------------

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

#[test]
fn an_overlay_adds_and_replaces_and_check_says_what_it_changes() {
    let (code, base, _) = check(&[]);
    assert_eq!(code, Some(0));
    let (reqs, profiles, scenarios) = counts(&base);
    assert!(!base.contains("overlay"), "{base}");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // one requirement replaced (another summary), one added
    write(
        d,
        "requirements.yaml",
        "requirements:\n  - id: push.chunk.order\n    level: MUST\n    section: pushing-a-blob-in-chunks\n    keyword: MUST\n    summary: A chunk out of order is refused with 416 (proposed wording).\n  - id: push.chunk.proposed\n    level: MAY\n    section: pushing-a-blob-in-chunks\n    keyword: MAY\n    summary: a proposed rule\n",
    );
    // a profile added
    write(
        d,
        "profiles.yaml",
        "profiles:\n  - {id: proposal, title: what the proposal runs, extends: [oci-1.0]}\n",
    );
    // push.yaml replaced: one scenario left out, one changed, the others as they are
    let push = std::fs::read_to_string(root().join("specs/scenarios/push.yaml")).unwrap();
    let (before, rest) = push.split_once("  - id: chunk-out-of-order\n").unwrap();
    let end = rest.find("\n  - id: ").unwrap();
    let edited = format!("{before}{}", &rest[end + 1..]).replace(
        "title: POST opens an upload session, PUT with the digest closes it, and the blob is there",
        "title: POST then PUT (reworded)",
    );
    assert_ne!(edited, push);
    write(d, "scenarios/push.yaml", &edited);
    let over = d.to_str().unwrap();
    let (code, out, err) = check(&["--specs", over]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        counts(&out),
        (reqs + 1, profiles + 1, scenarios - 1),
        "{out}"
    );
    let shown = |rel: &str| d.join(rel).display().to_string();
    let expected = [
        format!("overlay {over}: 2 added, 2 replaced, 1 removed"),
        format!(
            "  added requirement push.chunk.proposed ({})",
            shown("requirements.yaml")
        ),
        format!(
            "  replaced requirement push.chunk.order ({})",
            shown("requirements.yaml")
        ),
        format!("  added profile proposal ({})", shown("profiles.yaml")),
        format!(
            "  replaced scenario push::post-then-put ({})",
            shown("scenarios/push.yaml")
        ),
        format!(
            "  removed scenario push::chunk-out-of-order ({})",
            shown("scenarios/push.yaml")
        ),
    ];
    for line in &expected {
        assert!(out.contains(&format!("{line}\n")), "{line:?} in\n{out}");
    }
    let unchanged = out
        .lines()
        .find(|l| l.starts_with("  unchanged: "))
        .unwrap();
    assert!(unchanged.contains(" scenarios"), "{unchanged}");
    assert!(!unchanged.contains("requirement"), "{unchanged}");

    // what runs is the merged corpus: the added profile, the replaced requirement
    let list = stdout(&regverify(&[
        "run",
        "--list",
        "--specs",
        over,
        "--profile",
        "proposal",
    ]));
    assert!(list.contains("push::post-then-put: test"), "{list}");
    assert!(!list.contains("push::chunk-out-of-order"), "{list}");
    let j = explain_json(&["--specs", over, "push.chunk.order"]);
    assert_eq!(
        j["summary"],
        "A chunk out of order is refused with 416 (proposed wording)."
    );
    assert_eq!(j["overlay"], shown("requirements.yaml"));
    let text = stdout(&regverify(&[
        "explain",
        "--specs",
        over,
        "push.chunk.order",
    ]));
    assert!(text.contains("\nfrom the overlay "), "{text}");
    // without the overlay, neither
    let j = explain_json(&["push.chunk.order"]);
    assert!(j["overlay"].is_null());
    assert_ne!(
        j["summary"],
        "A chunk out of order is refused with 416 (proposed wording)."
    );

    // an overlay entry is checked like any other, at its own place
    write(
        d,
        "requirements.yaml",
        "requirements:\n  - {id: push.chunk.order, level: MUST, section: s, keyword: SHOULD, summary: x}\n",
    );
    let (code, _, err) = check(&["--specs", over]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!(
            "{}:2:5: error: requirement push.chunk.order is MUST but its sentence's keyword is SHOULD",
            shown("requirements.yaml")
        )),
        "{err}"
    );
    // an empty directory is a mistake, not an overlay
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = check(&["--specs", empty.path().to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no spec files"), "{err}");
}

/// Copies `specs/` (the corpus files only) into `to`.
fn copy_specs(to: &Path) {
    let from = root().join("specs");
    for rel in ["requirements.yaml", "profiles.yaml", "aliases.yaml"] {
        std::fs::copy(from.join(rel), to.join(rel)).unwrap();
    }
    std::fs::create_dir_all(to.join("scenarios")).unwrap();
    for e in std::fs::read_dir(from.join("scenarios")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join("scenarios").join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn a_complete_copy_changes_nothing_and_replace_mode_uses_it_alone() {
    let (_, base, _) = check(&[]);
    let dir = tempfile::tempdir().unwrap();
    copy_specs(dir.path());
    let over = dir.path().to_str().unwrap();
    let (code, out, err) = check(&["--specs", over]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(counts(&out), counts(&base));
    let (reqs, profiles, scenarios) = counts(&base);
    assert!(
        out.contains(&format!(
            "overlay {over}: changes nothing\n  unchanged: {reqs} requirements, {profiles} profiles, {scenarios} scenarios\n"
        )),
        "{out}"
    );
    // as an overlay, a file left out of the copy keeps the embedded one; with
    // --specs-mode replace, the directory is the whole corpus
    std::fs::remove_file(dir.path().join("scenarios/referrers.yaml")).unwrap();
    let (_, out, _) = check(&["--specs", over]);
    assert_eq!(counts(&out).2, scenarios);
    let (code, out, err) = check(&["--specs", over, "--specs-mode", "replace"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(counts(&out).2 < scenarios, "{out}");
    assert!(!out.contains("overlay"), "{out}");
}

// --- aliases ---------------------------------------------------------------------------------

/// `run --check` of an overlay holding only this aliases file.
fn check_aliases(yaml: &str) -> (Option<i32>, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "aliases.yaml", yaml);
    let file = dir.path().join("aliases.yaml").display().to_string();
    let (code, out, err) = check(&["--specs", dir.path().to_str().unwrap()]);
    (code, out, err, file)
}

#[test]
fn the_loader_refuses_each_bad_alias_at_its_place() {
    let cases: [(&str, &str); 7] = [
        (
            "requirements:\n  - {old: push.chunk.gone, new: no.such}\n",
            ":2:5: error: alias push.chunk.gone → no.such: no requirement no.such",
        ),
        (
            "requirements:\n  - {old: push.chunk.order, new: pull.blob.get}\n",
            ":2:5: error: alias push.chunk.order: requirement push.chunk.order exists",
        ),
        (
            "requirements:\n  - {old: x.one, new: x.two}\n  - {old: x.two, new: push.chunk.order}\n",
            ":2:5: error: alias x.one → x.two: x.two is itself an alias (x.one → x.two → push.chunk.order)",
        ),
        (
            "requirements:\n  - {old: x.a, new: x.b}\n  - {old: x.b, new: x.a}\n",
            ":2:5: error: requirement aliases form a cycle: x.a → x.b → x.a",
        ),
        (
            "requirements:\n  - {old: x.a, new: push.chunk.order}\n  - {old: x.a, new: pull.blob.get}\n",
            ":3:5: error: requirement alias x.a is defined twice",
        ),
        (
            "scenarios:\n  - {old: \"push::chunk-skips\", new: \"push::no-such\"}\n",
            ":2:5: error: alias push::chunk-skips → push::no-such: no scenario push::no-such",
        ),
        (
            "scenarios:\n  - {old: \"pull::blob-get\", new: \"push::chunk-out-of-order\"}\n",
            ":2:5: error: alias pull::blob-get: scenario pull::blob-get exists",
        ),
    ];
    for (yaml, expected) in cases {
        let (code, out, err, file) = check_aliases(yaml);
        assert_eq!(code, Some(2), "{yaml}\n{out}");
        assert!(
            err.contains(&format!("{file}{expected}")),
            "{yaml}\nexpected {expected}\n{err}"
        );
    }
    // a good one loads, and is what --check says the overlay adds
    let (code, out, err, file) = check_aliases(
        "requirements:\n  - {old: push.chunk.sequence, new: push.chunk.order}\nscenarios:\n  - {old: \"push::chunk-skips\", new: \"push::chunk-out-of-order\"}\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!(
            "  added alias requirement push.chunk.sequence ({file})"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  added alias scenario push::chunk-skips ({file})"
        )),
        "{out}"
    );
}

#[test]
fn old_names_resolve_in_explain_and_in_expect_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "aliases.yaml",
        "requirements:\n  - {old: push.chunk.sequence, new: push.chunk.order}\nscenarios:\n  - {old: \"push::chunk-skips\", new: \"push::chunk-out-of-order\"}\n",
    );
    let over = d.to_str().unwrap();
    let j = explain_json(&["--specs", over, "push.chunk.sequence"]);
    assert_eq!(j["id"], "push.chunk.order");
    assert_eq!(j["renamed_from"], "push.chunk.sequence");
    assert_eq!(strings(&j["aliases"]), ["push.chunk.sequence"]);
    let j = explain_json(&["--specs", over, "push::chunk-skips"]);
    assert_eq!(j["name"], "push::chunk-out-of-order");
    assert_eq!(j["renamed_from"], "push::chunk-skips");
    assert_eq!(
        regverify(&["explain", "push.chunk.sequence"]).status.code(),
        Some(2)
    );

    // a baseline written with the old names gates a run against a registry that fails it
    let port = free_port();
    let _server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_regverify"))
            .args(["serve", "--memory", "--defect", "accept-out-of-order"])
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(port));
    let expect = d.join("expect.yaml");
    std::fs::write(
        &expect,
        "failures:\n  - requirement: push.chunk.sequence\n    scenario: \"push::chunk-skips\"\n    reason: appends a chunk out of order\n",
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let run = |specs: Option<&str>| {
        let mut args = vec![
            "run",
            &url,
            "push::chunk-out-of-order",
            "--exact",
            "--expect",
            expect.to_str().unwrap(),
        ];
        if let Some(s) = specs {
            args.extend(["--specs", s]);
        }
        regverify(&args)
    };
    let out = run(Some(over));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("expectations: the run matches"),
        "{}",
        stdout(&out)
    );
    // without the aliases, the old id means nothing
    let out = run(None);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("unknown requirement id push.chunk.sequence"),
        "{}",
        stderr(&out)
    );
}

// --- the worked proposal ---------------------------------------------------------------------

const EXAMPLE: &str = "specs/examples/upload-uuid";

#[test]
fn the_example_proposal_checks_and_passes_against_the_reference() {
    let (code, out, err) = check(&["--specs", EXAMPLE]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!(
            "overlay {EXAMPLE}: 2 added\n  added requirement dist.upload-uuid ({EXAMPLE}/requirements.yaml)\n  added scenario push::upload-uuid ({EXAMPLE}/scenarios/upload-uuid.yaml)\n"
        )),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let out = regverify(&[
        "run",
        "--specs",
        EXAMPLE,
        "--profile",
        "distribution",
        "push::upload-uuid",
        "--exact",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let results: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let scenarios = results["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 1);
    assert_eq!(scenarios[0]["name"], "push::upload-uuid");
    assert_eq!(scenarios[0]["verdict"], "pass");
    let checks = scenarios[0]["checks"].as_array().unwrap();
    let uuid_checks: Vec<&Value> = checks
        .iter()
        .filter(|c| c["requirement"] == "dist.upload-uuid")
        .collect();
    assert_eq!(uuid_checks.len(), 3, "{checks:?}");
    assert!(uuid_checks.iter().all(|c| c["outcome"] == "pass"));
    let req = results["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "dist.upload-uuid")
        .unwrap();
    assert_eq!(req["verdict"], "pass");
    assert_eq!(req["level"], "MAY");
    // and explain presents it as the overlay's, not yet proven
    let j = explain_json(&["--specs", EXAMPLE, "dist.upload-uuid"]);
    assert_eq!(
        j["overlay"],
        format!("{EXAMPLE}/requirements.yaml").as_str()
    );
    assert_eq!(j["scenarios"][0]["name"], "push::upload-uuid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_proposal_fails_a_registry_that_changes_the_upload_uuid() {
    // the reference behind a front that gives each PATCH answer another upload id
    let reg = common::start(regverify::server::Config::default(), false).await;
    let upstream = reg.url.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let upstream = upstream.clone();
        async move {
            let patch = req.method() == axum::http::Method::PATCH;
            let (status, mut headers, body) = common::forward_parts(req, &upstream, false).await;
            if patch {
                headers.insert("docker-upload-uuid", "another-id".parse().unwrap());
            }
            common::answer(status, headers, body)
        }
    });
    let front = common::serve_router(app).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let args: Vec<String> = [
        "run",
        &format!("http://{front}"),
        "--specs",
        EXAMPLE,
        "--profile",
        "distribution",
        "push::upload-uuid",
        "--exact",
        "--json",
        json.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        regverify(&args)
    })
    .await
    .unwrap();
    reg.server.shutdown().await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("\n  requirement: dist.upload-uuid [MAY] "),
        "{text}"
    );
    // that requirement fails, and nothing else (the status step, which needs the PATCH,
    // is not verified)
    let results: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let with = |verdict: &str| -> Vec<String> {
        results["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["verdict"] == verdict)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(with("fail"), ["dist.upload-uuid"], "{text}");
    assert_eq!(with("not_verified"), ["push.status.204"], "{text}");
    assert!(with("error").is_empty(), "{text}");
}

#[test]
fn no_variation_of_the_reference_fails_the_example_proposal() {
    for v in regverify::server::variations::VARIATIONS {
        let port = free_port();
        let _server = KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_regverify"))
                .args(["serve", "--memory", "--variation", v.name])
                .args(["--addr", &format!("127.0.0.1:{port}")])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        assert!(wait_for_port(port), "{}", v.name);
        let out = regverify(&[
            "run",
            &format!("http://127.0.0.1:{port}"),
            "--specs",
            EXAMPLE,
            "--profile",
            "distribution",
            "push::upload-uuid",
            "--exact",
        ]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{}: {text}", v.name);
        assert!(text.contains("scenarios: 1 passed"), "{}: {text}", v.name);
    }
}
