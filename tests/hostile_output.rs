//! What a hostile registry sends cannot take over what a run shows: the binary against a
//! front of the reference (on loopback) that answers with carriage returns, vertical tabs,
//! C1 and bidi controls, characters XML forbids, Markdown links and images, raw HTML, a
//! token that straddles the cut of shown bodies, and the password it was sent. Every output
//! is read back: the terminal holds no raw control, JUnit parses, the Markdown renders
//! nothing live, the baseline reloads, and no output holds a credential.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use common::{answer, forward_parts, serve_router, start};
use regverify::server::Config;

const USER: &str = "us@er";
const PASSWORD: &str = "p:ss-W0rd.7";
/// The same credentials as they are written in a URL's user-info.
const USERINFO: &str = "us%40er:p%3Ass-W0rd.7";

/// Text no output may show raw: a line overwritten by a carriage return, vertical tab and
/// form feed, NEL (C1), bidi overrides and isolates, two characters XML forbids, a link, an
/// image, HTML.
const HOSTILE: &str = "[click](https://evil.example/link) ![x](https://evil.example/pixel.png) \
     <img src=\"https://evil.example/img.png\"> <b>bold</b>\rscenarios: 80 passed, 0 failed\
     \x0b\x0c\u{85}\u{202e}txt.exe\u{2066}\u{2069}\u{fffe}\u{ffff}";

/// A token of 700 characters, in a body where the 1 KiB cut of shown text falls inside it.
fn token() -> String {
    (0..700)
        .map(|i| (b'A' + (i * 7 % 26) as u8) as char)
        .collect()
}

fn hostile_blob_body() -> Vec<u8> {
    let mut b = HOSTILE.to_string();
    b.push('\n');
    while b.len() < 900 {
        b.push_str("padding ");
    }
    b.push_str(&format!(
        "{{\"token\": \"{}\", \"expires_in\": 60}}\n",
        token()
    ));
    b.into_bytes()
}

fn basic() -> String {
    let raw = format!("{USER}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// What the front answers besides forwarding.
#[derive(Clone, Copy, PartialEq)]
enum Front {
    /// Forwards the registry's answers as they are.
    Faithful,
    /// Rewrites them with hostile text.
    Hostile,
}

/// A front of a reference registry on 127.0.0.1 that demands Basic credentials `USER` /
/// `PASSWORD`. Returns its address and how many requests it refused.
async fn front(mode: Front) -> (String, Arc<AtomicUsize>, common::Registry) {
    regverify::runner::client::install_crypto();
    let reg = start(Config::default(), false).await;
    let upstream = reg.url.clone();
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (upstream, counter) = (upstream.clone(), counter.clone());
        async move {
            let sent = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if sent.as_deref() != Some(&basic()) {
                if sent.is_some() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                let mut r = Response::new(Body::from(
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"credentials needed"}]}"#,
                ));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                r.headers_mut().insert(
                    "www-authenticate",
                    HeaderValue::from_static("Basic realm=\"hostile\""),
                );
                return r;
            }
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let (status, mut headers, mut body) = forward_parts(req, &upstream, true).await;
            if mode == Front::Hostile {
                if (400..500).contains(&status) {
                    // JSON, but no error envelope: the run quotes it; and the password the
                    // registry was sent, echoed
                    body = Bytes::from(
                        serde_json::json!({ "detail": format!("{HOSTILE} you sent {PASSWORD}") })
                            .to_string(),
                    );
                    headers.insert("content-type", HeaderValue::from_static("application/json"));
                }
                if method == "GET" && status == 200 && path.contains("/blobs/") {
                    body = Bytes::from(hostile_blob_body());
                }
                // header values may hold any byte above 0x7f: bidi controls in UTF-8
                headers.insert(
                    "x-note",
                    HeaderValue::from_bytes(
                        "\u{202e}\u{fffe} [x](https://evil.example/h)".as_bytes(),
                    )
                    .unwrap(),
                );
            }
            answer(status, headers, body)
        }
    });
    let a = serve_router(app).await;
    (format!("127.0.0.1:{}", a.port()), refused, reg)
}

fn regverify(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regverify"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env_remove("OCI_ROOT_URL")
        .env_remove("OCI_REGISTRY")
        .env_remove("OCI_USERNAME")
        .env_remove("OCI_PASSWORD")
        .env("NO_COLOR", "1");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// A run of the blob scenarios against the hostile front, every report written, exchanges
/// printed (`--debug`).
struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    dir: tempfile::TempDir,
}

impl Run {
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

async fn hostile_run(extra: &[&str]) -> Run {
    let (addr, _refused, reg) = front(Front::Hostile).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let p = |n: &str| d.join(n).display().to_string();
        let mut args = vec![
            "run".to_string(),
            format!("http://{addr}"),
            "pull::blob".into(),
            "--seed".into(),
            "7".into(),
            "--debug".into(),
            "--junit".into(),
            p("junit.xml"),
            "--json".into(),
            p("results.json"),
            "--html".into(),
            p("report.html"),
            "--markdown".into(),
            p("summary.md"),
        ];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        regverify(&args, &[("OCI_USERNAME", USER), ("OCI_PASSWORD", PASSWORD)])
    })
    .await
    .unwrap();
    reg.server.shutdown().await;
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
        dir,
    }
}

