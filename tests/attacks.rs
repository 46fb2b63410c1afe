//! The reference registry under attack, each attack bounded in count and time, on loopback:
//! slow readers, slowloris, stalled bodies, connection floods, session floods, races between
//! requests on one session or one repository, hostile ranges and headers (a crash in the
//! middle of a garbage collection is in `gc.rs`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Http;
use regverify::server::conn::Limits;
use regverify::server::storage::{FsStorage, MemStorage, Storage};
use regverify::server::{self, App, Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A registry with `config` on `storage`; the app too, to look at its sessions.
async fn serve(config: Config, storage: Arc<dyn Storage>) -> (Server, Arc<App>, Http) {
    let app = App::new(config, storage);
    let server = server::spawn(app.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = Http::new(&server.url());
    (server, app, http)
}

fn quick(limits: Limits) -> Config {
    Config {
        limits,
        ..Config::default()
    }
}

/// Whether the server closes `s` within `within` (reads up to its end, discarding).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

async fn open_upload(h: &Http, repo: &str) -> String {
    let a = h
        .req(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    a.header("location").unwrap().to_string()
}

/// 600 clients that ask for a 16 MiB blob and never read must not hold a thread each:
/// a pool of 512 blocking threads, once full, stalled every request touching storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_do_not_stop_other_requests() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FsStorage::open(dir.path()).unwrap());
    let (_server, _app, h) = serve(Config::default(), storage).await;
    let blob: Vec<u8> = (0..16 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let d = h.push_blob("slow/readers", &blob).await;
    let addr = h.base.trim_start_matches("http://").to_string();
    let mut held = vec![];
    for _ in 0..600 {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        // a small window: the server's writes stall at once, as behind a slow link
        sock.set_recv_buffer_size(4096).unwrap();
        let mut s = sock.connect(addr.parse().unwrap()).await.unwrap();
        let req = format!("GET /v2/slow/readers/blobs/{d} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let probe = async {
        let head = h
            .req(
                "HEAD",
                &format!("/v2/slow/readers/blobs/{d}"),
                &[],
                Bytes::new(),
            )
            .await;
        let tags = h.get("/v2/slow/readers/tags/list").await;
        let post = h
            .req("POST", "/v2/slow/readers/blobs/uploads/", &[], Bytes::new())
            .await;
        (head.status, tags.status, post.status)
    };
    let answered = tokio::time::timeout(Duration::from_secs(5), probe).await;
    assert_eq!(
        answered.ok(),
        Some((200, 200, 202)),
        "other requests stalled behind 600 slow readers"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(held);
}

/// Headers sent a byte at a time, then not at all (slowloris), and connections left
/// idle, are closed by the server, not held forever.
#[tokio::test]
async fn slowloris_and_idle_connections_are_closed() {
    let limits = Limits {
        header_read: Duration::from_millis(400),
        idle: Duration::from_millis(800),
        ..Limits::default()
    };
    let (server, _app, _h) = serve(quick(limits), Arc::new(MemStorage::new())).await;
    let mut loris = vec![];
    for _ in 0..50 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        loris.push(s);
    }
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let t = Instant::now();
    for s in &mut loris {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "a connection with unfinished headers stayed open"
        );
    }
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(
        closed_within(&mut idle, Duration::from_secs(3)).await,
        "an idle connection stayed open"
    );
    // a connection in use between requests stays while it is used within the idle limit
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        kept.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = kept.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A PATCH whose body stalls is dropped after the body
/// timeout and rolled back; while it stalls, status shows only accepted bytes; afterwards the
/// session is free again.
#[tokio::test]
async fn a_stalled_body_is_dropped_and_its_chunk_rolled_back() {
    let limits = Limits {
        body_progress: Duration::from_millis(1500),
        ..Limits::default()
    };
    let (server, _app, h) = serve(quick(limits), Arc::new(MemStorage::new())).await;
    let loc = open_upload(&h, "stall/body").await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n0123456789"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let during = h.get(&loc).await;
    assert_eq!(during.status, 204);
    assert_eq!(
        during.header("range"),
        Some("0-0"),
        "status counted bytes of a chunk not yet accepted"
    );
    // the body timeout drops the stalled request; the session lock is released with it
    let t = Instant::now();
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        h.req(
            "PATCH",
            &loc,
            &[
                ("content-range", "0-3"),
                ("content-type", "application/octet-stream"),
            ],
            &b"abcd"[..],
        ),
    )
    .await
    .expect("the session stayed locked by a stalled body");
    assert_eq!(next.status, 202, "{}", String::from_utf8_lossy(&next.body));
    assert_eq!(
        next.header("range"),
        Some("0-3"),
        "the stalled chunk was kept"
    );
    assert!(t.elapsed() >= Duration::from_millis(800));
    assert!(closed_within(&mut s, Duration::from_secs(2)).await);
}

/// The body timeout counts silence, not duration: a slow body that keeps sending passes, and a
/// request waiting for the session lock (not reading its body yet) is not cut off.
#[tokio::test]
async fn slow_but_steady_bodies_and_waiting_requests_are_kept() {
    let limits = Limits {
        body_progress: Duration::from_millis(400),
        ..Limits::default()
    };
    let (server, _app, h) = serve(quick(limits), Arc::new(MemStorage::new())).await;
    let loc = open_upload(&h, "slow/steady").await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-9\r\nContent-Length: 10\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // the second chunk queues behind the first on the session lock
    let h2 = Http::new(&server.url());
    let l2 = loc.clone();
    let second = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        h2.req("PATCH", &l2, &[("content-range", "10-13")], &b"abcd"[..])
            .await
    });
    // ten bytes over 1.5 s, one every 150 ms: slower in all than the limit, never silent
    for b in b"0123456789" {
        tokio::time::sleep(Duration::from_millis(150)).await;
        s.write_all(&[*b]).await.unwrap();
    }
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let second = second.await.unwrap();
    assert_eq!(
        second.status,
        202,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    assert_eq!(second.header("range"), Some("0-13"));
}

/// Past the connection cap, new connections wait until one closes.
#[tokio::test]
async fn connections_past_the_cap_wait() {
    let limits = Limits {
        max_connections: 20,
        ..Limits::default()
    };
    let (server, _app, _h) = serve(quick(limits), Arc::new(MemStorage::new())).await;
    let mut held = vec![];
    for _ in 0..20 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        assert!(s.read(&mut buf).await.unwrap() > 0);
        held.push(s);
    }
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    extra
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(500), extra.read(&mut buf)).await;
    assert!(early.is_err(), "a connection past the cap was served");
    held.pop();
    let late = tokio::time::timeout(Duration::from_secs(3), extra.read(&mut buf)).await;
    let n = late.expect("served once a slot freed").unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

/// Shutdown with a request body stalled finishes within the shutdown deadline.
#[tokio::test]
async fn shutdown_is_bounded_by_its_deadline() {
    let limits = Limits {
        shutdown: Duration::from_millis(500),
        ..Limits::default()
    };
    let (server, _app, h) = serve(quick(limits), Arc::new(MemStorage::new())).await;
    let loc = open_upload(&h, "stall/shutdown").await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n01234");
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown waited on a stalled body");
    assert!(t.elapsed() < Duration::from_secs(2));
}

/// Expired sessions are forgotten by a sweep; open sessions are capped per client and
/// in all, with 429 TOOMANYREQUESTS; `--memory` refuses content past its cap.
#[tokio::test]
async fn sessions_expire_and_are_capped() {
    let config = Config {
        upload_ttl: Duration::from_secs(1),
        max_uploads_per_client: 30,
        ..Config::default()
    };
    let (_server, app, h) = serve(config, Arc::new(MemStorage::new())).await;
    for _ in 0..30 {
        open_upload(&h, "flood/sessions").await;
    }
    let refused = h
        .req(
            "POST",
            "/v2/flood/sessions/blobs/uploads/",
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.codes(), ["TOOMANYREQUESTS"]);
    assert_eq!(app.open_sessions(), 30);
    // the sweep runs every second; sessions idle over a second are gone within three
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.open_sessions() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.open_sessions(), 0, "expired sessions stayed in memory");
    open_upload(&h, "flood/sessions").await;

    let total = Config {
        max_uploads: 3,
        ..Config::default()
    };
    let (_s2, _a2, h2) = serve(total, Arc::new(MemStorage::new())).await;
    for _ in 0..3 {
        open_upload(&h2, "flood/total").await;
    }
    let refused = h2
        .req("POST", "/v2/flood/total/blobs/uploads/", &[], Bytes::new())
        .await;
    assert_eq!(
        (refused.status, refused.codes()),
        (429, vec!["TOOMANYREQUESTS".into()])
    );
}

