//! Helpers shared by the integration tests: an in-process reference registry, a small HTTP
//! client, scenario runs, and peers that must be installed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use regverify::runner::client::{Client, ClientConfig};
use regverify::runner::exec::{self, RunContext, ScenarioResult};
use regverify::runner::loader::{self, Specs};
use regverify::server::storage::{FsStorage, MemStorage, Storage};
use regverify::server::{self, App, Config, Server};
use reqwest::Url;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A reference registry on a random port.
pub struct Registry {
    pub server: Server,
    pub url: String,
    pub dir: Option<tempfile::TempDir>,
    pub storage: Arc<dyn Storage>,
}

pub async fn start(config: Config, on_disk: bool) -> Registry {
    let (storage, dir): (Arc<dyn Storage>, _) = if on_disk {
        let dir = tempfile::tempdir().unwrap();
        (Arc::new(FsStorage::open(dir.path()).unwrap()), Some(dir))
    } else {
        (Arc::new(MemStorage::new()), None)
    };
    let server = server::spawn(
        App::new(config, storage.clone()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    Registry {
        url: server.url(),
        server,
        dir,
        storage,
    }
}

/// A plain HTTP client for exact requests.
pub struct Http {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }
    /// The error codes of an error envelope.
    pub fn codes(&self) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        v["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["code"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

impl Http {
    pub fn new(base: &str) -> Http {
        regverify::runner::client::install_crypto();
        Http {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut r = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let body: Bytes = body.into();
        if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
            r = r.body(body);
        }
        let res = r.send().await.unwrap();
        Answer {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.bytes().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.req("GET", path, &[], Bytes::new()).await
    }

    /// Pushes a blob by POST then PUT; returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let d = regverify::oci::Digest::sha256(data).to_string();
        let a = self
            .req(
                "POST",
                &format!("/v2/{repo}/blobs/uploads/"),
                &[],
                Bytes::new(),
            )
            .await;
        assert_eq!(a.status, 202);
        let loc = a.header("location").unwrap().to_string();
        let a = self
            .req("PUT", &format!("{loc}?digest={d}"), &[], data.to_vec())
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        d
    }

    /// Pushes a config blob and an image manifest referencing it; returns (manifest bytes, digest).
    pub async fn push_image(&self, repo: &str, reference: &str, note: &str) -> (Vec<u8>, String) {
        let config = format!("{{\"note\":\"{note}\"}}");
        let cd = self.push_blob(repo, config.as_bytes()).await;
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[]}}"#,
            config.len()
        );
        let a = self
            .req(
                "PUT",
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                m.clone().into_bytes(),
            )
            .await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        let d = regverify::oci::Digest::sha256(m.as_bytes()).to_string();
        (m.into_bytes(), d)
    }
}

pub fn specs() -> Arc<Specs> {
    Arc::new(
        loader::load(&root().join("specs"), &root().join("fixtures")).expect("spec files load"),
    )
}

/// A run's context for the registry at `url`; the credentials of `config` are bound to it
/// unless the config names its registry itself. `check_warnings` judges what every answer
/// owes beyond v1.0 (`Warning` headers, and main's `Retry-After` on a 429).
pub fn context(url: &str, mut config: ClientConfig, check_warnings: bool) -> RunContext {
    let base = Url::parse(&format!("{}/", url.trim_end_matches('/'))).unwrap();
    config.registry.get_or_insert_with(|| base.clone());
    RunContext {
        client: Client::new(config).unwrap(),
        base,
        namespace: "selftest".into(),
        crossmount: None,
        seed: 7,
        run_tag: format!("{:06x}", rand_u32() & 0xffffff),
        fixtures: root().join("fixtures").into(),
        check_warnings,
        judge_main: check_warnings,
        error_codes: Default::default(),
        cleanup: true,
        foreign_urls: Default::default(),
    }
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    u32::from_le_bytes(b)
}

/// Runs one shipped scenario by id.
pub async fn run_scenario(specs: &Specs, ctx: &RunContext, id: &str) -> ScenarioResult {
    let ls = specs
        .scenarios
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no scenario {id}"));
    exec::run(ctx, ls).await
}

