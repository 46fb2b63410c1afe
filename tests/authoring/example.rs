//! The worked proposal of `specs/examples/upload-uuid`: checked, passing the reference and
//! each of its variations, failing a registry that changes the upload id.

use serde_json::Value;

use crate::common;
use crate::{check, explain_json, regverify, server, stdout};

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
    // that requirement fails, and nothing else: the PATCH took effect (202), so the status
    // step after it is judged too, and its own requirement passes
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
    assert!(with("not_verified").is_empty(), "{text}");
    assert!(
        with("pass").contains(&"push.status.204".to_string()),
        "{text}"
    );
    assert!(with("error").is_empty(), "{text}");
}

#[test]
fn no_variation_of_the_reference_fails_the_example_proposal() {
    for v in regverify::server::variations::VARIATIONS {
        let (_server, port) = server(&["--variation", v.name]);
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