/// A request naming a session through another repository's path is refused (404) and leaves
/// the session alone: it stays counted against its client's cap, and open in its own path.
#[tokio::test]
async fn a_session_named_through_another_repository_is_left_alone() {
    let config = Config {
        max_uploads_per_client: 1,
        ..Config::default()
    };
    let (_server, app, h) = serve(config, Arc::new(MemStorage::new())).await;
    let loc = open_upload(&h, "owner/repo").await;
    let foreign = loc.replacen("/v2/owner/repo/", "/v2/other/repo/", 1);
    for method in ["GET", "PATCH", "PUT", "DELETE"] {
        let a = h.req(method, &foreign, &[], Bytes::new()).await;
        assert_eq!(a.status, 404, "{method} {foreign}");
    }
    assert_eq!(app.open_sessions(), 1);
    let second = h
        .req("POST", "/v2/owner/repo/blobs/uploads/", &[], Bytes::new())
        .await;
    assert_eq!(second.status, 429, "the session was no longer counted");
    assert_eq!(h.get(&loc).await.status, 204);
}

#[tokio::test]
async fn memory_storage_refuses_past_its_cap() {
    let storage = Arc::new(MemStorage::with_limit(1024 * 1024));
    let (_server, _app, h) = serve(Config::default(), storage).await;
    let loc = open_upload(&h, "mem/cap").await;
    let big = vec![7u8; 2 * 1024 * 1024];
    let a = h.req("PATCH", &loc, &[], big).await;
    assert_eq!(a.status, 507, "{}", String::from_utf8_lossy(&a.body));
    // refused whole: the session holds nothing and takes what fits
    let status = h.get(&loc).await;
    assert_eq!(status.header("range"), Some("0-0"));
    let small = vec![1u8; 1000];
    let d = regverify::oci::Digest::sha256(&small);
    let a = h.req("PUT", &format!("{loc}?digest={d}"), &[], small).await;
    assert_eq!(a.status, 201);
}

