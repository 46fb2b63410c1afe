//! The image as a user gets it: the static binary built into a `FROM scratch` image with
//! buildah (from `Containerfile`), pushed to the reference registry, pulled back with skopeo
//! into an OCI layout, its layers unpacked, and the binary found there verifying the
//! registry it came from. The image's annotations and labels name the source, version and
//! revision. The static binary comes from `.ci/run` (or the command the failure prints).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{KillOnDrop, free_port, require, root, wait_for_port};

const TARGET: &str = "x86_64-unknown-linux-musl";
const APT: &str = "apt-get update && apt-get install -y buildah skopeo musl-tools";
const SOURCE: &str = "https://example.org/regverify.git";

/// The static binary `.ci/run` builds (`--profile static-test`), or the one named by
/// `REGVERIFY_STATIC_BIN` (a release build).
fn static_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("REGVERIFY_STATIC_BIN") {
        return p.into();
    }
    let p = root().join(format!("target/{TARGET}/static-test/regverify"));
    assert!(
        p.is_file(),
        "{} is missing; build it with: rustup target add {TARGET} && cargo build --target {TARGET} \
         --profile static-test (or run bash .ci/run)",
        p.display()
    );
    p
}

/// Whether an ELF file asks for a program interpreter (the dynamic loader): a static binary
/// does not.
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    const PT_INTERP: u32 = 3;
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == PT_INTERP
    })
}

fn ok(what: &str, o: Output) -> String {
    assert!(
        o.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The blob of a descriptor in an OCI layout.
fn blob(layout: &Path, descriptor: &serde_json::Value) -> PathBuf {
    let digest = descriptor["digest"].as_str().unwrap();
    let (alg, hex) = digest.split_once(':').unwrap();
    layout.join("blobs").join(alg).join(hex)
}

#[test]
fn the_image_built_pushed_and_pulled_back_verifies_the_reference() {
    let buildah = require("buildah", APT);
    let skopeo = require("skopeo", APT);
    let bin = static_binary();
    assert!(
        !has_interpreter(&std::fs::read(&bin).unwrap()),
        "{} is not statically linked",
        bin.display()
    );
    let version_line = ok(
        "--version",
        Command::new(&bin).arg("--version").output().unwrap(),
    );
    let revision = version_line
        .split_once("(commit ")
        .and_then(|(_, r)| r.split_once(','))
        .map(|(c, _)| c.to_string())
        .unwrap_or_else(|| panic!("no commit in {version_line}"));
    let version = env!("CARGO_PKG_VERSION");

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _registry = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_regverify"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
            .arg(dir.path().join("registry"))
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(port), "the reference did not start");

    // the context: the binary and the CA bundle, nothing else of the tree
    let context = dir.path().join("context");
    std::fs::create_dir(&context).unwrap();
    std::fs::copy(&bin, context.join("regverify")).unwrap();
    let cas = Path::new("/etc/ssl/certs/ca-certificates.crt");
    assert!(
        cas.is_file(),
        "no CA bundle; install it with: apt-get install -y ca-certificates"
    );
    std::fs::copy(cas, context.join("ca-certificates.crt")).unwrap();
    // buildah's own storage, chroot isolation: no daemon, no user namespaces needed
    let storage = dir.path().join("storage");
    let buildah_cmd = || {
        let mut c = Command::new(&buildah);
        c.arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", "vfs"])
            .env("BUILDAH_ISOLATION", "chroot");
        c
    };
    let tag = format!("localhost/regverify-image-test:{version}");
    let mut bud = buildah_cmd();
    bud.args([
        "bud",
        "--format",
        "oci",
        "--isolation",
        "chroot",
        "-t",
        &tag,
    ])
    .args(["--build-arg", &format!("VERSION={version}")])
    .args(["--build-arg", &format!("REVISION={revision}")])
    .args(["--build-arg", &format!("SOURCE={SOURCE}")]);
    for (k, v) in [
        ("source", SOURCE),
        ("version", version),
        ("revision", revision.as_str()),
    ] {
        bud.args(["--annotation", &format!("org.opencontainers.image.{k}={v}")]);
    }
    bud.arg("-f")
        .arg(root().join("Containerfile"))
        .arg(&context);
    ok("buildah bud", bud.output().unwrap());
    let reference = format!("127.0.0.1:{port}/regverify:{version}");
    ok(
        "buildah push",
        buildah_cmd()
            .args(["push", "--tls-verify=false", &tag])
            .arg(format!("docker://{reference}"))
            .output()
            .unwrap(),
    );

    let layout = dir.path().join("layout");
    ok(
        "skopeo copy",
        Command::new(&skopeo)
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci:{}:{version}", layout.display()))
            .output()
            .unwrap(),
    );
    let index = json(&layout.join("index.json"));
    let manifest = json(&blob(&layout, &index["manifests"][0]));
    assert_eq!(
        manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
        "{manifest}"
    );
    let config = json(&blob(&layout, &manifest["config"]));
    let labels = &config["config"]["Labels"];
    let annotations = &manifest["annotations"];
    for (k, v) in [
        ("source", SOURCE),
        ("version", version),
        ("revision", revision.as_str()),
    ] {
        let key = format!("org.opencontainers.image.{k}");
        assert_eq!(labels[&key], v, "label {key}: {config}");
        assert_eq!(annotations[&key], v, "annotation {key}: {manifest}");
    }
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/regverify"])
    );

    // the layers as a runtime would lay them: the binary, the CA bundle, nothing else to run
    let unpacked = dir.path().join("rootfs");
    std::fs::create_dir(&unpacked).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        ok(
            "tar",
            Command::new("tar")
                .arg("-xf")
                .arg(blob(&layout, layer))
                .arg("-C")
                .arg(&unpacked)
                .output()
                .unwrap(),
        );
    }
    assert!(unpacked.join("etc/ssl/certs/ca-certificates.crt").is_file());
    // `run` without a URL keeps the embedded reference's storage under /tmp
    assert!(unpacked.join("tmp").is_dir(), "no /tmp in the image");
    let pulled = unpacked.join("regverify");
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&bin).unwrap(),
        "the image holds another binary"
    );
    assert_eq!(
        ok(
            "--version",
            Command::new(&pulled).arg("--version").output().unwrap()
        ),
        version_line
    );
    let o = Command::new(&pulled)
        .args(["run", &format!("http://127.0.0.1:{port}")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok("the pulled binary's run", o);
}
