//! `regverify gc` under a crash: killed in the middle of its sweep, it has removed nothing
//! referenced, and a rerun finishes the job.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Http, KillOnDrop};
use regverify::server::storage::FsStorage;
use regverify::server::{self, App, Config, Server};

async fn serve(dir: &std::path::Path) -> (Server, Http) {
    let storage = Arc::new(FsStorage::open(dir).unwrap());
    let server = server::spawn(
        App::new(Config::default(), storage),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let http = Http::new(&server.url());
    (server, http)
}

/// gc: kill it in the middle of its sweep; nothing referenced is removed, and a rerun
/// finishes the job.
#[test]
fn gc_survives_a_crash_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (kept, dropped) = rt.block_on(async {
        let (server, h) = serve(dir.path()).await;
        let mut kept = vec![];
        for i in 0..5 {
            let (_, d) = h
                .push_image("gc/kept", &format!("v{i}"), &format!("kept {i}"))
                .await;
            kept.push(d);
        }
        let (_, gone) = h.push_image("gc/dropped", "v1", "dropped").await;
        let a = h
            .req(
                "DELETE",
                &format!("/v2/gc/dropped/manifests/{gone}"),
                &[],
                Bytes::new(),
            )
            .await;
        assert_eq!(a.status, 202);
        server.shutdown().await;
        (kept, gone)
    });
    // plenty of unreferenced content: its removals fill the output pipe, which this test
    // does not read, so the sweep blocks half-way and is killed there
    let mut orphans = 0;
    for i in 0..3000u32 {
        let body = format!("orphan {i}");
        let d = regverify::oci::Digest::sha256(body.as_bytes());
        let p = dir.path().join("blobs/sha256").join(&d.hex()[..2]);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join(d.hex()), body).unwrap();
        orphans += 1;
    }
    // files of the content store (counted while gc removes them and their directories)
    let count = || {
        let mut n = 0;
        for p in std::fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .flatten()
        {
            if let Ok(rd) = std::fs::read_dir(p.path()) {
                n += rd.count();
            }
        }
        n
    };
    let before = count();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(["gc", "--root"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    // wait until the sweep has started and stopped moving (blocked on its full pipe)
    let mut last = before;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = count();
        if now < before && now == last {
            break;
        }
        last = now;
        assert!(Instant::now() < deadline, "the sweep did not start");
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let mid = count();
    assert!(
        mid < before && mid > before - orphans,
        "killed at {mid} of {before}"
    );

    let check = |label: &str| {
        rt.block_on(async {
            let (server, h) = serve(dir.path()).await;
            for d in &kept {
                let m = h.get(&format!("/v2/gc/kept/manifests/{d}")).await;
                assert_eq!(m.status, 200, "{label}: manifest {d} lost");
                let cfg = m.json()["config"]["digest"].as_str().unwrap().to_string();
                let c = h.get(&format!("/v2/gc/kept/blobs/{cfg}")).await;
                assert_eq!(c.status, 200, "{label}: config {cfg} lost");
            }
            server.shutdown().await;
        })
    };
    check("after the crash");
    let dry = std::process::Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(["gc", "--dry-run", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(dry.status.success());
    assert_eq!(count(), mid, "a dry run removed content");
    let rerun = std::process::Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(["gc", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(rerun.status.success());
    check("after the rerun");
    let removed = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        removed.contains(&dropped),
        "the deleted manifest was not reclaimed"
    );
    // what stays: 5 manifests and their 5 configs, and the config of the deleted manifest,
    // still linked into its repository (pullable as a blob)
    assert_eq!(count(), 11);
}