/// A cancel racing the closing PUT or a PATCH on the same session never answers 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_racing_put_or_patch_never_fails() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FsStorage::open(dir.path()).unwrap());
    let (_server, _app, h) = serve(Config::default(), storage).await;
    let h = Arc::new(h);
    let data = vec![5u8; 256 * 1024];
    let d = regverify::oci::Digest::sha256(&data).to_string();
    for i in 0..40 {
        let loc = open_upload(&h, "race/cancel").await;
        let (h1, h2, l1, l2) = (h.clone(), h.clone(), loc.clone(), loc.clone());
        let (body, dd) = (data.clone(), d.clone());
        let write = tokio::spawn(async move {
            if i % 2 == 0 {
                h1.req("PUT", &format!("{l1}?digest={dd}"), &[], body).await
            } else {
                h1.req("PATCH", &l1, &[], body).await
            }
        });
        let cancel = tokio::spawn(async move { h2.req("DELETE", &l2, &[], Bytes::new()).await });
        let (w, c) = (write.await.unwrap(), cancel.await.unwrap());
        assert!(w.status < 500, "write answered {}", w.status);
        assert!(c.status < 500, "cancel answered {}", c.status);
        assert!(
            matches!(c.status, 204 | 404),
            "cancel answered {}",
            c.status
        );
    }
}

/// A tag put racing a delete of its manifest never leaves a tag that lists but
/// answers 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_never_outlives_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FsStorage::open(dir.path()).unwrap());
    let (_server, _app, h) = serve(Config::default(), storage).await;
    let h = Arc::new(h);
    let repo = "race/tags";
    let (manifest, digest) = h.push_image(repo, "first", "race").await;
    let mut dangling = 0;
    for i in 0..100u64 {
        let tag = format!("t{i}");
        let (h1, h2, m, t, d) = (
            h.clone(),
            h.clone(),
            manifest.clone(),
            tag.clone(),
            digest.clone(),
        );
        let put = tokio::spawn(async move {
            h1.req(
                "PUT",
                &format!("/v2/{repo}/manifests/{t}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                m,
            )
            .await
        });
        // staggered, so the delete lands at every point of the put
        let del = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros((i % 10) * 300)).await;
            h2.req(
                "DELETE",
                &format!("/v2/{repo}/manifests/{d}"),
                &[],
                Bytes::new(),
            )
            .await
        });
        let (p, x) = (put.await.unwrap(), del.await.unwrap());
        assert_eq!(p.status, 201);
        assert!(matches!(x.status, 202 | 404));
        let tags = h.get(&format!("/v2/{repo}/tags/list")).await.json();
        let listed = tags["tags"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(tag.as_str())));
        if listed && h.get(&format!("/v2/{repo}/manifests/{tag}")).await.status != 200 {
            dangling += 1;
        }
    }
    assert_eq!(dangling, 0, "tags listed whose manifest is gone");
}

