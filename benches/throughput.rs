//! Throughput of the reference registry on this machine, printed as numbers:
//! the limits (single-core SHA-256, durable disk writes, loopback TCP), then a 1 GiB push
//! (monolithic and in 16 MiB chunks) and pull, 32 concurrent 1 MiB pushes, and the
//! server's peak memory. `cargo bench` runs it; `BENCH_SIZE_MIB` shrinks it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use regverify::oci::{Algorithm, Digest};
use regverify::runner::content::SplitMix;

const MIB: usize = 1024 * 1024;

fn size_mib() -> usize {
    std::env::var("BENCH_SIZE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// The same pseudo-random 1 MiB chunks every time, generated on the fly; chunk `i` depends
/// only on (seed, i), so any range can be produced lazily.
fn chunk(seed: u64, i: usize, n: usize) -> Bytes {
    let mut rng = SplitMix::new(seed.wrapping_mul(0x9e37_79b9) ^ i as u64);
    let mut b = vec![0u8; n];
    rng.fill(&mut b);
    Bytes::from(b)
}

fn chunks_range(total: usize, seed: u64, from: usize, to: usize) -> impl Iterator<Item = Bytes> {
    (from..to).map(move |i| chunk(seed, i, MIB.min(total - i * MIB)))
}

fn chunks(total: usize, seed: u64) -> impl Iterator<Item = Bytes> {
    chunks_range(total, seed, 0, total.div_ceil(MIB))
}

fn rate(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64()
}

fn gbs(r: f64) -> String {
    format!("{:.2} GB/s", r / 1e9)
}

fn sha256_rate(total: usize) -> f64 {
    let buf: Vec<Bytes> = chunks(64 * MIB, 1).collect();
    let mut h = Algorithm::Sha256.hasher();
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        for b in &buf {
            h.update(b);
            done += b.len();
        }
    }
    let _ = h.finish();
    rate(done, start.elapsed())
}

fn durable_write_rate(dir: &std::path::Path, total: usize) -> f64 {
    let path = dir.join("durable-write-test");
    let chunk: Vec<u8> = chunks(MIB, 2).next().unwrap().to_vec();
    let start = Instant::now();
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..total / MIB {
        f.write_all(&chunk).unwrap();
    }
    f.sync_all().unwrap();
    let r = rate(total, start.elapsed());
    std::fs::remove_file(path).unwrap();
    r
}

async fn loopback_rate(total: usize) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let reader = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0;
        loop {
            let k = s.read(&mut buf).await.unwrap();
            if k == 0 {
                break n;
            }
            n += k;
        }
    });
    let chunk = vec![7u8; MIB];
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    for _ in 0..total / MIB {
        s.write_all(&chunk).await.unwrap();
    }
    s.shutdown().await.unwrap();
    let n = reader.await.unwrap();
    rate(n, start.elapsed())
}

/// GET over a bare socket; returns the body length (everything after the headers).
async fn raw_get(port: u16, path: &str) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut body = 0;
    loop {
        let k = s.read(&mut buf).await.unwrap();
        if k == 0 {
            break;
        }
        if body == 0 && head.len() < 65536 {
            head.extend_from_slice(&buf[..k]);
            if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                body = head.len() - p - 4;
                head.clear();
                head.resize(65536, 0); // headers done
            }
        } else {
            body += k;
        }
    }
    body
}

fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A body streaming pre-made chunks (cheap clones), so the client costs no CPU to speak of.
fn body_of(parts: &[Bytes]) -> reqwest::Body {
    reqwest::Body::wrap_stream(futures_util::stream::iter(
        Vec::from(parts).into_iter().map(Ok::<_, std::io::Error>),
    ))
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing: run small then
    let quick = !std::env::args().any(|a| a == "--bench");
    let total = if quick { 16 * MIB } else { size_mib() * MIB };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("regverify-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();

    println!(
        "regverify throughput, {} MiB blobs, {} cores",
        total / MIB,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let sha = sha256_rate(total);
    let disk = durable_write_rate(tmp.path(), total);
    let lo = rt.block_on(loopback_rate(total));
    println!(
        "limits:   sha256 {}   durable write {}   loopback tcp {}",
        gbs(sha),
        gbs(disk),
        gbs(lo)
    );
    let push_limit = sha.min(disk);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = tmp.path().join("root");
    let mut server = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let base = format!("http://127.0.0.1:{port}");
    regverify::runner::client::install_crypto();
    let http = reqwest::Client::new();

    // the blobs are made before the clock starts: the figures are the server's
    let digest_of = |parts: &[Bytes]| {
        let mut h = Algorithm::Sha256.hasher();
        for c in parts {
            h.update(c);
        }
        h.finish()
    };
    let mono: Vec<Bytes> = chunks(total, 10).collect();
    let chunked: Vec<Bytes> = chunks(total, 11).collect();
    // each PATCH body whole, with its Content-Length, as clients send chunks
    let chunk_bodies: Vec<Bytes> = chunked
        .chunks(16)
        .map(|c| Bytes::from(c.concat()))
        .collect();

    rt.block_on(async {
        // monolithic: POST then one PUT with the whole body
        let d = digest_of(&mono);
        let start = Instant::now();
        let r = http
            .post(format!("{base}/v2/bench/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let r = http
            .put(format!("{base}{loc}?digest={d}"))
            .body(body_of(&mono))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let t = start.elapsed();
        let r1 = rate(total, t);
        println!(
            "push monolithic      {:>10}  {:.2} × min(sha256, durable write)",
            gbs(r1),
            r1 / push_limit
        );

        // chunked: 16 MiB PATCHes
        let d2 = digest_of(&chunked);
        let start = Instant::now();
        let r = http
            .post(format!("{base}/v2/bench/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        let mut loc = r.headers()["location"].to_str().unwrap().to_string();
        let mut offset = 0;
        while offset < total {
            let n = (16 * MIB).min(total - offset);
            let first = offset / MIB;
            let r = http
                .patch(format!("{base}{loc}"))
                .header("content-range", format!("{offset}-{}", offset + n - 1))
                .body(chunk_bodies[first / 16].clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            loc = r.headers()["location"].to_str().unwrap().to_string();
            // read the (empty) body so the connection goes back to the pool
            let _ = r.bytes().await;
            offset += n;
        }
        let patched = start.elapsed();
        let r = http
            .put(format!("{base}{loc}?digest={d2}"))
            .send()
            .await
            .unwrap();
        if std::env::var("BENCH_DETAIL").is_ok() {
            let closing = start.elapsed() - patched;
            println!("  (chunked: PATCHes {patched:?}, closing PUT {closing:?})");
        }
        assert_eq!(r.status(), 201);
        let r2 = rate(total, start.elapsed());
        println!(
            "push 16 MiB chunks   {:>10}  {:.2} × min(sha256, durable write)",
            gbs(r2),
            r2 / push_limit
        );
        let peak_push = peak_kib(server.id());

        // pull, read the way the loopback limit reads: plain HTTP/1.1 on a TCP socket
        let start = Instant::now();
        let n = raw_get(port, &format!("/v2/bench/blobs/{d}")).await;
        assert_eq!(n, total);
        let r3 = rate(total, start.elapsed());
        println!(
            "pull                 {:>10}  {:.2} × loopback",
            gbs(r3),
            r3 / lo
        );
        // and through reqwest, as the runner pulls
        let start = Instant::now();
        let r = http
            .get(format!("{base}/v2/bench/blobs/{d}"))
            .send()
            .await
            .unwrap();
        let mut s = r.bytes_stream();
        let mut n = 0;
        while let Some(c) = s.next().await {
            n += c.unwrap().len();
        }
        assert_eq!(n, total);
        let r4 = rate(total, start.elapsed());
        println!(
            "pull (reqwest)       {:>10}  {:.2} × loopback",
            gbs(r4),
            r4 / lo
        );

        // 32 concurrent 1 MiB pushes
        let blobs: Vec<(Bytes, Digest)> = (0..32)
            .map(|i| {
                let b = chunks(MIB, 100 + i).next().unwrap();
                let d = Digest::sha256(&b);
                (b, d)
            })
            .collect();
        let start = Instant::now();
        let mut tasks = vec![];
        for (b, d) in blobs {
            let (http, base) = (http.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                let r = http
                    .post(format!("{base}/v2/bench/many/blobs/uploads/"))
                    .send()
                    .await
                    .unwrap();
                let loc = r.headers()["location"].to_str().unwrap().to_string();
                let r = http
                    .put(format!("{base}{loc}?digest={d}"))
                    .body(b)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let t = start.elapsed();
        println!(
            "32 × 1 MiB pushes    {:>10.0} blobs/s",
            32.0 / t.as_secs_f64()
        );
        let peak = peak_kib(server.id());
        println!(
            "server peak memory   {:.1} MiB after the {} MiB pushes, {:.1} MiB at the end",
            peak_push as f64 / 1024.0,
            total / MIB,
            peak as f64 / 1024.0
        );
        let _ = Algorithm::Sha512;
    });
    let _ = server.kill();
    let _ = server.wait();
}
