//! Authentication and TLS end to end: the whole corpus against the reference in Basic and
//! in token mode, access rules and their refusals, https with a CA made here, no secret in
//! the server's logs, and distribution 2.8 behind htpasswd.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use common::{Http, KillOnDrop, free_port, make_ca, require, run_profile, specs, wait_for_port};
use regverify::runner::client::{ClientConfig, Credentials};
use regverify::runner::exec::{ScenarioResult, Verdict};
use regverify::server::auth::{Auth, Mode, Settings};
use regverify::server::storage::MemStorage;
use regverify::server::{App, Config, Server, spawn_with};

const PASSWORD: &str = "Tst-pa55-w0rd";

fn htpasswd(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("htpasswd");
    let mut text = String::new();
    for (user, pw) in [("tester", PASSWORD), ("alice", "alice-pw")] {
        text.push_str(&format!("{user}:{}\n", bcrypt::hash(pw, 4).unwrap()));
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn creds(user: &str, pw: &str) -> ClientConfig {
    ClientConfig {
        credentials: Some(Credentials {
            username: user.into(),
            password: pw.into(),
        }),
        ..ClientConfig::default()
    }
}

async fn serve(
    mode: Mode,
    rules: Option<&str>,
    anonymous_pull: bool,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pw = htpasswd(dir.path());
    let rules_path = rules.map(|r| {
        let p = dir.path().join("rules.yaml");
        std::fs::write(&p, r).unwrap();
        p
    });
    let auth = Auth::load(&Settings {
        rules: rules_path,
        anonymous_pull,
        ..Settings::new(mode, &pw)
    })
    .unwrap();
    let secure = tls.is_some();
    let app = App::secured(
        Config::default(),
        Arc::new(MemStorage::new()),
        Some(Arc::new(auth)),
        secure,
    );
    (
        spawn_with(app, "127.0.0.1:0".parse().unwrap(), tls)
            .await
            .unwrap(),
        dir,
    )
}

/// Every certification profile at once.
async fn run_all(url: &str, config: ClientConfig) -> Vec<ScenarioResult> {
    run_profile(url, "all", config).await
}

fn verdict_of<'a>(results: &'a [ScenarioResult], id: &str) -> &'a ScenarioResult {
    results.iter().find(|r| r.id == id).unwrap()
}

