//! The engine against registries that each break one rule: a mutating proxy in front of the
//! reference for HTTP-level faults, raw TCP servers for transport faults. Each must give a
//! fail on the right step and requirement, or an error for transport faults; never a pass,
//! a hang or a crash.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use common::{answer, context, forward_parts, run_scenario, serve_router, specs, start};
use regverify::runner::client::{ClientConfig, Credentials};
use regverify::runner::exec::{ScenarioResult, Verdict};
use regverify::server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Mutate = Arc<dyn Fn(&str, &str, &mut u16, &mut HeaderMap, &mut Bytes) + Send + Sync>;

/// A proxy to `upstream` that lets `mutate` rewrite every answer.
async fn proxy(upstream: String, mutate: Mutate) -> SocketAddr {
    let app = axum::Router::new().fallback(move |req: Request| {
        let (upstream, mutate) = (upstream.clone(), mutate.clone());
        async move {
            let method = req.method().as_str().to_string();
            let path = req.uri().path().to_string();
            let (mut status, mut headers, mut body) = forward_parts(req, &upstream, false).await;
            mutate(&method, &path, &mut status, &mut headers, &mut body);
            answer(status, headers, body)
        }
    });
    serve_router(app).await
}

async fn against_broken(mutate: Mutate, scenario: &str) -> ScenarioResult {
    let reg = start(Config::default(), false).await;
    let addr = proxy(reg.url.clone(), mutate).await;
    let ctx = context(&format!("http://{addr}"), ClientConfig::default(), false);
    let r = run_scenario(&specs(), &ctx, scenario).await;
    reg.server.shutdown().await;
    r
}

fn assert_fail(r: &ScenarioResult, requirement: &str, step: &str) {
    let text = regverify::runner::harness::failure_text(&specs(), r);
    assert_eq!(r.verdict, Verdict::Fail, "{text}");
    let f = r.finding.as_ref().unwrap();
    assert_eq!(f.requirement.as_deref(), Some(requirement), "{text}");
    assert_eq!(f.step, step, "{text}");
    assert!(!f.transcript.is_empty(), "a failure shows its exchange");
}

