//! Attacks on the reference registry's authentication, each reproduced against `regverify
//! serve` on loopback, bounded in count and time: reading another repository's blobs by
//! mounting them, stalling the server with password guesses, guessing at full speed,
//! telling users from non-users by timing, injecting challenge parameters through `Host`,
//! logging in with an anonymous token, tokens with extra segments, lower-case schemes, and
//! anonymous pulls the rules do not allow.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Answer, Http, KillOnDrop, free_port, wait_for_port};

/// The tests measure time: one at a time, so they do not measure each other.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

struct Registry {
    base: String,
    _server: KillOnDrop,
    _dir: tempfile::TempDir,
}

/// `regverify serve --memory --auth MODE` with these users (name, password, bcrypt cost),
/// rules and extra flags.
fn serve(mode: &str, users: &[(&str, &str, u32)], rules: Option<&str>, extra: &[&str]) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let text: String = users
        .iter()
        .map(|(u, p, cost)| format!("{u}:{}\n", bcrypt::hash(p, *cost).unwrap()))
        .collect();
    std::fs::write(&htpasswd, text).unwrap();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regverify"));
    cmd.args(["serve", "--memory", "--auth", mode, "--addr"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--htpasswd")
        .arg(&htpasswd)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(r) = rules {
        let p: PathBuf = dir.path().join("rules.yaml");
        std::fs::write(&p, r).unwrap();
        cmd.arg("--rules").arg(p);
    }
    let server = KillOnDrop(cmd.spawn().unwrap());
    assert!(wait_for_port(port), "the server did not start");
    Registry {
        base: format!("http://127.0.0.1:{port}"),
        _server: server,
        _dir: dir,
    }
}

/// A client whose connections come from `ip` (any of 127.0.0.0/8), so it counts as its own
/// client for the back-off.
fn client_from(base: &str, ip: &str) -> Http {
    let mut h = Http::new(base);
    h.http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .local_address(ip.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    h
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A token from the registry's endpoint for `scopes`, with these credentials (or none).
async fn token(h: &Http, credentials: Option<&str>, scopes: &[&str]) -> String {
    let mut path = "/token?service=regverify".to_string();
    for s in scopes {
        path.push_str(&format!("&scope={s}"));
    }
    let headers: Vec<(&str, &str)> = credentials
        .map(|c| ("authorization", c))
        .into_iter()
        .collect();
    let a = h.req("GET", &path, &headers, Bytes::new()).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.json()["token"].as_str().unwrap().to_string()
}

/// Pushes `data` into `repo` in one POST; returns its digest.
async fn push(h: &Http, repo: &str, authorization: &str, data: &[u8]) -> String {
    let digest = regverify::oci::Digest::sha256(data).to_string();
    let a = h
        .req(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
            &[("authorization", authorization)],
            Bytes::copy_from_slice(data),
        )
        .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    digest
}

async fn mount(h: &Http, repo: &str, digest: &str, from: &str, authorization: &str) -> Answer {
    h.req(
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
        &[("authorization", authorization)],
        Bytes::new(),
    )
    .await
}

/// The header names of an answer, minus those whose presence varies per answer.
fn shape(a: &Answer) -> Vec<String> {
    let mut names: Vec<String> = a.headers.keys().map(|k| k.to_string()).collect();
    names.sort();
    names.dedup();
    names
}

const RULES: &str = "rules:\n  - {user: alice, repositories: \"alice/*\", actions: [pull, push, delete]}\n  - {user: alice, repositories: \"shared/*\", actions: [pull, push]}\n  - {user: bob, repositories: \"bob/*\", actions: [pull, push, delete]}\n  - {user: \"*\", repositories: \"shared/*\", actions: [pull]}\n";

fn alice_and_bob() -> [(&'static str, &'static str, u32); 2] {
    [("alice", "alice-pw", 4), ("bob", "bob-pw", 4)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_mount_from_an_unreadable_repository_is_an_ordinary_session() {
    let _g = serial().await;
    let r = serve("basic", &alice_and_bob(), Some(RULES), &[]);
    let h = Http::new(&r.base);
    let (alice, bob) = (basic("alice", "alice-pw"), basic("bob", "bob-pw"));
    let secret = push(&h, "alice/private", &alice, b"alice's secret layer").await;
    let unknown = regverify::oci::Digest::sha256(b"never pushed").to_string();
    let stolen = mount(&h, "bob/app", &secret, "alice/private", &bob).await;
    let absent = mount(&h, "bob/app", &unknown, "alice/private", &bob).await;
    // bob cannot read alice/private: the mount is a plain session, exactly as for a blob
    // that does not exist there
    assert_eq!(stolen.status, 202, "bob mounted alice's blob");
    assert_eq!(absent.status, 202);
    assert_eq!(shape(&stolen), shape(&absent));
    assert!(
        stolen
            .header("location")
            .unwrap()
            .starts_with("/v2/bob/app/blobs/uploads/")
    );
    let read = h
        .req(
            "GET",
            &format!("/v2/bob/app/blobs/{secret}"),
            &[("authorization", &bob)],
            Bytes::new(),
        )
        .await;
    assert_eq!(read.status, 404);
    // from a repository bob may pull, the mount is done
    let shared = push(&h, "shared/base", &alice, b"a shared layer").await;
    assert_eq!(
        mount(&h, "bob/app", &shared, "shared/base", &bob)
            .await
            .status,
        201
    );
    // and alice mounts her own
    assert_eq!(
        mount(&h, "alice/copy", &secret, "alice/private", &alice)
            .await
            .status,
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_mount_asks_for_pull_on_the_source_and_falls_back_without_it() {
    let _g = serial().await;
    let r = serve("token", &alice_and_bob(), Some(RULES), &[]);
    let h = Http::new(&r.base);
    let (alice, bob) = (basic("alice", "alice-pw"), basic("bob", "bob-pw"));
    let t = token(&h, Some(&alice), &["repository:alice/private:pull,push"]).await;
    let secret = push(
        &h,
        "alice/private",
        &format!("Bearer {t}"),
        b"alice's secret",
    )
    .await;
    // a token for the target only: the registry asks for the source too
    let t = token(&h, Some(&bob), &["repository:bob/app:pull,push"]).await;
    let a = mount(
        &h,
        "bob/app",
        &secret,
        "alice/private",
        &format!("Bearer {t}"),
    )
    .await;
    assert_eq!(
        a.status, 401,
        "mounted with a token that never asked for the source"
    );
    let ch = a.header("www-authenticate").unwrap();
    assert!(
        ch.contains("scope=\"repository:bob/app:pull,push repository:alice/private:pull\""),
        "{ch}"
    );
    assert!(ch.contains("error=\"insufficient_scope\""), "{ch}");
    // bob asks for both; the token answers no to the source, and the mount is a session
    let t = token(
        &h,
        Some(&bob),
        &[
            "repository:bob/app:pull,push",
            "repository:alice/private:pull",
        ],
    )
    .await;
    let bearer = format!("Bearer {t}");
    let stolen = mount(&h, "bob/app", &secret, "alice/private", &bearer).await;
    let unknown = regverify::oci::Digest::sha256(b"never pushed").to_string();
    let absent = mount(&h, "bob/app", &unknown, "alice/private", &bearer).await;
    assert_eq!((stolen.status, absent.status), (202, 202));
    assert_eq!(shape(&stolen), shape(&absent));
    let read = h
        .req(
            "GET",
            &format!("/v2/bob/app/blobs/{secret}"),
            &[("authorization", &bearer)],
            Bytes::new(),
        )
        .await;
    assert_eq!(read.status, 404);
    // alice, who may pull the source, mounts
    let t = token(
        &h,
        Some(&alice),
        &[
            "repository:alice/copy:pull,push",
            "repository:alice/private:pull",
        ],
    )
    .await;
    let a = mount(
        &h,
        "alice/copy",
        &secret,
        "alice/private",
        &format!("Bearer {t}"),
    )
    .await;
    assert_eq!(a.status, 201);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Eight clients guess a cost-12 user's password on `/token` for four seconds, each from
/// its own address; meanwhile an anonymous client asks `GET /v2/` every 50 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_neither_stalls_the_server_nor_goes_fast() {
    let _g = serial().await;
    let hash = bcrypt::hash("correct horse", 12).unwrap();
    let t0 = Instant::now();
    assert!(!bcrypt::verify("guess", &hash).unwrap());
    let one_check = t0.elapsed();
    let r = serve("token", &[("victim", "correct horse", 12)], None, &[]);
    let stop = Instant::now() + Duration::from_secs(4);
    let mut attackers = vec![];
    for i in 0..8 {
        let h = client_from(&r.base, &format!("127.0.0.{}", 11 + i));
        attackers.push(tokio::spawn(async move {
            let (mut checked, mut throttled, mut n) = (0u32, 0u32, 0u32);
            while Instant::now() < stop {
                n += 1;
                let a = h
                    .req(
                        "GET",
                        "/token?service=regverify",
                        &[("authorization", &basic("victim", &format!("guess-{i}-{n}")))],
                        Bytes::new(),
                    )
                    .await;
                match a.status {
                    401 => checked += 1,
                    429 => {
                        throttled += 1;
                        assert_eq!(a.codes(), ["TOOMANYREQUESTS"]);
                        assert!(a.header("retry-after").is_some());
                    }
                    s => panic!("a guess answered {s}"),
                }
            }
            (checked, throttled)
        }));
    }
    let probe = client_from(&r.base, "127.0.0.2");
    let mut latencies = vec![];
    while Instant::now() < stop {
        let t = Instant::now();
        assert_eq!(probe.get("/v2/").await.status, 401);
        latencies.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut checked, mut throttled) = (0, 0);
    for a in attackers {
        let (c, t) = a.await.unwrap();
        checked += c;
        throttled += t;
    }
    let (mid, max) = (median(latencies.clone()), *latencies.iter().max().unwrap());
    eprintln!(
        "one cost-12 check {one_check:?}; GET /v2/ during the attack: median {mid:?}, max {max:?} over {} probes; guesses checked {checked}, refused with 429 {throttled}",
        latencies.len()
    );
    assert!(
        mid < one_check / 4,
        "GET /v2/ waits for password checks: median {mid:?} (one check {one_check:?})"
    );
    // each client: five free failures, then one more after a second's wait
    assert!(checked <= 8 * 7, "{checked} guesses were checked in 4 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_back_off_per_client() {
    let _g = serial().await;
    let r = serve("basic", &[("alice", "alice-pw", 4)], None, &[]);
    let guesser = client_from(&r.base, "127.0.0.21");
    let wrong = basic("alice", "wrong");
    for _ in 0..6 {
        let a = guesser
            .req("GET", "/v2/", &[("authorization", &wrong)], Bytes::new())
            .await;
        assert_eq!(a.status, 401);
    }
    let a = guesser
        .req("GET", "/v2/", &[("authorization", &wrong)], Bytes::new())
        .await;
    assert_eq!(a.status, 429, "the seventh guess in a row was checked");
    assert_eq!(a.codes(), ["TOOMANYREQUESTS"]);
    let wait: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    // while it waits, even the right password is not looked at
    let right = basic("alice", "alice-pw");
    let a = guesser
        .req("GET", "/v2/", &[("authorization", &right)], Bytes::new())
        .await;
    assert_eq!(a.status, 429);
    // other clients are not affected, nor are requests without credentials
    let other = client_from(&r.base, "127.0.0.22");
    let a = other
        .req("GET", "/v2/", &[("authorization", &right)], Bytes::new())
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(guesser.get("/v2/").await.status, 401);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let a = guesser
        .req("GET", "/v2/", &[("authorization", &right)], Bytes::new())
        .await;
    assert_eq!(a.status, 200);
}

/// Unknown users and wrong passwords take the same time, each tried from a fresh address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_take_as_long_as_wrong_passwords() {
    let _g = serial().await;
    let r = serve("basic", &[("alice", "alice-pw", 10)], None, &[]);
    let (mut unknown, mut wrong) = (vec![], vec![]);
    for i in 1..=7 {
        for (user, into, net) in [("mallory", &mut unknown, 1), ("alice", &mut wrong, 2)] {
            let h = client_from(&r.base, &format!("127.0.{net}.{i}"));
            let auth = basic(user, "not-the-password");
            let t = Instant::now();
            let a = h
                .req("GET", "/v2/", &[("authorization", &auth)], Bytes::new())
                .await;
            into.push(t.elapsed());
            assert_eq!(a.status, 401);
        }
    }
    let (u, w) = (median(unknown), median(wrong));
    eprintln!("median answer: unknown user {u:?}, wrong password {w:?}");
    assert!(
        u * 2 > w && w * 2 > u,
        "unknown user {u:?}, wrong password {w:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_realm_comes_from_configuration_not_from_host() {
    let _g = serial().await;
    let r = serve("token", &alice_and_bob(), None, &[]);
    let h = Http::new(&r.base);
    let evil = "evil.example\",scope=\"registry:catalog:*";
    let a = h.req("GET", "/v2/", &[("host", evil)], Bytes::new()).await;
    assert_eq!(a.status, 401);
    let ch = a.header("www-authenticate").unwrap();
    assert_eq!(
        ch,
        format!("Bearer realm=\"{}/token\",service=\"regverify\"", r.base)
    );
    let r = serve(
        "token",
        &alice_and_bob(),
        None,
        &["--token-realm", "https://registry.example/auth/token"],
    );
    let a = Http::new(&r.base).get("/v2/").await;
    assert!(
        a.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer realm=\"https://registry.example/auth/token\","),
        "{:?}",
        a.header("www-authenticate")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_token_is_no_login_without_anonymous_pull() {
    let _g = serial().await;
    let r = serve("token", &alice_and_bob(), None, &[]);
    let h = Http::new(&r.base);
    let t = token(&h, None, &[]).await;
    let a = h
        .req(
            "GET",
            "/v2/",
            &[("authorization", &format!("Bearer {t}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(
        a.status, 401,
        "a token fetched without credentials opened /v2/"
    );
    let r = serve("token", &alice_and_bob(), None, &["--anonymous-pull"]);
    let h = Http::new(&r.base);
    let t = token(&h, None, &[]).await;
    let a = h
        .req(
            "GET",
            "/v2/",
            &[("authorization", &format!("Bearer {t}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemes_are_case_insensitive_and_tokens_have_three_segments() {
    let _g = serial().await;
    let r = serve("basic", &alice_and_bob(), None, &[]);
    let h = Http::new(&r.base);
    let b = basic("alice", "alice-pw");
    let lower = b.replacen("Basic", "basic", 1);
    let a = h
        .req("GET", "/v2/", &[("authorization", &lower)], Bytes::new())
        .await;
    assert_eq!(a.status, 200, "lower-case basic refused");
    let r = serve("token", &alice_and_bob(), None, &[]);
    let h = Http::new(&r.base);
    let t = token(&h, Some(&b), &[]).await;
    let a = h
        .req(
            "GET",
            "/v2/",
            &[("authorization", &format!("bearer {t}"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 200, "lower-case bearer refused");
    for extra in [".", ".e30", ".e30.e30"] {
        let a = h
            .req(
                "GET",
                "/v2/",
                &[("authorization", &format!("Bearer {t}{extra}"))],
                Bytes::new(),
            )
            .await;
        assert_eq!(
            a.status, 401,
            "a token with {extra:?} appended was accepted"
        );
        assert!(
            a.header("www-authenticate")
                .unwrap()
                .contains("error=\"invalid_token\"")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_pull_gets_only_what_the_rules_give_every_user() {
    let _g = serial().await;
    for mode in ["basic", "token"] {
        let r = serve(mode, &alice_and_bob(), Some(RULES), &["--anonymous-pull"]);
        let h = Http::new(&r.base);
        let alice = match mode {
            "basic" => basic("alice", "alice-pw"),
            _ => {
                let scopes = [
                    "repository:alice/app:pull,push",
                    "repository:shared/x:pull,push",
                ];
                let t = token(&h, Some(&basic("alice", "alice-pw")), &scopes).await;
                format!("Bearer {t}")
            }
        };
        let private = push(&h, "alice/app", &alice, b"private").await;
        let shared = push(&h, "shared/x", &alice, b"shared").await;
        let a = h.get(&format!("/v2/alice/app/blobs/{private}")).await;
        assert_eq!(a.status, 401, "{mode}: anonymous pulled alice/app");
        let a = h.get(&format!("/v2/shared/x/blobs/{shared}")).await;
        assert_eq!(a.status, 200, "{mode}: anonymous could not pull shared/x");
        let a = h
            .req("POST", "/v2/shared/x/blobs/uploads/", &[], Bytes::new())
            .await;
        assert_eq!(a.status, 401, "{mode}: anonymous pushed");
    }
}
