//! A requirement passes only on what was observed: a MAY counts as supported only where
//! the behaviour was seen working, and a requirement about an error body's code needs a
//! body. Each registry here is the reference behind a front that changes one thing.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use common::{answer, context, forward_parts, run_scenario, serve_router, specs, start};
use regverify::runner::client::{ClientConfig, Credentials};
use regverify::runner::exec::{Outcome, ScenarioResult, Verdict};
use regverify::runner::verdict::requirement_verdicts;
use regverify::server::Config;

/// The reference behind a front that drops the query of manifest PUTs: a registry that
/// ignores `?tag=`, as the spec allows.
async fn ignoring_tag_parameters(upstream: String) -> SocketAddr {
    let app = axum::Router::new().fallback(move |mut req: Request| {
        let upstream = upstream.clone();
        async move {
            if req.method() == "PUT" && req.uri().path().contains("/manifests/") {
                let path = req.uri().path().to_string();
                *req.uri_mut() = path.parse().unwrap();
            }
            let (status, headers, body) = forward_parts(req, &upstream, false).await;
            answer(status, headers, body)
        }
    });
    serve_router(app).await
}

async fn tag_parameters(ignore: bool) -> (ScenarioResult, Outcome) {
    let reg = start(Config::default(), false).await;
    let url = if ignore {
        format!("http://{}", ignoring_tag_parameters(reg.url.clone()).await)
    } else {
        reg.url.clone()
    };
    let ctx = context(&url, ClientConfig::default(), true);
    let specs = specs();
    let r = run_scenario(&specs, &ctx, "tag-parameters").await;
    reg.server.shutdown().await;
    let v = requirement_verdicts(&specs, std::slice::from_ref(&r));
    (r, v["next.tag-param"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_ignoring_tag_parameters_does_not_support_them() {
    let (r, tag_param) = tag_parameters(true).await;
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    assert_eq!(r.verdict, Verdict::Skip, "{text}");
    assert_ne!(
        tag_param,
        Outcome::Pass,
        "a 201 to a PUT with ?tag= is no sign that the tags were made: {text}"
    );
    // the reference makes the tags: supported, seen by reading each tag back
    let (r, tag_param) = tag_parameters(false).await;
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    assert_eq!(r.verdict, Verdict::Pass, "{text}");
    assert_eq!(tag_param, Outcome::Pass);
    let read_back: Vec<&str> = r
        .exchanges
        .iter()
        .filter(|e| e.method == "GET" && e.url.contains("/manifests/"))
        .map(|e| e.url.rsplit('/').next().unwrap())
        .collect();
    assert!(
        read_back.contains(&"stable") && read_back.contains(&"1.0"),
        "{read_back:?}"
    );
}

/// The reference behind a front that answers every request without credentials 401 with a
/// Basic challenge and `body` (the others go through).
async fn demanding_credentials(upstream: String, body: &'static str) -> SocketAddr {
    let app = axum::Router::new().fallback(move |req: Request| {
        let upstream = upstream.clone();
        async move {
            if req.headers().get("authorization").is_none() {
                let mut r = Response::new(Body::from(body));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                r.headers_mut().insert(
                    "www-authenticate",
                    HeaderValue::from_static("Basic realm=\"test\""),
                );
                if !body.is_empty() {
                    r.headers_mut()
                        .insert("content-type", HeaderValue::from_static("application/json"));
                }
                return r;
            }
            let (status, headers, body) = forward_parts(req, &upstream, true).await;
            answer(status, headers, body)
        }
    });
    serve_router(app).await
}

async fn auth_challenge(body: &'static str) -> ScenarioResult {
    let reg = start(Config::default(), false).await;
    let front = demanding_credentials(reg.url.clone(), body).await;
    let ctx = context(
        &format!("http://{front}"),
        ClientConfig {
            credentials: Some(Credentials {
                username: "user".into(),
                password: "s3cret".into(),
            }),
            ..ClientConfig::default()
        },
        false,
    );
    let r = run_scenario(&specs(), &ctx, "auth-challenge").await;
    reg.server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_without_a_body_fails_the_requirement_about_its_code() {
    let r = auth_challenge("").await;
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    assert_eq!(r.verdict, Verdict::Fail, "{text}");
    let f = r.finding.as_ref().unwrap();
    assert_eq!(
        f.requirement.as_deref(),
        Some("auth.unauthorized-code"),
        "{text}"
    );
    let v = requirement_verdicts(&specs(), std::slice::from_ref(&r));
    assert_eq!(v["auth.challenge"], Outcome::Pass, "{text}");
    // the same 401 with the envelope passes both
    let r = auth_challenge(r#"{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}"#).await;
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    assert_eq!(r.verdict, Verdict::Pass, "{text}");
}

/// The reference behind a front that answers the requests `fake` picks 201 with a Location,
/// without passing them on: a registry that says it took what it never stored.
async fn claiming_201(upstream: String, fake: fn(&str, &str, &str) -> bool) -> SocketAddr {
    let app = axum::Router::new().fallback(move |req: Request| {
        let upstream = upstream.clone();
        async move {
            let (method, path) = (req.method().as_str(), req.uri().path());
            let query = req.uri().query().unwrap_or("");
            if fake(method, path, query) {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::CREATED;
                let at = path.replace("/uploads/", "/").to_string();
                r.headers_mut()
                    .insert("location", HeaderValue::from_str(&at).unwrap());
                return r;
            }
            let (status, headers, body) = forward_parts(req, &upstream, false).await;
            answer(status, headers, body)
        }
    });
    serve_router(app).await
}

async fn optional_push(scenario: &str, fake: fn(&str, &str, &str) -> bool) -> (String, Outcome) {
    let reg = start(Config::default(), false).await;
    let front = claiming_201(reg.url.clone(), fake).await;
    let ctx = context(&format!("http://{front}"), ClientConfig::default(), false);
    let specs = specs();
    let r = run_scenario(&specs, &ctx, scenario).await;
    reg.server.shutdown().await;
    let v = requirement_verdicts(&specs, std::slice::from_ref(&r));
    let text = regverify::runner::harness::failure_text(&specs, &r);
    let may = specs
        .scenarios
        .iter()
        .find(|s| s.id == scenario)
        .unwrap()
        .requirements[0]
        .clone();
    (text, v[&may])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_201_to_an_optional_push_is_no_support_until_the_blob_reads_back() {
    // a single POST with ?digest= answered 201, the blob never stored
    let (text, single_post) = optional_push("single-post", |m, p, q| {
        m == "POST" && p.ends_with("/blobs/uploads/") && q.contains("digest=")
    })
    .await;
    assert_eq!(single_post, Outcome::Fail, "{text}");
    // the closing PUT that carries the last chunk answered 201, the upload never closed
    let (text, last_in_put) = optional_push("chunked-last-in-put", |m, p, q| {
        m == "PUT" && p.contains("/blobs/uploads/") && q.contains("digest=")
    })
    .await;
    assert_eq!(last_in_put, Outcome::Fail, "{text}");
}