/// Characters no terminal line may hold raw.
fn raw_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{fffe}' | '\u{ffff}')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_shows_controls_and_bidi_escaped() {
    let run = hostile_run(&[]).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let bad: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.chars().any(raw_control))
            .collect();
        assert!(bad.is_empty(), "raw controls in {what}: {bad:?}");
    }
    // the hostile text did reach the terminal, escaped
    assert!(run.stdout.contains("\\u{202e}txt.exe"), "{}", run.stdout);
    assert!(
        run.stderr.contains("\\u{d}scenarios: 80 passed"),
        "{}",
        run.stderr
    );
    // the one summary line is the run's own
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("scenarios: "))
            .count(),
        1,
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_is_well_formed_whatever_the_registry_sent() {
    let run = hostile_run(&[]).await;
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let junit = run.read("junit.xml");
    let doc = roxmltree::Document::parse(&junit)
        .unwrap_or_else(|e| panic!("JUnit is not well-formed: {e}"));
    assert!(
        doc.descendants()
            .filter_map(|n| n.text())
            .any(|t| t.contains("\\u{fffe}")),
        "the registry's text is in the JUnit report, escaped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_of_a_run_reloads_and_matches_it() {
    let run = hostile_run(&[]).await;
    let results = run.path("results.json").display().to_string();
    let o = regverify(&["baseline", &results], &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let yaml = String::from_utf8(o.stdout).unwrap();
    let expect = run.path("expect.yaml");
    std::fs::write(&expect, &yaml).unwrap();
    let again = hostile_run(&["--expect", &expect.display().to_string()]).await;
    assert!(
        again.stdout.contains("expectations: the run matches"),
        "{}\n{}\n{yaml}",
        again.stdout,
        again.stderr
    );
    assert_eq!(again.code, Some(0));
    // what the registry sent is in the reasons, escaped
    assert!(yaml.contains("\\uFFFE"), "{yaml}");
}

/// What a Markdown reader renders: links, images, HTML; and the text outside code.
fn rendered(md: &str) -> (Vec<String>, Vec<String>) {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let mut live = vec![];
    let mut text = vec![];
    for e in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match e {
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => live.push(dest_url.to_string()),
            Event::Html(h) | Event::InlineHtml(h) => live.push(h.to_string()),
            Event::Text(t) => text.push(t.to_string()),
            _ => {}
        }
    }
    (live, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_renders_nothing_a_registry_sent() {
    let run = hostile_run(&[]).await;
    let md = run.read("summary.md");
    assert!(
        md.contains("evil.example"),
        "the hostile text is quoted: {md}"
    );
    let (live, text) = rendered(&md);
    assert!(
        live.iter().all(|l| !l.contains("evil.example")),
        "live links, images or HTML from the registry: {live:?}\n{md}"
    );
    // outside code spans no bare URL either (GitHub would link it)
    assert!(
        text.iter().all(|t| !t.contains("evil.example")),
        "{text:?}\n{md}"
    );
    assert!(!md.chars().any(raw_control), "{md:?}");
}

/// Every output of a hostile run, the baseline made from it included.
fn outputs(run: &Run) -> Vec<(&'static str, String)> {
    let results = run.path("results.json").display().to_string();
    let baseline = regverify(&["baseline", &results], &[]);
    vec![
        ("stdout", run.stdout.clone()),
        ("stderr (--debug transcripts)", run.stderr.clone()),
        ("junit", run.read("junit.xml")),
        ("json", run.read("results.json")),
        ("html", run.read("report.html")),
        ("markdown", run.read("summary.md")),
        (
            "baseline",
            String::from_utf8_lossy(&baseline.stdout).into_owned(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_shows_the_password_the_registry_echoes() {
    let run = hostile_run(&[]).await;
    // the registry did echo the password
    assert!(run.read("results.json").contains("you sent"));
    for (what, text) in outputs(&run) {
        if let Some(at) = text.find(PASSWORD) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(i, _)| i);
            panic!(
                "the password is in {what}: …{}",
                &text[from..at + PASSWORD.len()]
            );
        }
        assert!(
            !text.contains(&basic()[6..]),
            "the Basic value is in {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_across_the_cut_of_shown_bodies_is_hidden_whole() {
    let run = hostile_run(&[]).await;
    let token = token();
    // the body with the token was recorded, the token hidden
    assert!(
        run.read("results.json")
            .contains("\\\"token\\\": \\\"<redacted>"),
        "{}",
        run.read("results.json")
    );
    for (what, text) in outputs(&run) {
        for part in [&token[..12], &token[300..312], &token[688..]] {
            assert!(!text.contains(part), "part of the token is in {what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_url_are_percent_decoded() {
    let (addr, refused, reg) = front(Front::Faithful).await;
    let url = format!("http://{USERINFO}@{addr}");
    let out = tokio::task::spawn_blocking(move || {
        regverify(&["run", &url, "pull::blob-get", "--seed", "3"], &[])
    })
    .await
    .unwrap();
    reg.server.shutdown().await;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        refused.load(Ordering::SeqCst),
        0,
        "the registry refused the credentials it was sent: {text}"
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    assert!(
        !text.contains(PASSWORD) && !text.contains("p%3Ass"),
        "{text}"
    );
}

#[test]
fn a_url_that_does_not_parse_is_shown_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("matrix.md");
    let json = dir.path().join("matrix.json");
    // an invalid port: the URL does not parse
    let bad = "http://us:Hunter2-Secret@127.0.0.1:99999/";
    let run = regverify(&["run", bad], &[]);
    let matrix = regverify(
        &[
            "matrix",
            bad,
            "--markdown",
            &md.display().to_string(),
            "--json",
            &json.display().to_string(),
        ],
        &[],
    );
    let shown = |o: &Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert_eq!(run.status.code(), Some(2), "{}", shown(&run));
    assert!(
        shown(&run).contains("***@127.0.0.1:99999"),
        "{}",
        shown(&run)
    );
    for (what, text) in [
        ("run", shown(&run)),
        ("matrix", shown(&matrix)),
        ("matrix markdown", read(&md)),
        ("matrix json", read(&json)),
    ] {
        assert!(
            !text.contains("Hunter2-Secret"),
            "the password is in {what}: {text}"
        );
    }
}