fn all_pass_but(results: &[ScenarioResult], skipped: &[&str]) {
    let specs = specs();
    for r in results {
        let want = if skipped.contains(&r.id.as_str()) {
            Verdict::Skip
        } else {
            Verdict::Pass
        };
        assert_eq!(
            r.verdict,
            want,
            "{}",
            regverify::runner::harness::failure_text(&specs, r)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_passes_with_basic_auth() {
    let (server, _dir) = serve(Mode::Basic, None, false, None).await;
    let results = run_all(&server.url(), creds("tester", PASSWORD)).await;
    // a Basic registry has no token flow to follow
    all_pass_but(&results, &["auth-token-flow"]);
    assert_eq!(
        verdict_of(&results, "auth-challenge").verdict,
        Verdict::Pass
    );
    // without credentials, everything is refused (and the auth scenarios skip)
    let results = run_all(&server.url(), ClientConfig::default()).await;
    assert_eq!(
        verdict_of(&results, "auth-challenge").verdict,
        Verdict::Skip
    );
    assert_eq!(verdict_of(&results, "blob-get").verdict, Verdict::Fail);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_passes_with_tokens() {
    let (server, _dir) = serve(Mode::Token, None, false, None).await;
    let results = run_all(&server.url(), creds("tester", PASSWORD)).await;
    all_pass_but(&results, &[]);
    // a wrong password gets no token: the run fails, never hangs or loops
    let results = run_all(&server.url(), creds("tester", "wrong")).await;
    assert_ne!(verdict_of(&results, "blob-get").verdict, Verdict::Pass);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_rules_grant_refuse_and_challenge() {
    let rules = "rules:\n  - {user: alice, repositories: \"alice/*\", actions: [pull, push, delete]}\n  - {user: \"*\", repositories: \"*\", actions: [pull]}\n  - {user: tester, repositories: \"*\", actions: [pull, push, delete], catalog: true}\n";
    let (server, _dir) = serve(Mode::Token, Some(rules), true, None).await;
    let h = Http::new(&server.url());
    let token = |user: &str, pw: &str, scope: &str| {
        let (h, user, pw, scope) = (
            Http::new(&server.url()),
            user.to_string(),
            pw.to_string(),
            scope.to_string(),
        );
        async move {
            let basic = base64_of(&format!("{user}:{pw}"));
            let a = h
                .req(
                    "GET",
                    &format!("/token?service=regverify&scope={scope}"),
                    &[("authorization", &format!("Basic {basic}"))],
                    Bytes::new(),
                )
                .await;
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
            let v = a.json();
            assert!(v["expires_in"].as_u64().unwrap() > 0);
            assert!(v["issued_at"].as_str().unwrap().ends_with('Z'));
            assert_eq!(v["token"], v["access_token"]);
            v["token"].as_str().unwrap().to_string()
        }
    };
    // the challenge names the scope the request needs
    let a = h
        .req("POST", "/v2/alice/app/blobs/uploads/", &[], Bytes::new())
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.codes(), vec!["UNAUTHORIZED".to_string()]);
    let ch = a.header("www-authenticate").unwrap();
    assert!(ch.starts_with("Bearer realm=\"http://127.0.0.1:"), "{ch}");
    assert!(ch.contains("service=\"regverify\""), "{ch}");
    assert!(
        ch.contains("scope=\"repository:alice/app:pull,push\""),
        "{ch}"
    );
    // alice may push her own repositories
    let t = token("alice", "alice-pw", "repository:alice/app:pull,push").await;
    let auth = format!("Bearer {t}");
    let a = h
        .req(
            "POST",
            "/v2/alice/app/blobs/uploads/",
            &[("authorization", &auth)],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 202);
    // but not bob's: the token endpoint grants pull only, and the registry says DENIED
    let t = token("alice", "alice-pw", "repository:bob/app:pull,push").await;
    let a = h
        .req(
            "POST",
            "/v2/bob/app/blobs/uploads/",
            &[("authorization", &format!("Bearer {t}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!((a.status, a.codes()), (403, vec!["DENIED".to_string()]));
    // anonymous clients pull without a token (an upload alone makes no repository: the
    // pull is allowed and finds nothing), and cannot push
    let a = h.get("/v2/alice/app/tags/list").await;
    assert_eq!(
        (a.status, a.codes()),
        (404, vec!["NAME_UNKNOWN".to_string()])
    );
    assert_eq!(
        h.req("POST", "/v2/x/blobs/uploads/", &[], Bytes::new())
            .await
            .status,
        401
    );
    // the catalog needs its own scope
    let t = token("tester", PASSWORD, "repository:x:pull").await;
    let a = h
        .req(
            "GET",
            "/v2/_catalog",
            &[("authorization", &format!("Bearer {t}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 401);
    assert!(
        a.header("www-authenticate")
            .unwrap()
            .contains("scope=\"registry:catalog:*\"")
    );
    let t = token("tester", PASSWORD, "registry:catalog:*").await;
    let a = h
        .req(
            "GET",
            "/v2/_catalog",
            &[("authorization", &format!("Bearer {t}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 200);
    // a forged token is refused
    let forged = format!("Bearer {}x", &t[..t.len() - 1]);
    let a = h
        .req(
            "GET",
            "/v2/_catalog",
            &[("authorization", &forged)],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 401);
    // wrong credentials get no token
    let a = h
        .req(
            "GET",
            "/token?service=regverify",
            &[(
                "authorization",
                &format!("Basic {}", base64_of("alice:nope")),
            )],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 401);
    server.shutdown().await;
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_passes_over_https_with_a_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_ca(dir.path());
    let tls = regverify::server::tls::load(&cert, &key).unwrap();
    let (server, _d) = serve(Mode::Token, None, false, Some(tls)).await;
    assert!(server.url().starts_with("https://"));
    let config = ClientConfig {
        ca_file: Some(ca),
        ..creds("tester", PASSWORD)
    };
    let results = run_all(&server.url(), config).await;
    all_pass_but(&results, &[]);
    // without the CA the certificate is not trusted: errors, not fails
    let results = run_all(&server.url(), creds("tester", PASSWORD)).await;
    let r = verdict_of(&results, "blob-get");
    assert_eq!(r.verdict, Verdict::Error, "{:?}", r.finding);
    // --insecure accepts it
    let config = ClientConfig {
        insecure: true,
        ..creds("tester", PASSWORD)
    };
    let results = run_all(&server.url(), config).await;
    assert_eq!(verdict_of(&results, "blob-get").verdict, Verdict::Pass);
    server.shutdown().await;
}

#[test]
fn the_server_logs_no_password_and_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let pw = htpasswd(dir.path());
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args([
            "serve",
            "--memory",
            "--auth",
            "token",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--htpasswd",
        ])
        .arg(&pw)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for_port(port), "the server did not start");
    let out = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            &format!("http://tester:{PASSWORD}@127.0.0.1:{port}"),
            "--workflow",
            "auth",
            "--workflow",
            "pull",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    let _ = server.kill();
    let log = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&log.stderr);
    assert!(log.contains("request"), "no request log: {log}");
    assert!(log.contains("tester"), "the subject is logged");
    assert!(!log.contains(PASSWORD), "the password is in the server log");
    assert!(!log.contains("eyJ"), "a token is in the server log");
    assert!(
        !stdout.contains(PASSWORD) && !stdout.contains("eyJ"),
        "a secret in the runner's output"
    );
}

#[test]
fn distribution_behind_htpasswd_matches_its_baseline() {
    let bin = require(
        "docker-registry",
        "apt-get update && apt-get install -y docker-registry",
    );
    let dir = tempfile::tempdir().unwrap();
    let pw = htpasswd(dir.path());
    let port = free_port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nauth:\n  htpasswd:\n    realm: regverify\n    path: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display(),
            pw.display()
        ),
    )
    .unwrap();
    let registry = KillOnDrop(
        Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(port), "distribution did not start");
    let out = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            &format!("http://127.0.0.1:{port}"),
            "--profile",
            "distribution",
            "--expect",
            "tests/expectations/distribution-2.8.yaml",
        ])
        .env("OCI_USERNAME", "tester")
        .env("OCI_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    drop(registry);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("expectations: the run matches"), "{stdout}");
    assert!(!stdout.contains(PASSWORD));
}

/// The auth defects, against the token-mode reference with credentials. A defect that locks
/// out keeps every client out, so everything fails: only its own requirement is checked then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_auth_defect_fails_its_requirements() {
    use regverify::server::defects::DEFECTS;
    let mut problems = vec![];
    for d in DEFECTS {
        if !d.needs_auth {
            continue;
        }
        let (defect, id) = (&d.defect, d.name);
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::load(&Settings::new(Mode::Token, &htpasswd(dir.path()))).unwrap();
        let config = Config {
            defect: Some(*defect),
            ..Config::default()
        };
        let app = App::secured(
            config,
            Arc::new(MemStorage::new()),
            Some(Arc::new(auth)),
            false,
        );
        let server = spawn_with(app, "127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let results = run_all(&server.url(), creds("tester", PASSWORD)).await;
        server.shutdown().await;
        let failed: std::collections::BTreeSet<String> = results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .filter_map(|r| r.finding.as_ref().and_then(|f| f.requirement.clone()))
            .collect();
        let named: std::collections::BTreeSet<String> =
            d.breaks.iter().map(|b| b.to_string()).collect();
        let ok = if d.locks_out {
            named.is_subset(&failed)
        } else {
            named == failed && results.iter().all(|r| r.verdict != Verdict::Error)
        };
        if !ok {
            problems.push(format!("{id}: named {named:?}, failed {failed:?}"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
