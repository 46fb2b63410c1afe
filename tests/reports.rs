//! Reports as a user gets them: the binary against a broken registry (a defect of the
//! reference behind Basic auth), every output parsed back and checked against the run,
//! secrets nowhere, and the HTML page rendered by a real browser.

mod common;

use std::process::Command;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use common::{answer, forward_parts, require, serve_router, start};
use regverify::server::Config;
use regverify::server::defects::Defect;

const PASSWORD: &str = "s3cr3t-Pa55";
// base64 of "tester:s3cr3t-Pa55"
const BASIC: &str = "dGVzdGVyOnMzY3IzdC1QYTU1";

/// A front that demands Basic credentials, then forwards to `upstream`.
async fn basic_auth_front(upstream: String) -> String {
    regverify::runner::client::install_crypto();
    let app = axum::Router::new().fallback(move |req: Request| {
        let upstream = upstream.clone();
        async move {
            let ok = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                == Some(&format!("Basic {BASIC}"));
            if !ok {
                let mut r = Response::new(Body::from(
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"credentials needed"}]}"#,
                ));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                r.headers_mut().insert(
                    "www-authenticate",
                    HeaderValue::from_static("Basic realm=\"reports\""),
                );
                return r;
            }
            let (status, headers, body) = forward_parts(req, &upstream, true).await;
            answer(status, headers, body)
        }
    });
    let a = serve_router(app).await;
    format!("127.0.0.1:{}", a.port())
}

struct Run {
    stdout: String,
    stderr: String,
    dir: tempfile::TempDir,
}

async fn run_with_reports(defect: Defect) -> Run {
    let reg = start(
        Config {
            defect: Some(defect),
            ..Config::default()
        },
        false,
    )
    .await;
    let front = basic_auth_front(reg.url.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_regverify"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "run",
                &format!("http://tester:{PASSWORD}@{front}"),
                "--debug",
            ])
            .arg("--junit")
            .arg(d.join("junit.xml"))
            .arg("--json")
            .arg(d.join("results.json"))
            .arg("--html")
            .arg(d.join("report.html"))
            .arg("--markdown")
            .arg(d.join("summary.md"))
            .env("OCI_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    reg.server.shutdown().await;
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_match_the_run_and_hold_no_secrets() {
    let run = run_with_reports(Defect::BlobCorrupted).await;
    let read = |n: &str| std::fs::read_to_string(run.dir.path().join(n)).unwrap();
    let (junit, json, html, md) = (
        read("junit.xml"),
        read("results.json"),
        read("report.html"),
        read("summary.md"),
    );

    // JSON: the run's own numbers and verdicts
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let s = &v["scenarios_summary"];
    let line = format!(
        "scenarios: {} passed, {} failed, {} errors, {} skipped",
        s["pass"], s["fail"], s["error"], s["skip"]
    );
    assert!(run.stdout.contains(&line), "{line} not in\n{}", run.stdout);
    assert!(s["fail"].as_u64().unwrap() > 0);
    assert_eq!(v["conformance"]["conformant"], false);
    let stmt = v["conformance"]["statement"].as_str().unwrap();
    assert!(
        run.stdout.contains(stmt.trim_end_matches("not conformant")),
        "{}",
        run.stdout
    );
    let blob_get = v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "pull::blob-get")
        .unwrap();
    assert_eq!(blob_get["verdict"], "fail");
    assert_eq!(blob_get["failed_requirement"], "pull.blob.get");
    assert!(!blob_get["failing_exchanges"].as_array().unwrap().is_empty());
    // each failed check is a value: requirement, level, expected and got apart, its place
    let check = &blob_get["failures"][0];
    assert_eq!(check["requirement"], "pull.blob.get");
    assert_eq!(check["level"], "MUST");
    assert_eq!(check["query"], "body");
    let (expected, got) = (
        check["expected"].as_str().unwrap(),
        check["got"].as_str().unwrap(),
    );
    assert!(
        expected.contains("bytes") && got.contains("bytes"),
        "{check}"
    );
    assert_ne!(expected, got);
    let at = check["source"].as_str().unwrap();
    assert!(
        at.starts_with("specs/scenarios/pull.yaml:") && at.split(':').count() == 3,
        "{at}"
    );
    let req = v["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "pull.blob.get")
        .unwrap();
    assert_eq!(req["verdict"], "fail");
    assert_eq!(req["level"], "MUST");
    assert!(req["spec"].as_str().unwrap().ends_with("#pulling-blobs"));
    assert_eq!(
        v["registry"],
        format!(
            "http://{}/",
            v["registry"]
                .as_str()
                .unwrap()
                .trim_start_matches("http://")
                .trim_end_matches('/')
        )
    );

    // JUnit: one case per scenario, failures apart from errors, transcript in the output
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), v["scenarios"].as_array().unwrap().len());
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count() as u64;
    let errors = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .count() as u64;
    assert_eq!(
        (failures, errors),
        (s["fail"].as_u64().unwrap(), s["error"].as_u64().unwrap())
    );
    let case = cases
        .iter()
        .find(|c| c.attribute("name") == Some("pull::blob-get"))
        .unwrap();
    assert_eq!(case.attribute("classname"), Some("pull"));
    let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .starts_with("[pull.blob.get]")
    );
    let out = case
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .unwrap()
        .text()
        .unwrap();
    assert!(out.contains("> GET "), "{out}");
    let description = failure.text().unwrap_or("");
    assert!(
        description.contains(&format!("expected: {expected}"))
            && description.contains(&format!("got: {got}")),
        "{description}"
    );

    // Markdown and HTML carry the statement and the failure
    assert!(md.contains(stmt), "{md}");
    assert!(md.contains("pull::blob-get"));
    assert!(html.contains("pull.blob.get"));
    assert!(html.contains("class=\"expected\"") && html.contains("class=\"got\""));
    assert!(md.contains("| expected | got |"), "{md}");
    assert!(
        !html.contains("http://") || !html.contains("<script src"),
        "no remote assets"
    );

    // no secret anywhere: not the password, not the Basic value
    for (what, text) in [
        ("stdout", &run.stdout),
        ("stderr (--debug transcripts)", &run.stderr),
        ("junit", &junit),
        ("json", &json),
        ("html", &html),
        ("markdown", &md),
    ] {
        assert!(!text.contains(PASSWORD), "the password is in {what}");
        assert!(!text.contains(BASIC), "the Basic credentials are in {what}");
    }
    assert!(
        run.stderr.contains("Authorization: Basic <redacted>"),
        "debug transcripts show redacted auth"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_renders_in_a_real_browser() {
    let chromium = require("chromium", "apt-get update && apt-get install -y chromium");
    let run = run_with_reports(Defect::BlobCorrupted).await;
    let page = run.dir.path().join("report.html");
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(chromium)
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
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("id=\"statement\""),
        "no statement rendered: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("not conformant"), "{dom}");
    // the failure expands to its transcript, escaped
    assert!(dom.contains("class=\"failure\""));
    assert!(dom.contains("first difference at byte 32768"));
    assert!(
        dom.contains("&gt; GET "),
        "the transcript is in the page, escaped"
    );
    assert!(
        dom.contains("data-v=\"fail\""),
        "the outcome filter is there"
    );
}
