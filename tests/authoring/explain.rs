//! `regverify explain`: a requirement and a scenario read back from JSON and text, an
//! unknown id, and the command closing every failure of a run.

use crate::common::root;
use crate::{explain_json, regverify, server, stderr, stdout, strings};

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
    assert_eq!(variations, ["chunk-minimum", "empty-upload-no-range"]);
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
    let (_server, port) = server(&["--defect", "accept-out-of-order"]);
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
