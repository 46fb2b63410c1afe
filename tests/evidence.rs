//! What a run keeps stays bounded whatever the registry sends: a proxy in front of the
//! reference (on loopback) answers with huge error bodies or endless pages, and the run must
//! end with small reports, small output, and evidence that names what it cut.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::Request;
use axum::http::HeaderValue;
use bytes::Bytes;
use common::{answer, context, forward_parts, run_scenario, serve_router, specs, start};
use regverify::oci::Digest;
use regverify::runner::client::ClientConfig;
use regverify::runner::exec::Verdict;
use regverify::server::Config;

type Rewrite =
    Arc<dyn Fn(&str, &str, &mut u16, &mut reqwest::header::HeaderMap, &mut Bytes) + Send + Sync>;

/// A proxy to `upstream` whose answers `rewrite` may change (status, headers, body); it
/// sees the method and the path with its query.
async fn proxy(upstream: String, rewrite: Rewrite) -> String {
    let app = axum::Router::new().fallback(move |req: Request| {
        let (upstream, rewrite) = (upstream.clone(), rewrite.clone());
        async move {
            let method = req.method().as_str().to_string();
            let pq = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let (mut status, mut headers, mut body) = forward_parts(req, &upstream, false).await;
            rewrite(&method, &pq, &mut status, &mut headers, &mut body);
            answer(status, headers, body)
        }
    });
    format!("http://{}", serve_router(app).await)
}

/// A JSON body of exactly `size` bytes that is no error envelope (compact, so the JSON the
/// runner shows of it is these very bytes).
fn junk_json(size: usize) -> Bytes {
    let frame = r#"{"junk":""}"#.len();
    Bytes::from(format!(r#"{{"junk":"{}"}}"#, "a".repeat(size - frame)))
}

/// Every 4xx answer carries `body` instead of its own (as JSON).
fn error_bodies(body: Bytes) -> Rewrite {
    Arc::new(move |_, _, status, headers, b| {
        if (400..500).contains(status) {
            *b = body.clone();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
        }
    })
}

/// `regverify run` with every report written into `dir`.
async fn run_binary(url: &str, filter: &str, dir: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regverify"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", url, filter, "--test-threads", "2", "--report-dir"])
        .arg(dir)
        .arg("--markdown")
        .arg(dir.join("summary.md"))
        .args(extra);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

const REPORTS: [&str; 4] = ["results.json", "junit.xml", "report.html", "summary.md"];

/// Scenarios whose answers include 4xx JSON bodies the envelope check reads.
const WITH_ERRORS: &str = "errors::";

#[tokio::test(flavor = "multi_thread")]
async fn huge_error_bodies_leave_reports_and_output_small() {
    const SIZE: usize = 16 * 1024 * 1024;
    let reg = start(Config::default(), false).await;
    let body = junk_json(SIZE);
    let digest = Digest::sha256(&body);
    let url = proxy(reg.url.clone(), error_bodies(body)).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(&url, WITH_ERRORS, dir.path(), &[]).await;
    reg.server.shutdown().await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let head = |s: &str| s.chars().take(2000).collect::<String>();
    // the run ends as runs with failures do (not killed, not aborted without reports)
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        head(&stdout),
        head(&stderr)
    );
    assert!(
        out.stdout.len() + out.stderr.len() < 256 * 1024,
        "terminal output of {} bytes",
        out.stdout.len() + out.stderr.len()
    );
    // the evidence keeps the body's size and digest, in every report
    let kept = format!("({SIZE} bytes, {digest})");
    for name in REPORTS {
        let path = dir.path().join(name);
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len < 2 * 1024 * 1024, "{name} is {len} bytes");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&kept), "{name} does not name {kept}");
    }
    assert!(stdout.contains(&kept), "{}", head(&stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn max_body_is_honoured() {
    let reg = start(Config::default(), false).await;
    let url = proxy(reg.url.clone(), error_bodies(junk_json(2 * 1024 * 1024))).await;
    let dir = tempfile::tempdir().unwrap();
    let small = run_binary(&url, WITH_ERRORS, dir.path(), &["--max-body", "1MiB"]).await;
    let results = std::fs::read_to_string(dir.path().join("results.json")).unwrap_or_default();
    let big = run_binary(&url, WITH_ERRORS, dir.path(), &["--max-body", "3MiB"]).await;
    let big_results = std::fs::read_to_string(dir.path().join("results.json")).unwrap_or_default();
    reg.server.shutdown().await;
    let said = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    // a 2 MiB body past a 1 MiB cap is not read: an error naming the cap
    assert!(
        results.contains("response body exceeds 1048576 bytes"),
        "{}",
        said(&small)
    );
    // under a 3 MiB cap it is read, and judged (it is no error envelope)
    assert!(
        !big_results.contains("response body exceeds"),
        "{}",
        said(&big)
    );
    assert!(big_results.contains("errors.envelope"), "{}", said(&big));
}

/// A registry whose tag list pages never end: the paginated step of `tags-last` (the only
/// one asking `n=2`) gets `per_page` tags of `tag_len` bytes per page, and a `Link` on.
fn tag_flood(per_page: usize, tag_len: usize) -> Rewrite {
    let pages = Arc::new(AtomicUsize::new(0));
    Arc::new(move |method, pq, status, headers, body| {
        if method != "GET" || !pq.contains("/tags/list?") || !pq.contains("n=2") {
            return;
        }
        let path = pq.split('?').next().unwrap_or_default();
        let page = pages.fetch_add(1, Ordering::Relaxed);
        let tags: Vec<String> = (0..per_page)
            .map(|i| format!("{page}-{i:0>tag_len$}"))
            .collect();
        *status = 200;
        *body = Bytes::from(serde_json::json!({"name": "flood", "tags": tags}).to_string());
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let next = format!("<{path}?n=2&last={page}>; rel=\"next\"");
        headers.insert("link", HeaderValue::from_str(&next).unwrap());
    })
}

async fn flooded(per_page: usize, tag_len: usize) -> regverify::runner::exec::ScenarioResult {
    let reg = start(Config::default(), false).await;
    let url = proxy(reg.url.clone(), tag_flood(per_page, tag_len)).await;
    let ctx = context(&url, ClientConfig::default(), false);
    let r = run_scenario(&specs(), &ctx, "tags-last").await;
    reg.server.shutdown().await;
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pagination_flood_ends_the_step_at_a_cap_as_an_error() {
    // many small tags: the cap on entries
    let r = flooded(2000, 8).await;
    let f = r.finding.as_ref().expect("a finding");
    assert_eq!(r.verdict, Verdict::Error, "{}", f.message);
    assert_eq!(f.step, "page from the middle to the end");
    assert!(
        f.message.contains("more than 100000 entries"),
        "{}",
        f.message
    );
    // fewer, longer ones (about 80 KiB a page): the cap on bytes, met before the entries'
    // and before the scenario's 1000 pages
    let r = flooded(40, 2048).await;
    let f = r.finding.as_ref().expect("a finding");
    assert_eq!(r.verdict, Verdict::Error, "{}", f.message);
    assert!(
        f.message.contains("more than 67108864 bytes"),
        "{}",
        f.message
    );
}
