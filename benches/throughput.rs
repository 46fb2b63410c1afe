//! Throughput of the reference registry on this machine, printed as numbers:
//! the limits (single-core SHA-256, durable disk writes, loopback TCP), then a 1 GiB push
//! (monolithic and in 16 MiB chunks) and pull, 32 concurrent 1 MiB pushes, and the
//! server's peak memory. `cargo bench` runs it; `BENCH_SIZE_MIB` shrinks it,
//! `BENCH_DETAIL` adds each run's time and the CPU the server and the client used, and
//! `BENCH_SERVER` measures another build of the server (the static binary).
//!
//! Each push and pull runs three times, each time against its limit measured just before
//! it; the median is printed with every run's ratio beside it, because on a shared VM one
//! run can be off by a factor of two either way.

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

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // fields after the parenthesised command name; utime and stime are the 12th and 13th
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
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

/// Pushes per kind; the figure printed is their median, with the spread beside it.
const ROUNDS: usize = 3;

fn digest_of(parts: &[Bytes]) -> Digest {
    let mut h = Algorithm::Sha256.hasher();
    for c in parts {
        h.update(c);
    }
    h.finish()
}

/// One measurement: its rate, and the limit measured right before it.
struct Ratio {
    rate: f64,
    limit: f64,
}

impl Ratio {
    fn new(total: usize, t: Duration, limit: f64) -> Ratio {
        Ratio {
            rate: rate(total, t),
            limit,
        }
    }

    fn ratio(&self) -> f64 {
        self.rate / self.limit
    }
}

/// The median run's rate and ratio, then every run's ratio.
fn report(what: &str, runs: &mut [Ratio], limit: &str) {
    runs.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
    let m = &runs[runs.len() / 2];
    let spread: Vec<String> = runs.iter().map(|r| format!("{:.2}", r.ratio())).collect();
    println!(
        "{what:<20} {:>10}  {:.2} × {limit} {}   [{} in {} runs]",
        gbs(m.rate),
        m.ratio(),
        gbs(m.limit),
        spread.join(" "),
        runs.len()
    );
}

/// POST: a new upload session; returns its location.
async fn start_upload(http: &reqwest::Client, base: &str, repo: &str) -> String {
    let r = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.headers()["location"].to_str().unwrap().to_string()
}

/// POST, then one PUT with the whole body and its length, as clients push monolithically.
async fn push_monolithic(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    parts: &[Bytes],
    d: &Digest,
) -> Duration {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let start = Instant::now();
    let loc = start_upload(http, base, repo).await;
    let r = http
        .put(format!("{base}{loc}?digest={d}"))
        .header("content-length", len)
        .body(body_of(parts))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    start.elapsed()
}

