//! SIGKILL the reference registry during concurrent uploads, restart it on the same storage,
//! and check that every blob it holds verifies against its digest and that it keeps working.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{Http, free_port, wait_for_port};
use regverify::oci::Digest;
use regverify::server::storage::{FsStorage, Storage};

fn serve(root: &std::path::Path, port: u16) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if wait_for_port(port) {
        return child;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

/// Pushes blobs in a loop (chunked, then closed) until the server goes away.
async fn pusher(url: String, worker: u64, committed: Arc<AtomicU64>) {
    let h = Http::new(&url);
    for n in 0u64.. {
        let size = 64 * 1024 + ((worker * 7919 + n * 104_729) % (768 * 1024)) as usize;
        let data: Vec<u8> = (0..size)
            .map(|i| ((i as u64 ^ (worker << 8) ^ n) % 251) as u8)
            .collect();
        let d = Digest::sha256(&data).to_string();
        let Ok(a) = h
            .http
            .post(format!("{url}/v2/crash/w{worker}/blobs/uploads/"))
            .send()
            .await
        else {
            return;
        };
        let mut loc = a.headers()["location"].to_str().unwrap().to_string();
        for (i, c) in data.chunks(128 * 1024).enumerate() {
            let start = i * 128 * 1024;
            let r = h
                .http
                .patch(format!("{url}{loc}"))
                .header("content-range", format!("{start}-{}", start + c.len() - 1))
                .body(Bytes::copy_from_slice(c))
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 202 => {
                    loc = r.headers()["location"].to_str().unwrap().to_string()
                }
                _ => return,
            }
        }
        match h.http.put(format!("{url}{loc}?digest={d}")).send().await {
            Ok(r) if r.status() == 201 => {
                committed.fetch_add(1, Ordering::Relaxed);
            }
            _ => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_uploads_leaves_only_whole_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    regverify::runner::client::install_crypto();
    let mut child = serve(dir.path(), port);
    let committed = Arc::new(AtomicU64::new(0));
    let mut tasks = vec![];
    for w in 0..8 {
        tasks.push(tokio::spawn(pusher(url.clone(), w, committed.clone())));
    }
    // let uploads get going, then kill without warning
    for _ in 0..100 {
        if committed.load(Ordering::Relaxed) >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let before = committed.load(Ordering::Relaxed);
    assert!(
        before >= 10,
        "only {before} blobs committed before the crash"
    );

    // every blob on disk verifies against its digest
    let storage = FsStorage::open(dir.path()).unwrap();
    let blobs = storage.blobs().unwrap();
    assert!(
        blobs.len() as u64 >= before,
        "{} blobs on disk, {before} acknowledged",
        blobs.len()
    );
    for d in &blobs {
        let mut r = storage.blob_read_global(d).unwrap().unwrap();
        let mut h = d.algorithm().hasher();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        assert_eq!(&h.finish(), d, "blob {d} does not match its content");
    }
    let interrupted = storage.uploads().unwrap();
    drop(storage);

    // the restarted registry serves every blob and still takes uploads
    let mut child = serve(dir.path(), port);
    let h = Http::new(&url);
    for id in &interrupted {
        // an interrupted upload reports the bytes it holds
        let dirs = ["w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"];
        let mut found = false;
        for w in dirs {
            let a = h.get(&format!("/v2/crash/{w}/blobs/uploads/{id}")).await;
            if a.status == 204 {
                assert!(a.header("range").unwrap().starts_with("0-"));
                found = true;
            }
        }
        assert!(found, "upload {id} lost after the restart");
    }
    let d = h.push_blob("crash/after", b"still works").await;
    assert_eq!(
        h.get(&format!("/v2/crash/after/blobs/{d}")).await.body,
        &b"still works"[..]
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
