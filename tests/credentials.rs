//! The user's credentials go to the registry's origin and nowhere else, whatever way another
//! host's URL reaches the runner. A registry (a front to the reference that demands the
//! user's login) names a second loopback address, 127.0.0.2, as its storage host: upload
//! `Location`s, pagination `Link`s and blob redirects point there, and that host challenges
//! with a token realm of its own. `run`, `matrix` and `explore` are run as a user runs them,
//! with the password in the URL; the foreign host must receive no `Authorization` but the
//! anonymous token its own realm gave, and no credential in any form (password, Basic value,
//! the registry's tokens) in any header, URL or body.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use base64::Engine as _;
use bytes::Bytes;
use regverify::server::auth::{Auth, Mode, Settings};
use regverify::server::storage::MemStorage;
use regverify::server::{App, Config, Server, spawn_with};

use common::{answer, forward_parts};

const USER: &str = "tester";
const PASSWORD: &str = "pw-Zq7-only-for-the-registry";
/// What the foreign host's own realm hands out, anonymously.
const FOREIGN_TOKEN: &str = "token-of-the-storage-host";

/// One request as the foreign host received it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

async fn reference(mode: Mode) -> (Server, tempfile::TempDir) {
    common::secured(mode, USER, PASSWORD).await
}

fn basic_value() -> String {
    let pair = format!("{USER}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The storage host on 127.0.0.2: records every request; without its own token it answers
/// 401 naming its own realm (where a careless client would send the password); with it, it
/// forwards to the reference under the reference's login (a storage host that works).
async fn foreign(reference: String, mode: Mode, seen: Arc<Mutex<Vec<Seen>>>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("127.0.0.2 is a loopback address on Linux");
    let addr = l.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (reference, seen) = (reference.clone(), seen.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            seen.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: body.clone(),
            });
            if parts.uri.path() == "/token" {
                let json = format!(r#"{{"token":"{FOREIGN_TOKEN}"}}"#);
                return answer(200, Default::default(), Bytes::from(json));
            }
            let ours = format!("Bearer {FOREIGN_TOKEN}");
            if parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                != Some(&ours)
            {
                let mut h = reqwest::header::HeaderMap::new();
                let realm = format!(r#"Bearer realm="http://{addr}/token",service="storage""#);
                h.insert("www-authenticate", realm.parse().unwrap());
                return answer(401, h, Bytes::new());
            }
            let login = storage_login(&reference, mode, parts.uri.path()).await;
            let mut req = Request::from_parts(parts, axum::body::Body::from(body));
            req.headers_mut()
                .insert("authorization", login.parse().unwrap());
            let (status, headers, body) = forward_parts(req, &reference, false).await;
            answer(status, headers, body)
        }
    });
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

/// How the storage host logs in to the reference for a request to `path`: Basic, or a token
/// of the reference's realm for the repository (the realm and service from its challenge).
async fn storage_login(reference: &str, mode: Mode, path: &str) -> String {
    if mode == Mode::Basic {
        return basic_value();
    }
    let http = reqwest::Client::new();
    let res = http.get(format!("{reference}/v2/")).send().await.unwrap();
    let ch = res.headers()["www-authenticate"].to_str().unwrap();
    let ch = regverify::runner::client::parse_challenge(ch);
    let rest = path.trim_start_matches("/v2/");
    let repo = ["/blobs/", "/manifests/", "/tags/"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .map_or(rest, |i| &rest[..i]);
    let mut q = vec![("scope", format!("repository:{repo}:pull,push"))];
    if let Some(s) = ch.params.get("service") {
        q.push(("service", s.clone()));
    }
    let realm = reqwest::Url::parse_with_params(&ch.params["realm"], &q).unwrap();
    let body = http
        .get(realm)
        .header("authorization", basic_value())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    format!("Bearer {}", v["token"].as_str().unwrap())
}

/// The registry under test, on 127.0.0.1: the reference behind a front that names the
/// foreign host in every upload `Location`, every `Link`, and a redirect for every blob read.
async fn registry(reference: String, foreign: SocketAddr) -> SocketAddr {
    let app = axum::Router::new().fallback(move |req: Request| {
        let reference = reference.clone();
        async move {
            let path = req.uri().path().to_string();
            let pq = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let method = req.method().clone();
            let authorized = req.headers().contains_key("authorization");
            if authorized
                && matches!(method.as_str(), "GET" | "HEAD")
                && path.contains("/blobs/sha")
            {
                let mut h = reqwest::header::HeaderMap::new();
                h.insert("location", format!("http://{foreign}{pq}").parse().unwrap());
                return answer(307, h, Bytes::new());
            }
            let (status, mut headers, body) = forward_parts(req, &reference, false).await;
            if let Some(loc) = headers.get("location").and_then(|v| v.to_str().ok())
                && path.contains("/blobs/uploads")
                && loc.starts_with('/')
            {
                let moved = format!("http://{foreign}{loc}");
                headers.insert("location", moved.parse().unwrap());
            }
            if let Some(link) = headers.get("link").and_then(|v| v.to_str().ok())
                && link.starts_with("</")
            {
                let moved = format!("<http://{foreign}{}", &link[1..]);
                headers.insert("link", moved.parse().unwrap());
            }
            answer(status, headers, body)
        }
    });
    common::serve_router(app).await
}

fn regverify() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regverify"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("OCI_USERNAME").env_remove("OCI_PASSWORD");
    c
}

/// Runs the binary off the async runtime (the registries above serve on it meanwhile).
async fn output(mut c: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// Every credential the foreign host must never see, in any form.
fn assert_no_credentials(seen: &[Seen], what: &str) {
    let basic = basic_value();
    let encoded = basic.trim_start_matches("Basic ").to_string();
    let forms = [PASSWORD, encoded.as_str(), "pw-Zq7"];
    for s in seen {
        for (k, v) in &s.headers {
            if k.eq_ignore_ascii_case("authorization") {
                assert_eq!(
                    v,
                    &format!("Bearer {FOREIGN_TOKEN}"),
                    "{what}: {} {} carried a credential of the registry's",
                    s.method,
                    s.uri
                );
            }
            for f in forms {
                assert!(
                    !v.contains(f),
                    "{what}: header {k} of {} {}",
                    s.method,
                    s.uri
                );
            }
        }
        let body = String::from_utf8_lossy(&s.body);
        for f in forms {
            assert!(!s.uri.contains(f), "{what}: in the URL {}", s.uri);
            assert!(
                !body.contains(f),
                "{what}: in the body of {} {}",
                s.method,
                s.uri
            );
        }
    }
}

async fn each_command_keeps_the_credentials(mode: Mode) {
    let (reference, _dir) = reference(mode).await;
    let seen = Arc::new(Mutex::new(vec![]));
    let foreign = foreign(reference.url(), mode, seen.clone()).await;
    let front = registry(reference.url(), foreign).await;
    let url = format!("http://{USER}:{PASSWORD}@{front}");
    let report = tempfile::tempdir().unwrap();

    let mut run = regverify();
    run.args(["run", &url, "--profile", "all", "--report-dir"])
        .arg(report.path());
    let out = output(run).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("scenarios:"),
        "{mode:?}: the run went through: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = seen.lock().unwrap().len();
    assert!(
        n > 20,
        "{mode:?}: the storage host was used ({n} requests): uploads, pages and blobs went there"
    );
    assert_no_credentials(&seen.lock().unwrap(), &format!("run, {mode:?}"));
    for f in std::fs::read_dir(report.path()).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(
            !text.contains(PASSWORD),
            "{mode:?}: a report shows the password"
        );
    }

    seen.lock().unwrap().clear();
    let mut matrix = regverify();
    matrix.args(["matrix", &url, "--workflow", "push"]);
    let out = output(matrix).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
    assert!(
        !seen.lock().unwrap().is_empty(),
        "{mode:?}: matrix used the storage host"
    );
    assert_no_credentials(&seen.lock().unwrap(), &format!("matrix, {mode:?}"));

    seen.lock().unwrap().clear();
    let dir = tempfile::tempdir().unwrap();
    let mut explore = regverify();
    explore
        .args(["explore", &url, "--ops", "300", "--seed", "3", "--out"])
        .arg(dir.path());
    let out = output(explore).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
    assert!(
        !seen.lock().unwrap().is_empty(),
        "{mode:?}: explore used the storage host"
    );
    assert_no_credentials(&seen.lock().unwrap(), &format!("explore, {mode:?}"));
    reference.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_credentials_stay_with_the_registry() {
    each_command_keeps_the_credentials(Mode::Basic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_credentials_and_tokens_stay_with_the_registry() {
    each_command_keeps_the_credentials(Mode::Token).await;
}

/// A token service that records the `Authorization` of every request and gives no token.
async fn recording_realm(seen: Arc<Mutex<Vec<Option<String>>>>) -> SocketAddr {
    let app = axum::Router::new().fallback(move |req: Request| {
        let seen = seen.clone();
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            seen.lock().unwrap().push(auth);
            answer(403, Default::default(), Bytes::new())
        }
    });
    common::serve_router(app).await
}

/// An https registry whose challenge names a realm on plain http: the password would cross
/// the network in clear text, so the token request goes without it — unless `--insecure`
/// says the user accepts that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realm_on_plain_http_under_an_https_registry_gets_no_password() {
    use regverify::runner::client::{Client, ClientConfig, Credentials};
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = common::make_ca(dir.path());
    let seen = Arc::new(Mutex::new(vec![]));
    let realm = recording_realm(seen.clone()).await;
    let pw = dir.path().join("htpasswd");
    std::fs::write(
        &pw,
        format!("{USER}:{}\n", bcrypt::hash(PASSWORD, 4).unwrap()),
    )
    .unwrap();
    let mut settings = Settings::new(Mode::Token, &pw);
    settings.token_realm = Some(format!("http://{realm}/token"));
    let app = App::secured(
        Config::default(),
        Arc::new(MemStorage::new()),
        Some(Arc::new(Auth::load(&settings).unwrap())),
        false,
    );
    let tls = regverify::server::tls::load(&cert, &key).unwrap();
    let server = spawn_with(app, "127.0.0.1:0".parse().unwrap(), Some(tls))
        .await
        .unwrap();
    let base = reqwest::Url::parse(&format!("{}/", server.url())).unwrap();
    assert_eq!(base.scheme(), "https");
    for insecure in [false, true] {
        let config = ClientConfig {
            registry: Some(base.clone()),
            ca_file: Some(ca.clone()),
            insecure,
            credentials: Some(Credentials {
                username: USER.into(),
                password: PASSWORD.into(),
            }),
            ..ClientConfig::default()
        };
        let client = Client::new(config).unwrap();
        let _ = client.preflight(&base).await;
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        assert!(!seen.is_empty(), "the token service was asked");
        let sent_password = seen
            .iter()
            .any(|a| a.as_deref() == Some(basic_value().as_str()));
        assert_eq!(
            sent_password, insecure,
            "insecure {insecure}: the Authorization sent over http: {seen:?}"
        );
    }
    server.shutdown().await;
}

/// A spec overlay (a proposal under review, run in CI with real credentials) naming another
/// host: refused unless `--allow-foreign-urls`, and even then that host receives nothing of
/// the user's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlay_url_to_another_host_gets_no_credentials() {
    let (reference, _dir) = reference(Mode::Basic).await;
    let seen = Arc::new(Mutex::new(vec![]));
    let foreign = foreign(reference.url(), Mode::Basic, seen.clone()).await;
    let front = registry(reference.url(), foreign).await;
    let specs = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(specs.path().join("scenarios")).unwrap();
    std::fs::write(
        specs.path().join("scenarios/elsewhere.yaml"),
        format!(
            "scenarios:\n  - id: elsewhere\n    title: a proposal asks another host\n    requirements: [base.v2]\n    workflows: [pull]\n    steps:\n      - name: ask it\n        request: {{method: GET, url: \"http://{foreign}/v2/\"}}\n        expect: {{req: base.v2, status: [200, 401]}}\n"
        ),
    )
    .unwrap();
    let url = format!("http://{USER}:{PASSWORD}@{front}");
    let mut run = regverify();
    run.args(["run", &url, "pull::elsewhere", "--exact", "--specs"])
        .arg(specs.path())
        .arg("--allow-foreign-urls");
    let out = output(run).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("scenarios:"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !seen.lock().unwrap().is_empty(),
        "the overlay's request went out: {text}"
    );
    assert_no_credentials(&seen.lock().unwrap(), "an overlay's URL");
    reference.shutdown().await;
}
