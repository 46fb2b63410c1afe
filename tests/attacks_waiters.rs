//! The reference registry under a flood of requests waiting for one upload session's lock,
//! on loopback: one chunk kept alive a byte at a time holds the lock, and a thousand requests
//! of the same client queue behind it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Http;
use regverify::server::Config;
use regverify::server::conn::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Everything `s` answers until the server closes it, or until `within` runs out.
async fn read_to_close(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// An answer's head (the connection stays open), or none within `within`.
async fn read_head(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

/// `GET /v2/` from another client (127.0.0.2); its answer's status line, timed.
async fn base_from_another_client(addr: SocketAddr) -> (String, Duration) {
    let t = Instant::now();
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(10))
        .await
        .unwrap_or_default();
    let status = answer.lines().next().unwrap_or_default().to_string();
    (status, t.elapsed())
}

/// 1024 requests wait on one session held by a dripping chunk (default connection cap,
/// 1024): another client's `GET /v2/` is still answered within a second, every waiter gets
/// 429 `TOOMANYREQUESTS` with `Retry-After` and a closed connection (at once past the
/// client's cap on waiters, after the lock timeout within it), and the dripping chunk,
/// never silent, is accepted whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_waiters_are_bounded_and_others_are_served() {
    let started = Instant::now();
    flood(Limits::default().max_connections, 1024).await;
    eprintln!("1024 lock waiters: {:?}", started.elapsed());
}

/// The same with 20 connection slots and 40 waiters: one client's waiters never take them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_waiters_leave_slots_at_a_small_connection_cap() {
    flood(20, 40).await;
}

async fn flood(max_connections: usize, count: usize) {
    let lock_wait = Duration::from_secs(2);
    let config = Config {
        limits: Limits {
            lock_wait,
            max_connections,
            ..Limits::default()
        },
        ..Config::default()
    };
    let per_client = config.waiter_cap();
    let reg = common::start(config, false).await;
    let addr = reg.server.addr;
    let h = Http::new(&reg.url);
    let a = h
        .req("POST", "/v2/flood/lock/blobs/uploads/", &[], Bytes::new())
        .await;
    assert_eq!(a.status, 202);
    let loc = a.header("location").unwrap().to_string();

    // the chunk holding the lock: 16 bytes, one every 400 ms (6.4 s, never silent for the
    // 30 s body timeout)
    let mut drip = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 0-15\r\nContent-Length: 16\r\n\r\n"
    );
    drip.write_all(head.as_bytes()).await.unwrap();
    let dripper = tokio::spawn(async move {
        for b in b"0123456789abcdef" {
            tokio::time::sleep(Duration::from_millis(400)).await;
            drip.write_all(&[*b]).await.unwrap();
        }
        read_head(&mut drip, Duration::from_secs(5)).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // the waiters: PATCHes of the same session whose bodies say nothing
    let mut waiters = Vec::with_capacity(count);
    for _ in 0..count {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!("PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        waiters.push(tokio::spawn(async move {
            let t = Instant::now();
            let answer = read_to_close(&mut s, Duration::from_secs(15)).await;
            (answer, t.elapsed())
        }));
    }

    let (status, took) = base_from_another_client(addr).await;
    assert!(status.starts_with("HTTP/1.1 200"), "GET /v2/: {status:?}");
    assert!(
        took < Duration::from_secs(1),
        "GET /v2/ of another client took {took:?} behind the waiters"
    );

    let mut waited = 0;
    for w in waiters {
        let (answer, took) = w.await.unwrap();
        let answer = answer.expect("a waiter got no answer, or its connection stayed open");
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
        let lower = answer.to_ascii_lowercase();
        assert!(lower.contains("retry-after: 2\r\n"), "{answer}");
        assert!(lower.contains("connection: close\r\n"), "{answer}");
        assert!(answer.contains("TOOMANYREQUESTS"), "{answer}");
        if took >= lock_wait - Duration::from_millis(100) {
            waited += 1;
        }
    }
    // only the client's allowance of waiters waited out the lock timeout
    assert!(
        waited > 0 && waited <= per_client,
        "{waited} waiters waited for the lock"
    );
    let dripped = dripper
        .await
        .unwrap()
        .expect("the dripping chunk got no answer");
    assert!(dripped.starts_with("HTTP/1.1 202"), "{dripped}");
    assert!(
        dripped.to_ascii_lowercase().contains("range: 0-15\r\n"),
        "{dripped}"
    );
    let status = h.get(&loc).await;
    assert_eq!(status.status, 204);
    assert_eq!(status.header("range"), Some("0-15"));
}
