//! Real third-party peers: Debian's docker-registry (distribution 2.8) verified by the
//! runner against its baseline, Debian's skopeo and PyPI's oras against the reference.
//! A missing peer fails with the command that installs it.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{Http, KillOnDrop, free_port, python_with_oras, require, start, wait_for_port};
use regverify::oci::Digest;
use regverify::server::Config;

const APT: &str = "apt-get update && apt-get install -y docker-registry skopeo";

#[test]
fn distribution_2_8_matches_its_baseline_of_known_deviations() {
    let bin = require("docker-registry", APT);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let _registry = KillOnDrop(
        Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    assert!(wait_for_port(port), "distribution did not start");
    let out = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", &url, "--profile", "distribution", "--expect"])
        .arg("tests/expectations/distribution-2.8.yaml")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("expectations: the run matches"), "{stdout}");
}

/// Writes an OCI image layout holding one image with one layer; returns the manifest digest.
fn write_oci_layout(dir: &Path, layer: &[u8]) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = Digest::sha256(data);
        std::fs::write(blobs.join(d.hex()), data).unwrap();
        d.to_string()
    };
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = put(config);
    let ld = put(layer);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let md = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    md
}

/// Writes a skopeo `dir:` image in Docker schema 2; returns the manifest digest.
fn write_docker_dir(dir: &Path, layer: &[u8]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Digest::sha256(config);
    let ld = Digest::sha256(layer);
    std::fs::write(dir.join(cd.hex()), config).unwrap();
    std::fs::write(dir.join(ld.hex()), layer).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    std::fs::write(dir.join("manifest.json"), &manifest).unwrap();
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    Digest::sha256(manifest.as_bytes()).to_string()
}

fn skopeo(args: &[&str]) -> String {
    let bin = require("skopeo", APT);
    let out = Command::new(bin)
        .args(["--insecure-policy"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_images_in_and_out_with_digests_unchanged() {
    let reg = start(Config::default(), true).await;
    let host = reg.url.trim_start_matches("http://").to_string();
    let tmp = tempfile::tempdir().unwrap();
    let layer: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 256) as u8).collect();

    // OCI layout → registry → OCI layout
    let src = tmp.path().join("oci-src");
    let md = write_oci_layout(&src, &layer);
    let src_ref = format!("oci:{}:v1", src.display());
    let dst = format!("docker://{host}/skopeo/oci:v1");
    let (s1, d1) = (src_ref.clone(), dst.clone());
    tokio::task::spawn_blocking(move || {
        skopeo(&[
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &s1,
            &d1,
        ])
    })
    .await
    .unwrap();
    let h = Http::new(&reg.url);
    let a = h
        .req(
            "GET",
            "/v2/skopeo/oci/manifests/v1",
            &[("accept", "application/vnd.oci.image.manifest.v1+json")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(a.header("docker-content-digest"), Some(md.as_str()));
    let out = tmp.path().join("oci-out");
    let out_ref = format!("oci:{}:v1", out.display());
    let d2 = dst.clone();
    tokio::task::spawn_blocking(move || {
        skopeo(&[
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            &d2,
            &out_ref,
        ])
    })
    .await
    .unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], md.as_str());
    let ld = Digest::sha256(&layer);
    assert_eq!(
        std::fs::read(out.join("blobs/sha256").join(ld.hex())).unwrap(),
        layer
    );

    // Docker schema 2 → registry → Docker schema 2
    let dsrc = tmp.path().join("docker-src");
    let dmd = write_docker_dir(&dsrc, &layer);
    let (s3, d3) = (
        format!("dir:{}", dsrc.display()),
        format!("docker://{host}/skopeo/docker:v2"),
    );
    tokio::task::spawn_blocking(move || {
        skopeo(&[
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &s3,
            &d3,
        ])
    })
    .await
    .unwrap();
    let raw = tokio::task::spawn_blocking({
        let r = format!("docker://{host}/skopeo/docker:v2");
        move || skopeo(&["inspect", "--raw", "--tls-verify=false", &r])
    })
    .await
    .unwrap();
    assert_eq!(Digest::sha256(raw.as_bytes()).to_string(), dmd);
    let dout = tmp.path().join("docker-out");
    let (s4, d4) = (
        format!("docker://{host}/skopeo/docker:v2"),
        format!("dir:{}", dout.display()),
    );
    tokio::task::spawn_blocking(move || {
        skopeo(&[
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            &s4,
            &d4,
        ])
    })
    .await
    .unwrap();
    assert_eq!(
        Digest::sha256(&std::fs::read(dout.join("manifest.json")).unwrap()).to_string(),
        dmd
    );

    // tags and deletion
    let tags = tokio::task::spawn_blocking({
        let r = format!("docker://{host}/skopeo/oci");
        move || skopeo(&["list-tags", "--tls-verify=false", &r])
    })
    .await
    .unwrap();
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));
    tokio::task::spawn_blocking({
        let r = format!("docker://{host}/skopeo/oci:v1");
        move || skopeo(&["delete", "--tls-verify=false", &r])
    })
    .await
    .unwrap();
    assert_eq!(
        h.get(&format!("/v2/skopeo/oci/manifests/{md}"))
            .await
            .status,
        404
    );
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oras_pushes_monolithic_and_chunked_and_pulls_identical_bytes() {
    let python = python_with_oras();
    let reg = start(Config::default(), true).await;
    let host = reg.url.trim_start_matches("http://").to_string();
    let tmp = tempfile::tempdir().unwrap();
    let small: Vec<u8> = (0..5000u32).map(|i| (i % 97) as u8).collect();
    let large: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(tmp.path().join("small.bin"), &small).unwrap();
    std::fs::write(tmp.path().join("large.bin"), &large).unwrap();
    let script = r#"
import os, sys, oras.client
host, work = sys.argv[1], sys.argv[2]
os.chdir(work)
c = oras.client.OrasClient(hostname=host, insecure=True)
c.push(target=f"{host}/oras/mono:v1", files=["small.bin"])
c.push(target=f"{host}/oras/chunked:v1", files=["large.bin"], do_chunked=True, chunk_size=1000000)
os.makedirs("out1"); os.makedirs("out2")
print(c.pull(target=f"{host}/oras/mono:v1", outdir="out1"))
print(c.pull(target=f"{host}/oras/chunked:v1", outdir="out2"))
"#;
    let (py, h2, w) = (python.clone(), host.clone(), tmp.path().to_path_buf());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .args(["-c", script, &h2])
            .arg(&w)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "oras: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(tmp.path().join("out1/small.bin")).unwrap(),
        small
    );
    assert_eq!(
        std::fs::read(tmp.path().join("out2/large.bin")).unwrap(),
        large
    );
    // and the registry holds exactly those bytes
    let h = Http::new(&reg.url);
    let a = h
        .get(&format!(
            "/v2/oras/chunked/blobs/{}",
            Digest::sha256(&large)
        ))
        .await;
    assert_eq!(a.body, large);
    reg.server.shutdown().await;
}