/// A peer program the tests need; a missing one fails the test with the command that
/// installs it (never a silent skip).
pub fn require(program: &str, install: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!("{program} is not installed; install it with: {install} (or run bash .ci/run)");
}

/// A Python with PyPI's `oras` importable.
pub fn python_with_oras() -> PathBuf {
    let mut candidates = vec![];
    if let Ok(p) = std::env::var("REGVERIFY_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(root().join("target/peers-venv/bin/python"));
    candidates.push(PathBuf::from("python3"));
    for c in candidates {
        let ok = std::process::Command::new(&c)
            .args(["-c", "import oras.client"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return c;
        }
    }
    panic!(
        "PyPI's oras is not installed; install it with: python3 -m venv target/peers-venv && \
         target/peers-venv/bin/pip install oras (or run bash .ci/run)"
    );
}

/// Forwards a request to `upstream` (a base URL) as is, without following redirects;
/// `drop_auth` removes the client's `Authorization` (a front that checked it itself).
/// Returns the answer's parts, for a test double to rewrite.
pub async fn forward_parts(
    req: axum::extract::Request,
    upstream: &str,
    drop_auth: bool,
) -> (u16, reqwest::header::HeaderMap, Bytes) {
    regverify::runner::client::install_crypto();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut headers = parts.headers.clone();
    headers.remove("host");
    if drop_auth {
        headers.remove("authorization");
    }
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .request(
            parts.method.as_str().parse().unwrap(),
            format!("{upstream}{pq}"),
        )
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap())
}

/// An answer from parts (the length is recomputed).
pub fn answer(
    status: u16,
    mut headers: reqwest::header::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    headers.remove("content-length");
    let mut out = axum::response::Response::new(axum::body::Body::from(body));
    *out.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
    *out.headers_mut() = headers;
    out
}

/// Serves `app` on a random local port; returns the address.
pub async fn serve_router(app: axum::Router) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    a
}

/// Runs every scenario of `profile` against `url` at once; `Warning` headers are checked
/// when the profile includes spec main, as `regverify run` does.
pub async fn run_profile(url: &str, profile: &str, config: ClientConfig) -> Vec<ScenarioResult> {
    let specs = specs();
    let closure = specs.profile_closure(profile);
    let mut ctx = context(url, config, closure.contains("oci-1.1"));
    ctx.judge_main = closure.contains("oci-next");
    ctx.error_codes = specs.code_table(profile);
    let ctx = Arc::new(ctx);
    let mut tasks = vec![];
    for (i, ls) in specs.scenarios.iter().enumerate() {
        if !specs.in_profile(ls, profile) {
            continue;
        }
        let (specs, ctx) = (specs.clone(), ctx.clone());
        tasks.push(tokio::spawn(async move {
            exec::run(&ctx, &specs.scenarios[i]).await
        }));
    }
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A port nothing listens on: the OS picks it and it is released at once for a child to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something listens on `port` within 10 s; a child that never comes up fails its
/// test instead of hanging it.
pub fn wait_for_port(port: u16) -> bool {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Kills the child when dropped, so a failing test leaves nothing running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CA and a server certificate for 127.0.0.1 and localhost, as PEM files.
pub fn make_ca(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "regverify test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    (ca_pem, cert_pem, key_pem)
}

/// The reference in memory with one htpasswd user and `mode` of authentication; the
/// directory holds the htpasswd file and lives as long as it is kept.
pub async fn secured(
    mode: regverify::server::auth::Mode,
    user: &str,
    password: &str,
) -> (Server, tempfile::TempDir) {
    use regverify::server::auth::{Auth, Settings};
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("htpasswd");
    std::fs::write(
        &pw,
        format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap()),
    )
    .unwrap();
    let auth = Auth::load(&Settings::new(mode, &pw)).unwrap();
    let app = App::secured(
        Config::default(),
        Arc::new(MemStorage::new()),
        Some(Arc::new(auth)),
        false,
    );
    let server = server::spawn_with(app, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    (server, dir)
}
