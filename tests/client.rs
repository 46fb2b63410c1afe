//! The runner's client on the wire: answers whose body breaks HTTP framing still come back
//! with their status and headers and a typed fault; the preflight turns an unreachable
//! registry, broken TLS and refused credentials into one typed error each, and the scheme
//! it learns puts credentials on the first request of a run.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use regverify::runner::client::{
    AuthScheme, Client, ClientConfig, Credentials, FramingFault, PreflightError, Response,
    TokenError,
};
use regverify::server::auth::Mode;
use regverify::server::{Config, Server};
use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server that answers every connection with these bytes, then closes it.
async fn hostile(answer: &'static [u8]) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
                let _ = s.write_all(answer).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

fn config() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    }
}

async fn get(addr: SocketAddr) -> Response {
    let client = Client::new(config()).unwrap();
    let url = Url::parse(&format!("http://{addr}/v2/r/blobs/sha256:00")).unwrap();
    let mut log = vec![];
    let res = client
        .send("GET", &url, &[], &Bytes::new(), false, &mut log)
        .await
        .expect("status and headers arrived: an answer, not a transport error");
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].framing, res.framing,
        "the transcript shows the fault"
    );
    res
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_framing_fault_of_a_real_answer() {
    let addr = hostile(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ndocker-content-digest: sha256:ab\r\n\r\n0123456789",
    )
    .await;
    let res = get(addr).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("docker-content-digest"), Some("sha256:ab"));
    assert_eq!(&res.body[..], b"0123456789");
    assert_eq!(
        res.framing,
        Some(FramingFault::ShortBody {
            announced: 100,
            received: 10
        })
    );
    assert!(res.framing.unwrap().to_string().contains("RFC 9112"));
}

#[tokio::test]
async fn a_chunked_body_cut_before_its_last_chunk_is_a_framing_fault() {
    let addr = hostile(
        b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n5\r\nhello\r\n",
    )
    .await;
    let res = get(addr).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.framing,
        Some(FramingFault::UnfinishedChunks { received: 5 })
    );
}

#[tokio::test]
async fn a_malformed_chunk_is_a_framing_fault() {
    let addr = hostile(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n",
    )
    .await;
    let res = get(addr).await;
    assert_eq!(res.status, 200);
    assert!(
        matches!(
            res.framing,
            Some(FramingFault::MalformedChunks { received: 5, .. })
        ),
        "{:?}",
        res.framing
    );
}

#[tokio::test]
async fn well_framed_bodies_have_no_fault() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"[..],
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        // no length at all: the close ends the body (RFC 9112 §6.3, item 8)
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello",
    ] {
        let res = get(hostile(answer).await).await;
        assert_eq!(res.framing, None, "{}", String::from_utf8_lossy(answer));
        assert_eq!(&res.body[..], b"hello");
    }
}

// ---- preflight ----

const PASSWORD: &str = "pre-fl1ght";

async fn registry(mode: Mode) -> (Server, tempfile::TempDir) {
    common::secured(mode, "tester", PASSWORD).await
}

fn with_password(pw: &str) -> ClientConfig {
    ClientConfig {
        credentials: Some(Credentials {
            username: "tester".into(),
            password: pw.into(),
        }),
        ..config()
    }
}

/// `config` with its credentials bound to the registry at `registry`.
fn bound(config: ClientConfig, registry: &Url) -> ClientConfig {
    ClientConfig {
        registry: Some(registry.clone()),
        ..config
    }
}

fn base(server: &Server) -> Url {
    Url::parse(&format!("{}/", server.url())).unwrap()
}

#[tokio::test]
async fn an_unreachable_registry_is_one_typed_error() {
    let port = common::free_port();
    let client = Client::new(config()).unwrap();
    let e = client
        .preflight(&Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, PreflightError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("cannot reach"), "{e}");
}