/// A Content-Range whose length overflows is not satisfiable; one ending past its
/// own total is malformed.
#[tokio::test]
async fn hostile_content_ranges_are_refused() {
    let (_server, _app, h) = serve(Config::default(), Arc::new(MemStorage::new())).await;
    let loc = open_upload(&h, "range/attack").await;
    let a = h
        .req(
            "PATCH",
            &loc,
            &[("content-range", "0-18446744073709551615")],
            &b"abcd"[..],
        )
        .await;
    assert_eq!(a.status, 416, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("range"), Some("0-0"));
    let a = h
        .req("PATCH", &loc, &[("content-range", "0-3/2")], &b"abcd"[..])
        .await;
    assert_eq!(a.status, 400, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.codes(), ["BLOB_UPLOAD_INVALID"]);
    assert_eq!(h.get(&loc).await.header("range"), Some("0-0"));
}

/// Opening and cancelling an upload creates no repository.
#[tokio::test]
async fn an_upload_alone_makes_no_repository() {
    for on_disk in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = if on_disk {
            Arc::new(FsStorage::open(dir.path()).unwrap())
        } else {
            Arc::new(MemStorage::new())
        };
        let (_server, _app, h) = serve(Config::default(), storage).await;
        let loc = open_upload(&h, "ghost/repo").await;
        assert_eq!(
            h.get("/v2/_catalog").await.json()["repositories"],
            serde_json::json!([])
        );
        assert_eq!(h.req("DELETE", &loc, &[], Bytes::new()).await.status, 204);
        assert_eq!(
            h.get("/v2/_catalog").await.json()["repositories"],
            serde_json::json!([])
        );
        let tags = h.get("/v2/ghost/repo/tags/list").await;
        assert_eq!(
            (tags.status, tags.codes()),
            (404, vec!["NAME_UNKNOWN".into()])
        );
    }
}

/// No `Host` or two `Host` headers → 400 (RFC 9112 §3.2); an invalid `n`
/// answers UNSUPPORTED (the OCI table has no code of its own for it).
#[tokio::test]
async fn malformed_requests_are_refused() {
    let (server, _app, h) = serve(Config::default(), Arc::new(MemStorage::new())).await;
    for raw in [
        "GET /v2/ HTTP/1.1\r\n\r\n",
        "GET /v2/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 400"), "{raw:?} got {answer}");
    }
    h.push_image("pages/n", "v1", "n").await;
    let a = h.get("/v2/pages/n/tags/list?n=x").await;
    assert_eq!((a.status, a.codes()), (400, vec!["UNSUPPORTED".into()]));
}

/// A referrers page is cut by bytes too, not only by count.
#[tokio::test]
async fn referrers_pages_are_capped_by_bytes() {
    let config = Config {
        referrers_page_bytes: 16 * 1024,
        ..Config::default()
    };
    let (_server, _app, h) = serve(config, Arc::new(MemStorage::new())).await;
    let repo = "refs/big";
    let (subject, sd) = h.push_image(repo, "subject", "s").await;
    let empty = h.push_blob(repo, b"{}").await;
    let note = "x".repeat(6 * 1024);
    for i in 0..6 {
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/x-test",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sd, "size": subject.len()},
            "annotations": {"n": i.to_string(), "note": note},
        });
        let a = h
            .req(
                "PUT",
                &format!("/v2/{repo}/manifests/r{i}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                serde_json::to_vec(&m).unwrap(),
            )
            .await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    }
    let mut seen = 0;
    let mut path = format!("/v2/{repo}/referrers/{sd}");
    loop {
        let a = h.get(&path).await;
        assert_eq!(a.status, 200);
        assert!(
            a.body.len() <= 16 * 1024 + 1024,
            "a page of {} bytes",
            a.body.len()
        );
        seen += a.json()["manifests"].as_array().unwrap().len();
        match a.header("link") {
            Some(l) => path = l[1..l.find('>').unwrap()].to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 6);
}
