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

/// `regverify serve --root DIR` (the real binary) on a free port; `--read-only` if asked.
fn serve_binary(dir: &std::path::Path, read_only: bool) -> (KillOnDrop, String) {
    let port = common::free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_regverify"));
    cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if read_only {
        cmd.arg("--read-only");
    }
    let child = KillOnDrop(cmd.spawn().unwrap());
    assert!(common::wait_for_port(port), "serve did not come up");
    (child, format!("http://127.0.0.1:{port}"))
}

/// `regverify gc --root DIR` with `flags`: exit code, stdout, stderr.
fn gc(dir: &std::path::Path, flags: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_regverify"))
        .arg("gc")
        .args(flags)
        .arg("--root")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A blob of the content store written behind the registry's back: referenced by nothing.
fn orphan(dir: &std::path::Path, body: &str) -> String {
    let d = regverify::oci::Digest::sha256(body.as_bytes());
    let p = dir.join("blobs/sha256").join(&d.hex()[..2]);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(d.hex()), body).unwrap();
    d.to_string()
}

/// What pushers had acknowledged (201): repository, manifest, its config, a layer blob.
type Acked = Vec<(String, String, String, String)>;

/// Every acknowledged manifest and blob is still served by `url`.
async fn all_there(url: &str, acked: &Acked, label: &str) {
    let h = Http::new(url);
    for (repo, m, cfg, layer) in acked {
        let a = h.get(&format!("/v2/{repo}/manifests/{m}")).await;
        assert_eq!(a.status, 200, "{label}: manifest {m} of {repo} lost");
        for b in [cfg, layer] {
            let a = h.get(&format!("/v2/{repo}/blobs/{b}")).await;
            assert_eq!(a.status, 200, "{label}: blob {b} of {repo} lost");
        }
    }
}

/// gc beside a registry taking pushes (the real binaries) is refused, `--force` too, and
/// nothing acknowledged is lost; beside a registry serving `--read-only` a plain gc is
/// refused and `--force` sweeps; with the registry stopped gc sweeps as before. A registry
/// that writes does not start beside a read-only one.
#[test]
fn gc_is_refused_beside_a_registry_that_writes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (writer, url) = serve_binary(root, false);
    let h = Http::new(&url);
    // something for a sweep to reclaim: a deleted manifest (its config stays linked)
    let (_, dropped) = rt.block_on(h.push_image("gc/dropped", "v1", "dropped"));
    let a = rt.block_on(h.req(
        "DELETE",
        &format!("/v2/gc/dropped/manifests/{dropped}"),
        &[],
        Bytes::new(),
    ));
    assert_eq!(a.status, 202);
    // four clients push images for as long as gc is tried
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pushed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pushers: Vec<_> = (0..4)
        .map(|k| {
            let (stop, pushed, url) = (stop.clone(), pushed.clone(), url.clone());
            rt.spawn(async move {
                let h = Http::new(&url);
                let repo = format!("gc/live{k}");
                let mut acked = Acked::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Acquire) {
                    let layer = h
                        .push_blob(&repo, format!("layer {k} {i}").as_bytes())
                        .await;
                    let (m, d) = h
                        .push_image(&repo, &format!("v{i}"), &format!("{k} {i}"))
                        .await;
                    let m: serde_json::Value = serde_json::from_slice(&m).unwrap();
                    let cfg = m["config"]["digest"].as_str().unwrap().to_string();
                    acked.push((repo.clone(), d, cfg, layer));
                    pushed.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    i += 1;
                }
                acked
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pushed.load(std::sync::atomic::Ordering::Acquire) < 20 {
        assert!(Instant::now() < deadline, "pushes did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let tries: [&[&str]; 4] = [&[], &[], &["--force"], &[]];
    for flags in tries {
        let (code, out, err) = gc(root, flags);
        assert_eq!(
            code,
            Some(2),
            "gc {flags:?} ran beside a registry that writes: {out}"
        );
        assert!(
            err.contains("a registry that may write (or a gc) is using it"),
            "gc {flags:?}: {err}"
        );
        assert!(out.is_empty(), "gc {flags:?} removed: {out}");
    }
    // a dry run removes nothing and may look
    let (code, _, err) = gc(root, &["--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    stop.store(true, std::sync::atomic::Ordering::Release);
    let acked: Acked = pushers
        .into_iter()
        .flat_map(|p| rt.block_on(p).unwrap())
        .collect();
    rt.block_on(all_there(&url, &acked, "beside gc tries"));
    drop(writer);

    let (reader, url) = serve_binary(root, true);
    // a registry that writes would not be the root's only writer
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{}", common::free_port()),
        ])
        .arg("--root")
        .arg(root)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("must be alone with its root"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let (code, out, err) = gc(root, &[]);
    assert_eq!(code, Some(2), "gc ran beside a registry serving: {out}");
    assert!(err.contains("run gc --force"), "{err}");
    let (code, out, err) = gc(root, &["--force"]);
    assert_eq!(
        code,
        Some(0),
        "gc --force beside a read-only registry: {err}"
    );
    assert!(
        out.contains(&dropped),
        "the deleted manifest was not reclaimed: {out}"
    );
    rt.block_on(all_there(&url, &acked, "after gc --force"));
    drop(reader);

    // stopped: gc runs as it always did
    let stray = orphan(root, "stray");
    let (code, out, err) = gc(root, &[]);
    assert_eq!(code, Some(0), "gc of a stopped registry: {err}");
    assert!(out.contains(&stray), "{out}");
    let (_reader, url) = serve_binary(root, true);
    rt.block_on(all_there(&url, &acked, "after gc"));
}