#[tokio::test]
async fn tls_trouble_is_named_as_such() {
    // an https URL to a server that speaks plain HTTP: the handshake fails
    let addr = hostile(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let client = Client::new(config()).unwrap();
    let e = client
        .preflight(&Url::parse(&format!("https://{addr}/")).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, PreflightError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("--ca-file"), "{e}");
}

#[tokio::test]
async fn credential_trouble_is_one_typed_error() {
    // Basic without credentials: nothing to answer the challenge with
    let (server, _dir) = registry(Mode::Basic).await;
    let e = Client::new(config())
        .unwrap()
        .preflight(&base(&server))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            PreflightError::CredentialsNeeded {
                scheme: AuthScheme::Basic,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("OCI_USERNAME"), "{e}");
    server.shutdown().await;
    // a wrong password, refused by the registry (Basic) or by its token service (Bearer)
    for mode in [Mode::Basic, Mode::Token] {
        let (server, _dir) = registry(mode).await;
        let e = Client::new(bound(with_password("wr0ng-pw"), &base(&server)))
            .unwrap()
            .preflight(&base(&server))
            .await
            .unwrap_err();
        let refused = match mode {
            Mode::Basic => matches!(
                e,
                PreflightError::CredentialsRefused {
                    scheme: AuthScheme::Basic,
                    status: 401,
                    ..
                }
            ),
            Mode::Token => matches!(
                e,
                PreflightError::Token {
                    source: TokenError::Refused { .. },
                    ..
                }
            ),
        };
        assert!(refused, "{mode:?}: {e:?}");
        assert!(
            !e.to_string().contains("wr0ng-pw"),
            "no secret in messages: {e}"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn after_the_preflight_credentials_go_with_the_first_request() {
    for (mode, scheme) in [
        (Mode::Basic, AuthScheme::Basic),
        (Mode::Token, AuthScheme::Bearer),
    ] {
        let (server, _dir) = registry(mode).await;
        let client = Client::new(bound(with_password(PASSWORD), &base(&server))).unwrap();
        let p = client.preflight(&base(&server)).await.unwrap();
        assert_eq!((p.status, p.auth), (200, scheme), "{mode:?}");
        let url = base(&server).join("v2/pre/flight/tags/list").unwrap();
        let mut log = vec![];
        let res = client
            .send("GET", &url, &[], &Bytes::new(), false, &mut log)
            .await
            .unwrap();
        // the repository does not exist: the registry's own answer, with no 401 first
        assert_eq!(res.status, 404, "{mode:?}");
        assert!(
            log.iter().all(|e| e.status != Some(401)),
            "{mode:?}: a request went without credentials: {log:?}"
        );
        let registry_request = log.last().unwrap();
        assert!(
            registry_request
                .request_headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization")),
            "{mode:?}: {log:?}"
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn an_open_registry_passes_the_preflight_without_credentials() {
    let reg = common::start(Config::default(), false).await;
    let p = Client::new(config())
        .unwrap()
        .preflight(&Url::parse(&format!("{}/", reg.url)).unwrap())
        .await
        .unwrap();
    assert_eq!((p.status, p.auth), (200, AuthScheme::None));
    assert_eq!(p.exchanges.len(), 1);
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_passes_with_credentials_sent_from_the_first_request() {
    for mode in [Mode::Basic, Mode::Token] {
        let (server, _dir) = registry(mode).await;
        let specs = common::specs();
        let ctx = Arc::new(common::context(
            &server.url(),
            with_password(PASSWORD),
            true,
        ));
        ctx.client.preflight(&ctx.base).await.unwrap();
        let mut tasks = vec![];
        for (i, ls) in specs.scenarios.iter().enumerate() {
            if !specs.in_profile(ls, "all") {
                continue;
            }
            let (specs, ctx) = (specs.clone(), ctx.clone());
            tasks.push(tokio::spawn(async move {
                regverify::runner::exec::run(&ctx, &specs.scenarios[i]).await
            }));
        }
        assert!(!tasks.is_empty());
        for t in tasks {
            let r = t.await.unwrap();
            // a Basic registry has no token flow to follow
            let want = if mode == Mode::Basic && r.id == "auth-token-flow" {
                regverify::runner::exec::Verdict::Skip
            } else {
                regverify::runner::exec::Verdict::Pass
            };
            assert_eq!(
                r.verdict,
                want,
                "{mode:?}: {}",
                regverify::runner::harness::failure_text(&specs, &r)
            );
        }
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_later_401_without_a_challenge_is_the_registrys_answer() {
    use axum::http::{HeaderMap, StatusCode};
    // /v2/ challenges for Basic; every other path answers 401 with no challenge at all
    let app = axum::Router::new().fallback(|uri: axum::http::Uri, h: HeaderMap| async move {
        let authed = h
            .get("authorization")
            .is_some_and(|v| v.as_bytes().starts_with(b"Basic "));
        match (uri.path(), authed) {
            ("/v2/", true) => (StatusCode::OK, HeaderMap::new()),
            ("/v2/", false) => {
                let mut ch = HeaderMap::new();
                ch.insert("www-authenticate", "Basic realm=\"t\"".parse().unwrap());
                (StatusCode::UNAUTHORIZED, ch)
            }
            _ => (StatusCode::UNAUTHORIZED, HeaderMap::new()),
        }
    });
    let addr = common::serve_router(app).await;
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let client = Client::new(bound(with_password(PASSWORD), &base)).unwrap();
    let p = client.preflight(&base).await.unwrap();
    assert_eq!((p.status, p.auth), (200, AuthScheme::Basic));
    let mut log = vec![];
    let res = client
        .send(
            "GET",
            &base.join("v2/a/tags/list").unwrap(),
            &[],
            &Bytes::new(),
            false,
            &mut log,
        )
        .await
        .unwrap();
    assert_eq!(res.status, 401);
    assert_eq!(
        log.len(),
        1,
        "one request, sent with the credentials: {log:?}"
    );
    assert!(
        log[0]
            .request_headers
            .contains(&("Authorization".into(), "Basic <redacted>".into())),
        "{log:?}"
    );
}

/// A registry that redirects from slow hop to slow hop: `--timeout` bounds the request with
/// its redirects, not each hop (11 hops of 0.9 s each would take 10 s under a per-hop limit
/// of 2 s).
#[tokio::test]
async fn one_time_limit_covers_a_request_and_its_redirects() {
    use axum::extract::Path;
    let app = axum::Router::new().route(
        "/v2/r/blobs/{hop}",
        axum::routing::get(|Path(hop): Path<u32>| async move {
            tokio::time::sleep(Duration::from_millis(900)).await;
            let mut h = axum::http::HeaderMap::new();
            h.insert(
                "location",
                format!("/v2/r/blobs/{}", hop + 1).parse().unwrap(),
            );
            (axum::http::StatusCode::TEMPORARY_REDIRECT, h)
        }),
    );
    let addr = common::serve_router(app).await;
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    })
    .unwrap();
    let url = Url::parse(&format!("http://{addr}/v2/r/blobs/0")).unwrap();
    let started = std::time::Instant::now();
    let mut log = vec![];
    let e = client
        .send("GET", &url, &[], &Bytes::new(), false, &mut log)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(e, regverify::runner::client::TransportError::Timeout { .. }),
        "{e:?}"
    );
    assert!(
        took < Duration::from_millis(3500),
        "took {took:?} for a 2 s limit"
    );
    assert!(log.len() >= 2, "the hops are recorded: {}", log.len());
}