/// POST, a PATCH per 16 MiB (sent with its Content-Length and Content-Range, streamed as
/// clients stream from a file), then the closing PUT; returns the whole time and the PATCHes'.
async fn push_chunked(
    http: &reqwest::Client,
    base: &str,
    parts: &[Bytes],
    d: Digest,
) -> (Duration, Duration) {
    let start = Instant::now();
    let mut loc = start_upload(http, base, "bench").await;
    let mut offset = 0;
    for chunk in parts.chunks(16) {
        let len: usize = chunk.iter().map(|p| p.len()).sum();
        let r = http
            .patch(format!("{base}{loc}"))
            .header("content-range", format!("{offset}-{}", offset + len - 1))
            .header("content-length", len)
            .body(body_of(chunk))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        loc = r.headers()["location"].to_str().unwrap().to_string();
        // read the (empty) body so the connection goes back to the pool
        let _ = r.bytes().await;
        offset += len;
    }
    let patched = start.elapsed();
    let r = http
        .put(format!("{base}{loc}?digest={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    (start.elapsed(), patched)
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
    println!(
        "limits: sha256 {} on one core; the durable write (write + fsync) and loopback TCP \
         limits are taken right before each run",
        gbs(sha)
    );
    // The disk's limit is taken right before each push, in the memory conditions that push
    // meets: on a VM that hands freed memory back to its host, the first touch of a page
    // costs more than the disk itself, and a write into just-freed pages costs far less.
    // One unmeasured write first, so the measured one and the push both reuse freed pages.
    let disk_limit = || {
        durable_write_rate(tmp.path(), total);
        let disk = durable_write_rate(tmp.path(), total);
        (disk, sha.min(disk))
    };

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = tmp.path().join("root");
    // another build of the server may be measured with the same client (the static musl
    // binary against the glibc one): BENCH_SERVER names its path
    let server_bin = std::env::var_os("BENCH_SERVER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_regverify").into());
    println!("server: {}", server_bin.display());
    let mut server = Command::new(&server_bin)
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

    // The blobs are made before the clock starts: the figures are the server's. Each round
    // changes the first MiB only, so every push is of a new blob without more memory.
    let mono: Vec<Bytes> = chunks(total, 10).collect();
    let chunked: Vec<Bytes> = chunks(total, 11).collect();
    let detail = std::env::var("BENCH_DETAIL").is_ok();

    rt.block_on(async {
        let mut mono_runs = vec![];
        let mut chunked_runs = vec![];
        let mut pulled = None;
        for round in 0..ROUNDS {
            let mut parts = mono.clone();
            parts[0] = chunk(1000 + round as u64, 0, parts[0].len());
            let (disk, limit) = disk_limit();
            let d = digest_of(&parts);
            let cpu = (cpu_secs(server.id()), cpu_secs(std::process::id()));
            let t = push_monolithic(&http, &base, "bench", &parts, &d).await;
            if detail {
                println!(
                    "  (monolithic: {t:?}; durable write {}; CPU: server {:.2} s, client {:.2} s)",
                    gbs(disk),
                    cpu_secs(server.id()) - cpu.0,
                    cpu_secs(std::process::id()) - cpu.1
                );
            }
            pulled = Some(d);
            mono_runs.push(Ratio::new(total, t, limit));

            let mut parts = chunked.clone();
            parts[0] = chunk(2000 + round as u64, 0, parts[0].len());
            let (disk, limit) = disk_limit();
            let d = digest_of(&parts);
            let cpu = (cpu_secs(server.id()), cpu_secs(std::process::id()));
            let (t, patched) = push_chunked(&http, &base, &parts, d).await;
            if detail {
                println!(
                    "  (chunked: {t:?}, closing PUT {:?}; durable write {}; CPU: server {:.2} s, client {:.2} s)",
                    t - patched,
                    gbs(disk),
                    cpu_secs(server.id()) - cpu.0,
                    cpu_secs(std::process::id()) - cpu.1
                );
            }
            chunked_runs.push(Ratio::new(total, t, limit));
        }
        let limit = "min(sha256, durable write)";
        report("push monolithic", &mut mono_runs, limit);
        report("push 16 MiB chunks", &mut chunked_runs, limit);
        let peak_push = peak_kib(server.id());
        let d = pulled.expect("at least one round");

        // pull, read the way the loopback limit reads (plain HTTP/1.1 on a TCP socket), and
        // through reqwest as the runner pulls; each against a loopback copy taken just before
        let path = format!("/v2/bench/blobs/{d}");
        let (mut raw, mut via_reqwest) = (vec![], vec![]);
        for _ in 0..ROUNDS {
            let lo = loopback_rate(total).await;
            let start = Instant::now();
            assert_eq!(raw_get(port, &path).await, total);
            raw.push(Ratio::new(total, start.elapsed(), lo));

            let lo = loopback_rate(total).await;
            let start = Instant::now();
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            let mut s = r.bytes_stream();
            let mut n = 0;
            while let Some(c) = s.next().await {
                n += c.unwrap().len();
            }
            assert_eq!(n, total);
            via_reqwest.push(Ratio::new(total, start.elapsed(), lo));
        }
        report("pull", &mut raw, "loopback");
        report("pull (reqwest)", &mut via_reqwest, "loopback");

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
                push_monolithic(&http, &base, "bench/many", &[b], &d).await;
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
    });
    let _ = server.kill();
    let _ = server.wait();
}
