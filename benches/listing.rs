//! Listing cost on this machine, printed as numbers: a page of 100 tags out of 100,000 (cold,
//! when the index is first read from disk, then warm), a catalog page out of 10,000
//! repositories, and a manifest delete in a repository of 100,000 tags, on both storages and
//! over HTTP. `cargo bench --bench listing` runs it; `BENCH_TAGS` changes the tag count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use regverify::oci::Digest;
use regverify::server::storage::{FsStorage, MemStorage, Storage};
use regverify::server::{self, App, Config};

fn tag_count() -> usize {
    std::env::var("BENCH_TAGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const MT: &str = "application/vnd.oci.image.manifest.v1+json";

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn get(client: &reqwest::Client, url: &str) -> (Duration, u16) {
    let t = Instant::now();
    let res = client.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    res.bytes().await.unwrap();
    (t.elapsed(), status)
}

async fn delete(client: &reqwest::Client, url: &str) -> (Duration, u16) {
    let t = Instant::now();
    let res = client.delete(url).send().await.unwrap();
    let status = res.status().as_u16();
    res.bytes().await.unwrap();
    (t.elapsed(), status)
}

/// Populates `repo` with `n` tags on one manifest and one tag on another, through the trait
/// (memory) or by writing the tag files of the on-disk layout directly (disk: a durable
/// write per tag would take minutes and is not what is measured).
fn populate(storage: &dyn Storage, root: Option<&std::path::Path>, repo: &str, n: usize) {
    let many = Digest::sha256(MANIFEST.as_bytes());
    storage
        .manifest_put(repo, &many, MT, MANIFEST.as_bytes())
        .unwrap();
    let other_body = MANIFEST.replace("\"layers\":[]", "\"layers\":[],\"annotations\":{}");
    let other = Digest::sha256(other_body.as_bytes());
    storage
        .manifest_put(repo, &other, MT, other_body.as_bytes())
        .unwrap();
    storage.tag_put(repo, "lonely", &other).unwrap();
    match root {
        None => {
            for i in 0..n {
                storage.tag_put(repo, &format!("tag{i:06}"), &many).unwrap();
            }
        }
        Some(root) => {
            let dir = root.join("repositories").join(repo).join("_tags");
            std::fs::create_dir_all(&dir).unwrap();
            let value = many.to_string();
            for i in 0..n {
                std::fs::write(dir.join(format!("tag{i:06}")), &value).unwrap();
            }
        }
    }
}

async fn measure(label: &str, storage: Arc<dyn Storage>, n: usize) {
    let app = App::new(Config::default(), storage.clone());
    let srv = server::spawn(app, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = srv.url();
    let client = reqwest::Client::new();
    let page = |last: usize| format!("{base}/v2/bench/tags/list?n=100&last=tag{last:06}");

    let (cold, status) = get(&client, &page(n / 2)).await;
    assert_eq!(status, 200);
    let mut warm = vec![];
    for i in 0..200 {
        let (t, status) = get(&client, &page((i * 997) % n)).await;
        assert_eq!(status, 200);
        warm.push(t);
    }
    println!(
        "{label}: page of 100 of {n} tags over HTTP: first request {} (on disk it reads the index), then median {} of 200",
        ms(cold),
        ms(median(warm))
    );
    let mut direct = vec![];
    for i in 0..200 {
        let last = format!("tag{:06}", (i * 997) % n);
        let t = Instant::now();
        let p = storage.tags_page("bench", Some(&last), Some(100)).unwrap();
        direct.push(t.elapsed());
        assert!(p.unwrap().names.len() <= 100);
    }
    println!(
        "{label}: the same page from storage: median {}",
        ms(median(direct))
    );

    let lonely = Digest::sha256(
        MANIFEST
            .replace("\"layers\":[]", "\"layers\":[],\"annotations\":{}")
            .as_bytes(),
    );
    let (t, status) = delete(&client, &format!("{base}/v2/bench/manifests/{lonely}")).await;
    assert_eq!(status, 202);
    println!(
        "{label}: delete of a manifest with 1 tag, {n} other tags in the repository: {}",
        ms(t)
    );
    let many = Digest::sha256(MANIFEST.as_bytes());
    let (t, status) = delete(&client, &format!("{base}/v2/bench/manifests/{many}")).await;
    assert_eq!(status, 202);
    println!(
        "{label}: delete of a manifest {n} tags point to (all {n} tags removed): {}",
        ms(t)
    );
    srv.shutdown().await;
}

async fn catalog(n: usize) {
    let storage = Arc::new(MemStorage::new());
    let d = Digest::sha256(MANIFEST.as_bytes());
    for i in 0..n {
        storage
            .manifest_put(&format!("team{i:05}/app"), &d, MT, MANIFEST.as_bytes())
            .unwrap();
    }
    let app = App::new(Config::default(), storage);
    let srv = server::spawn(app, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let mut times = vec![];
    for i in 0..200 {
        let url = format!(
            "{}/v2/_catalog?n=100&last=team{:05}/app",
            srv.url(),
            (i * 37) % n
        );
        let (t, status) = get(&client, &url).await;
        assert_eq!(status, 200);
        times.push(t);
    }
    println!(
        "memory: catalog page of 100 of {n} repositories over HTTP: median {}",
        ms(median(times))
    );
    srv.shutdown().await;
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test` lists benches; nothing to list
    }
    let n = tag_count();
    regverify::runner::client::install_crypto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mem = Arc::new(MemStorage::new());
        let t = Instant::now();
        populate(mem.as_ref(), None, "bench", n);
        println!("memory: {n} tags written in {}", ms(t.elapsed()));
        measure("memory", mem, n).await;

        let dir = tempfile::tempdir().unwrap();
        let fs = Arc::new(FsStorage::open(dir.path()).unwrap());
        let t = Instant::now();
        populate(fs.as_ref(), Some(dir.path()), "bench", n);
        println!("disk: {n} tag files written in {}", ms(t.elapsed()));
        measure("disk", fs, n).await;

        catalog(10_000).await;
    });
}