fn is_blob_get(m: &str, p: &str) -> bool {
    m == "GET" && p.contains("/blobs/sha256:")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_blob_body_fails_the_pull() {
    let r = against_broken(
        Arc::new(|m, p, _, _, body| {
            if is_blob_get(m, p) && !body.is_empty() {
                let mut v = body.to_vec();
                v[body.len() / 2] ^= 0xff;
                *body = Bytes::from(v);
            }
        }),
        "blob-get",
    )
    .await;
    assert_fail(
        &r,
        "pull.blob.get",
        "pull it by digest before any manifest exists",
    );
    assert!(
        r.finding
            .unwrap()
            .message
            .contains("first difference at byte 32768")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_status_fails_the_step() {
    let r = against_broken(
        Arc::new(|m, p, status, _, _| {
            if m == "PUT" && p.contains("/manifests/") && *status == 201 {
                *status = 200;
            }
        }),
        "manifest-by-tag",
    )
    .await;
    assert_fail(&r, "push.manifest.201", "push the manifest by tag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_header_fails_its_requirement() {
    let r = against_broken(
        Arc::new(|m, p, _, h, _| {
            if is_blob_get(m, p) {
                h.remove("docker-content-digest");
            }
        }),
        "blob-get",
    )
    .await;
    assert_fail(
        &r,
        "pull.blob.digest-header",
        "pull it by digest before any manifest exists",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_header_that_does_not_match_the_body_fails() {
    let wrong = regverify::oci::Digest::sha256(b"other").to_string();
    let r = against_broken(
        Arc::new(move |m, p, _, h, _| {
            if is_blob_get(m, p) {
                h.insert(
                    "docker-content-digest",
                    HeaderValue::from_str(&wrong).unwrap(),
                );
            }
        }),
        "blob-get",
    )
    .await;
    assert_fail(
        &r,
        "pull.digest-header-matches",
        "pull it by digest before any manifest exists",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_error_code_fails_and_a_malformed_one_breaks_the_form() {
    let r = against_broken(
        Arc::new(|m, p, status, _, body| {
            if m == "PUT" && p.contains("/manifests/") && *status == 400 {
                *body = Bytes::from_static(
                    br#"{"errors":[{"code":"MANIFEST_INVALID","message":"x"}]}"#,
                );
            }
        }),
        "manifest-missing-blob",
    )
    .await;
    // the requirement names the code (MANIFEST_BLOB_UNKNOWN): another one fails it
    assert_fail(&r, "push.manifest.missing-blobs-code", "push the manifest");
    let f = r.finding.unwrap();
    assert!(
        f.message.contains("expected MANIFEST_BLOB_UNKNOWN"),
        "{}",
        f.message
    );
    assert_eq!(f.failures[0].query, "error code");
    assert_eq!(f.failures[0].got, "[\"MANIFEST_INVALID\"]");

    let r = against_broken(
        Arc::new(|_, _, status, _, body| {
            if *status == 404 {
                *body = Bytes::from_static(br#"{"errors":[{"code":"blob_unknown"}]}"#);
            }
        }),
        "blob-404",
    )
    .await;
    assert_fail(&r, "errors.code-form", "GET an unknown blob");

    let r = against_broken(
        Arc::new(|_, _, status, _, body| {
            if *status == 404 {
                *body = Bytes::from_static(br#"{"error":"not found"}"#);
            }
        }),
        "blob-404",
    )
    .await;
    assert_fail(&r, "errors.envelope", "GET an unknown blob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_json_4xx_body_is_allowed() {
    let r = against_broken(
        Arc::new(|_, _, status, h, body| {
            if *status == 404 {
                h.insert("content-type", HeaderValue::from_static("text/plain"));
                *body = Bytes::from_static(b"404 page not found\n");
            }
        }),
        "blob-404",
    )
    .await;
    assert_eq!(r.verdict, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_out_of_order_accepted_is_caught() {
    // distribution 2.8's behaviour: 202 for a chunk that skips ahead
    let r = against_broken(
        Arc::new(|m, _, status, _, _| {
            if m == "PATCH" && *status == 416 {
                *status = 202;
            }
        }),
        "chunk-out-of-order",
    )
    .await;
    assert_fail(&r, "push.chunk.order", "a chunk that skips ahead");
}

/// A raw TCP server answering every connection with `respond`.
async fn raw_server<F, Fut>(respond: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let r = respond.clone();
            tokio::spawn(async move { r(s).await });
        }
    });
    addr
}

async fn read_request(s: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
}

async fn transport_fault(addr: SocketAddr, config: ClientConfig) -> (ScenarioResult, Duration) {
    let ctx = context(&format!("http://{addr}"), config, false);
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        run_scenario(&specs(), &ctx, "base-v2"),
    )
    .await
    .expect("the runner must not hang");
    (r, start.elapsed())
}

fn short_timeout() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(1),
        max_body: 1024 * 1024,
        ..ClientConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_faults_are_errors_not_hangs() {
    let hang = raw_server(|mut s| async move {
        read_request(&mut s).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let drip = raw_server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
            .await;
        for _ in 0..600 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let endless = raw_server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("{:x}\r\n{}\r\n", 65536, "z".repeat(65536));
        // bounded: 64 MiB at most, far past the runner's 1 MiB cap
        for _ in 0..1024 {
            if s.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let garbage = raw_server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nthis is no header\r\n\x01\x02\r\n\r\n")
            .await;
    })
    .await;
    let reset = raw_server(|mut s| async move {
        read_request(&mut s).await;
        // a zero linger makes the close a reset (RST), which is the fault under test
        #[allow(deprecated)]
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    })
    .await;
    for (what, addr) in [
        ("hang", hang),
        ("drip", drip),
        ("endless body", endless),
        ("garbage headers", garbage),
        ("reset", reset),
    ] {
        let (r, took) = transport_fault(addr, short_timeout()).await;
        assert_eq!(r.verdict, Verdict::Error, "{what}: {:?}", r.finding);
        assert!(took < Duration::from_secs(10), "{what} took {took:?}");
        let f = r.finding.unwrap();
        assert_eq!(f.step, "version check", "{what}");
        assert!(
            f.requirement.is_none(),
            "{what}: an error names no requirement"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_without_forwarding_credentials() {
    let reg = start(Config::default(), false).await;
    // the "CDN": another host name, records the Authorization headers it sees
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let cdn = {
        let (seen, upstream) = (seen.clone(), reg.url.clone());
        let app = axum::Router::new().fallback(move |req: Request| {
            let (seen, upstream) = (seen.clone(), upstream.clone());
            async move {
                seen.lock().unwrap().push(
                    req.headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string()),
                );
                let path = req.uri().path().trim_start_matches("/cdn");
                let res = reqwest::get(format!("{upstream}{path}")).await.unwrap();
                Response::new(Body::from(res.bytes().await.unwrap()))
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(l, app).await });
        port
    };
    // the registry: Basic auth required, blob GETs redirected to the CDN
    let authed: Arc<Mutex<u32>> = Arc::default();
    let a2 = authed.clone();
    let addr = proxy(
        reg.url.clone(),
        Arc::new(move |m, p, status, h, body| {
            if is_blob_get(m, p) && *status == 200 {
                *status = 307;
                *body = Bytes::new();
                let digest = h.get("docker-content-digest").cloned();
                h.clear();
                if let Some(d) = digest {
                    h.insert("docker-content-digest", d);
                }
                h.insert(
                    "location",
                    HeaderValue::from_str(&format!("http://localhost:{cdn}/cdn{p}")).unwrap(),
                );
            }
            let _ = &a2;
        }),
    )
    .await;
    // a front that demands credentials before proxying
    let front = {
        let authed = authed.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let authed = authed.clone();
            async move {
                let ok = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    == Some("Basic dXNlcjpzM2NyZXQ=");
                if !ok {
                    let mut r = Response::new(Body::from(
                        r#"{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}"#,
                    ));
                    *r.status_mut() = StatusCode::UNAUTHORIZED;
                    r.headers_mut().insert(
                        "www-authenticate",
                        HeaderValue::from_static("Basic realm=\"test\""),
                    );
                    return r;
                }
                *authed.lock().unwrap() += 1;
                let (status, headers, body) =
                    forward_parts(req, &format!("http://{addr}"), false).await;
                answer(status, headers, body)
            }
        });
        serve_router(app).await
    };
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
    let r = run_scenario(&specs(), &ctx, "blob-get").await;
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.finding);
    assert!(*authed.lock().unwrap() >= 3, "the registry saw credentials");
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the redirect was followed");
    assert!(
        seen.iter().all(Option::is_none),
        "Authorization leaked to another host: {seen:?}"
    );
    // and no transcript shows the password
    let all = serde_json::to_string(&r.exchanges).unwrap();
    assert!(
        !all.contains("dXNlcjpzM2NyZXQ="),
        "credentials in the transcript"
    );
    assert!(all.contains("Basic <redacted>"));
    // every hop is in the transcript
    assert!(r.exchanges.iter().any(|e| e.status == Some(307)));
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_fetched_from_the_challenge_and_cached() {
    let reg = start(Config::default(), false).await;
    let upstream = proxy(reg.url.clone(), Arc::new(|_, _, _, _, _| {})).await;
    // the token service: Basic credentials in, a token out; records each request
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let token_port = {
        let requests = requests.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let requests = requests.clone();
            async move {
                let basic = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    == Some("Basic dXNlcjpzM2NyZXQ=");
                requests
                    .lock()
                    .unwrap()
                    .push(req.uri().query().unwrap_or("").to_string());
                if !basic {
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::UNAUTHORIZED;
                    return r;
                }
                // access_token, as OAuth2 servers answer
                Response::new(Body::from(
                    r#"{"access_token":"t0k3n-value","expires_in":300}"#,
                ))
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(l, app).await });
        port
    };
    let front = {
        let app = axum::Router::new().fallback(move |req: Request| async move {
            let ok = req.headers().get("authorization").and_then(|v| v.to_str().ok())
                == Some("Bearer t0k3n-value");
            if !ok {
                let repo = regverify::oci::api::Target::parse(req.uri().path())
                    .and_then(|t| t.name().map(String::from))
                    .unwrap_or_default();
                let mut r = Response::new(Body::from(r#"{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}"#));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                let ch = format!(
                    "Bearer realm=\"http://127.0.0.1:{token_port}/token\",service=\"selftest\",scope=\"repository:{repo}:pull,push\""
                );
                r.headers_mut().insert("www-authenticate", HeaderValue::from_str(&ch).unwrap());
                return r;
            }
            let (status, headers, body) = forward_parts(req, &format!("http://{upstream}"), true).await;
            answer(status, headers, body)
        });
        serve_router(app).await
    };
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
    let r = run_scenario(&specs(), &ctx, "manifest-by-tag").await;
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.finding);
    let requests = requests.lock().unwrap().clone();
    assert!(!requests.is_empty(), "no token was fetched");
    assert!(requests[0].contains("service=selftest"), "{requests:?}");
    assert!(
        requests[0].contains("scope=repository%3Aselftest%2Fmanifest-by-tag"),
        "{requests:?}"
    );
    // one token per (repository, access), not one per request
    assert!(
        requests.len() <= 3,
        "tokens are not cached: {} fetched",
        requests.len()
    );
    let all = serde_json::to_string(&r.exchanges).unwrap();
    assert!(
        !all.contains("t0k3n-value"),
        "a token leaked into the transcript"
    );
    assert!(
        !all.contains("dXNlcjpzM2NyZXQ="),
        "credentials leaked into the transcript"
    );
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_that_passed_stay_passed_and_later_ones_are_not_verified() {
    use regverify::runner::exec::Outcome;
    // the upload-status GET answers 200 instead of 204
    let r = against_broken(
        Arc::new(|m, p, status, _, _| {
            if m == "GET" && p.contains("/blobs/uploads/") && *status == 204 {
                *status = 200;
            }
        }),
        "chunked",
    )
    .await;
    assert_fail(&r, "push.status.204", "status of the upload");
    let outcome = |req: &str| -> Vec<Outcome> {
        r.checks
            .iter()
            .filter(|c| c.requirement == req)
            .map(|c| c.outcome)
            .collect()
    };
    // the session and the chunks were judged before the failure and keep their pass
    assert!(outcome("push.post.202").iter().all(|o| *o == Outcome::Pass));
    assert_eq!(outcome("push.chunk.202"), vec![Outcome::Pass; 3]);
    // the failing step: its status failed, and its other checks were judged all the same
    assert_eq!(
        outcome("push.status.204"),
        vec![Outcome::Fail, Outcome::Pass, Outcome::Pass]
    );
    let failed = r
        .checks
        .iter()
        .find(|c| c.outcome == Outcome::Fail)
        .unwrap();
    assert_eq!(
        (failed.expected.as_deref(), failed.got.as_deref()),
        (Some("204"), Some("200"))
    );
    assert!(failed.source.contains("push.yaml:"), "{}", failed.source);
    // the close needs only the chunks: it ran, and its checks were judged
    let close = outcome("push.chunk.close");
    assert!(
        !close.is_empty() && close.iter().all(|o| *o == Outcome::Pass),
        "{close:?}"
    );
    // requirement verdicts: a pass is not undone by a later failure
    let v = regverify::runner::verdict::requirement_verdicts(&specs(), std::slice::from_ref(&r));
    assert_eq!(v["push.chunk.202"], Outcome::Pass);
    assert_eq!(v["push.status.204"], Outcome::Fail);
    assert_eq!(v["push.chunk.close"], Outcome::Pass);

    // the chunks answered 204: a success, so they took effect; only the chunk status fails,
    // and the close, the status checks and the pull after it are still judged
    let r = against_broken(
        Arc::new(|m, p, status, _, _| {
            if m == "PATCH" && p.contains("/blobs/uploads/") && *status == 202 {
                *status = 204;
            }
        }),
        "chunked",
    )
    .await;
    assert_fail(&r, "push.chunk.202", "send four chunks");
    let failed: BTreeSet<&str> = r
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| c.requirement.as_str())
        .collect();
    assert_eq!(failed, BTreeSet::from(["push.chunk.202"]), "{:?}", r.checks);
    assert!(
        r.checks.iter().all(|c| c.outcome != Outcome::NotVerified),
        "{:?}",
        r.checks
    );
    let v = regverify::runner::verdict::requirement_verdicts(&specs(), std::slice::from_ref(&r));
    assert_eq!(v["push.chunk.close"], Outcome::Pass);
    assert_eq!(v["push.status.204"], Outcome::Pass);

    // the chunks refused (no success): what relies on them is not run, and names the step
    // relied on at its place in the file
    let r = against_broken(
        Arc::new(|m, p, status, _, _| {
            if m == "PATCH" && p.contains("/blobs/uploads/") && *status == 202 {
                *status = 500;
            }
        }),
        "chunked",
    )
    .await;
    assert_fail(&r, "push.chunk.202", "send four chunks");
    let blocked: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::NotVerified)
        .collect();
    assert!(
        blocked.iter().any(|c| c.requirement == "push.chunk.close"),
        "{blocked:?}"
    );
    for c in blocked {
        let by = c.blocked_by.as_deref().unwrap();
        assert!(
            by.starts_with("step \"send four chunks\" at ")
                && by.contains("specs/scenarios/push.yaml:")
                && by.contains("did not take effect: status: expected 202, got 500"),
            "{by}"
        );
    }
    let v = regverify::runner::verdict::requirement_verdicts(&specs(), std::slice::from_ref(&r));
    assert_eq!(v["push.chunk.close"], Outcome::NotVerified);
    assert_eq!(v["pull.blob.get"], Outcome::NotVerified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_tag_sent_one_tag_per_line_is_read_whole() {
    // the spec's own example sends each tag on a header line of its own
    let r = against_broken(
        Arc::new(|m, p, _, headers, _| {
            if m == "PUT" && p.contains("/manifests/sha256:") {
                let tags: Vec<String> = headers
                    .get_all("oci-tag")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(',').map(|t| t.trim().to_string()))
                    .collect();
                headers.remove("oci-tag");
                for t in tags {
                    headers.append("oci-tag", HeaderValue::from_str(&t).unwrap());
                }
            }
        }),
        "tag-parameters",
    )
    .await;
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{}",
        regverify::runner::harness::failure_text(&specs(), &r)
    );
    let put = r
        .exchanges
        .iter()
        .find(|e| e.method == "PUT" && e.url.contains("tag="))
        .unwrap();
    let lines = put
        .response_headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("oci-tag"))
        .count();
    assert_eq!(
        lines, 2,
        "the proxy split OCI-Tag: {:?}",
        put.response_headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_concurrent_step_shows_its_own_exchange_first() {
    // the third read fails: the two reads before it and the pushes beside it are cut
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = against_broken(
        Arc::new(move |m, p, status, _, _| {
            if m == "GET" && p.ends_with("/manifests/moving") {
                let n = reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n == 2 {
                    *status = 500;
                }
            }
        }),
        "tag-moved-while-read",
    )
    .await;
    assert_fail(&r, "pull.manifest.get", "move the tag while reading it");
    let finding = r.finding.as_ref().unwrap();
    let first = &finding.transcript[0];
    assert_eq!(
        (first.method.as_str(), first.status),
        ("GET", Some(500)),
        "the failing answer leads the transcript"
    );
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  > GET ") || l.starts_with("  > PUT "))
        .collect();
    assert_eq!(
        requests.len(),
        1,
        "only the failing exchange is printed:\n{text}"
    );
    assert!(text.contains("  < 500"), "{text}");
    let others = finding.transcript.len() - 1;
    assert!(
        text.contains(&format!("{others} other exchange(s) of the step")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_disabled_with_a_400_of_any_code_is_a_skip() {
    // "either a 400 Bad Request or a 405 Method Not Allowed", no code named
    for scenario in ["delete-tag", "delete-manifest", "delete-blob"] {
        let r = against_broken(
            Arc::new(|m, _, status, headers, body| {
                if m == "DELETE" && *status == 202 {
                    *status = 400;
                    headers.insert("content-type", HeaderValue::from_static("application/json"));
                    *body = Bytes::from_static(
                        br#"{"errors":[{"code":"DENIED","message":"deletes are off"}]}"#,
                    );
                }
            }),
            scenario,
        )
        .await;
        assert_eq!(r.verdict, Verdict::Skip, "{scenario}: {:?}", r.finding);
        assert!(r.skip_reason.as_deref().unwrap().contains("disabled"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_digest_needs_a_400_whatever_its_code() {
    // "the registry SHOULD respond with a response code 400 Bad Request": no code named
    let r = against_broken(
        Arc::new(|m, p, status, headers, body| {
            if m == "PUT" && p.contains("/blobs/uploads/") && *status == 400 {
                headers.insert("content-type", HeaderValue::from_static("application/json"));
                *body = Bytes::from_static(
                    br#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"no"}]}"#,
                );
            }
        }),
        "invalid-digest",
    )
    .await;
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.finding);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_may_carry_another_valid_code_where_the_spec_fixes_only_the_status() {
    // "If the blob is not found in the repository, the response code MUST be 404"
    let r = against_broken(
        Arc::new(|_, _, status, headers, body| {
            if *status == 404 {
                headers.insert("content-type", HeaderValue::from_static("application/json"));
                *body = Bytes::from_static(
                    br#"{"errors":[{"code":"NAME_UNKNOWN","message":"not here"}]}"#,
                );
            }
        }),
        "blob-404",
    )
    .await;
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.finding);
}

/// An answer whose body ends before its Content-Length (the connection closed) is judged:
/// its status check holds and stays passed, the broken framing is a failure of
/// `http.framing` of its own, not an error that voids the scenario.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_fails_framing_and_its_status_is_still_judged() {
    use regverify::runner::exec::Outcome;
    let short = raw_server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"a\":")
            .await;
        let _ = s.shutdown().await;
    })
    .await;
    let (r, _) = transport_fault(short, short_timeout()).await;
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    assert_eq!(r.verdict, Verdict::Fail, "{text}");
    let f = r.finding.as_ref().unwrap();
    assert_eq!(f.requirement.as_deref(), Some("http.framing"), "{text}");
    assert_eq!(f.step, "version check");
    assert!(f.message.contains("5 of the 100 bytes"), "{text}");
    let outcome = |req: &str| {
        r.checks
            .iter()
            .filter(|c| c.requirement == req)
            .map(|c| c.outcome)
            .collect::<Vec<_>>()
    };
    assert_eq!(outcome("base.v2"), [Outcome::Pass], "{:#?}", r.checks);
    assert_eq!(outcome("http.framing"), [Outcome::Fail], "{:#?}", r.checks);
}

#[tokio::test]
async fn a_broken_push_way_fails_once_and_the_scenario_goes_on_by_another() {
    use regverify::runner::exec::Outcome;
    // every PUT closing an upload answers 200 instead of 201: the monolithic and the
    // chunked ways fail, single-POST still gets the blob in
    let r = against_broken(
        Arc::new(|m, p, status, _, _| {
            if m == "PUT" && p.contains("/blobs/uploads/") && *status == 201 {
                *status = 200;
            }
        }),
        "blob-get",
    )
    .await;
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    assert_eq!(r.verdict, Verdict::Fail, "{text}");
    let outcomes = |req: &str| -> Vec<Outcome> {
        r.checks
            .iter()
            .filter(|c| c.requirement == req)
            .map(|c| c.outcome)
            .collect()
    };
    // each broken way is its own requirement's failure, once
    assert_eq!(outcomes("push.put.201"), vec![Outcome::Fail], "{text}");
    assert_eq!(outcomes("push.chunk.close"), vec![Outcome::Fail], "{text}");
    // the blob got in by single POST, so the pull was judged, and held
    let pulled = outcomes("pull.blob.get");
    assert!(!pulled.is_empty(), "{text}");
    assert!(pulled.iter().all(|o| *o == Outcome::Pass), "{text}");
    assert!(
        r.exchanges
            .iter()
            .any(|e| e.method == "POST" && e.url.contains("digest=")),
        "the fallback is in the transcript"
    );
}

#[tokio::test]
async fn body_checks_of_a_body_cut_short_are_not_verified_with_the_reason() {
    use regverify::runner::exec::Outcome;
    use regverify::server::defects::Defect;
    let reg = start(
        Config {
            defect: Some(Defect::BlobShortBody),
            ..Config::default()
        },
        false,
    )
    .await;
    let ctx = context(&reg.url, ClientConfig::default(), false);
    let r = run_scenario(&specs(), &ctx, "blob-get").await;
    reg.server.shutdown().await;
    let text = regverify::runner::harness::failure_text(&specs(), &r);
    assert_eq!(r.verdict, Verdict::Fail, "{text}");
    let pull: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.requirement == "pull.blob.get")
        .collect();
    // the status was judged; the body, cut short, could not be: not verified, and why
    assert!(pull.iter().any(|c| c.outcome == Outcome::Pass), "{pull:#?}");
    let unread = pull
        .iter()
        .find(|c| c.outcome == Outcome::NotVerified)
        .unwrap_or_else(|| panic!("the body check is listed as not verified: {pull:#?}"));
    assert!(
        unread
            .blocked_by
            .as_deref()
            .is_some_and(|b| b.contains("http.framing")),
        "{unread:#?}"
    );
}

/// Run-wide requirements take their verdict from every answer they bear on, not from the
/// scenario that lists them: `blob-get` names `http.framing`, and stops at a pull answered
/// 500; every answer it got was framed whole, so `http.framing` passes (it used to be "not
/// verified" whenever that one scenario stopped early); a 500 is no 4xx, so it bears no
/// duty of the error envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wide_requirements_are_judged_on_every_answer() {
    use regverify::runner::exec::Outcome;
    let r = against_broken(
        Arc::new(|m, p, status, _, _| {
            if is_blob_get(m, p) {
                *status = 500;
            }
        }),
        "blob-get",
    )
    .await;
    assert_eq!(r.verdict, Verdict::Fail);
    let framing: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.requirement == "http.framing")
        .collect();
    assert!(
        framing
            .iter()
            .any(|c| c.outcome == Outcome::Pass && c.step == "every answer"),
        "{:?}",
        r.checks
    );
    assert!(framing.iter().all(|c| c.outcome == Outcome::Pass));
    let v = regverify::runner::verdict::requirement_verdicts(&specs(), std::slice::from_ref(&r));
    assert_eq!(v["http.framing"], Outcome::Pass);
    assert!(
        !r.checks.iter().any(|c| c.requirement == "errors.envelope"),
        "a 500 bears no envelope duty: {:?}",
        r.checks
    );
}
