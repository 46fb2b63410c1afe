//! Written scenarios replayed against the reference registry (in process, memory storage):
//! each way of uploading passes on the reference and on every allowed variation, and fails
//! on a defect that breaks that way, where the plain `push:` of the same blob does not.
//! (The runner never depends on the server; only these tests start one.)

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Url;
use serde_json::json;

use super::super::ops::{Op, Reference, Upload, pool_content};
use super::super::{Discrepancy, Finding};
use crate::oci::{Algorithm, Digest, media};
use crate::runner::client::{Client, ClientConfig};
use crate::runner::exec::{self, RunContext, ScenarioResult, Verdict};
use crate::server::defects::Defect;
use crate::server::storage::MemStorage;
use crate::server::variations::{VARIATIONS, Variation};
use crate::server::{self, App, Config};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pool blob of this index (0: 41 bytes, 1: 138, 2: 429, 3: 914, 4: 1,593, 5: 2,466).
fn blob(i: usize) -> Bytes {
    let pad = "x".repeat(i * i * 97);
    let b = Bytes::from(json!({ "regverify": "explore", "blob": i, "pad": pad }).to_string());
    assert!(pool_content(&Digest::sha256(&b)).is_some(), "a pool blob");
    b
}

fn finding(rounds: Vec<Vec<Op>>) -> Finding {
    Finding {
        discrepancy: Discrepancy {
            requirement: "pull.blob.get",
            message: "a test sequence".into(),
        },
        after_ops: rounds.iter().map(|r| r.len() as u64).sum(),
        rounds,
        reproduced: None,
    }
}

/// Blob `i` pushed to r0 as `upload` says, then fetched by the digest it was pushed under.
fn pushed_then_got(i: usize, upload: Upload, algorithm: Algorithm) -> Finding {
    let data = blob(i);
    let digest = Digest::of(algorithm, &data);
    finding(vec![
        vec![Op::PushBlob {
            repo: 0,
            data,
            upload,
            algorithm,
        }],
        vec![Op::GetBlob {
            repo: 0,
            digest,
            head: false,
            range: None,
        }],
    ])
}

/// The finding as the writer wrote it before uploads were written as sent: every blob a
/// plain sha256 push, cancels and catalog walks left out.
fn plain(f: &Finding) -> Finding {
    let rounds = f
        .rounds
        .iter()
        .map(|r| {
            r.iter()
                .filter(|op| !matches!(op, Op::CancelUpload { .. } | Op::Catalog { .. }))
                .map(|op| match op {
                    Op::PushBlob { repo, data, .. } => Op::PushBlob {
                        repo: *repo,
                        data: data.clone(),
                        upload: Upload::Monolithic,
                        algorithm: Algorithm::Sha256,
                    },
                    op => op.clone(),
                })
                .collect::<Vec<_>>()
        })
        .filter(|r| !r.is_empty())
        .collect();
    Finding {
        rounds,
        ..f.clone()
    }
}

struct Reg {
    server: server::Server,
    base: Url,
}

async fn start(defect: Option<Defect>, variation: Option<Variation>) -> Reg {
    let config = Config {
        defect,
        variations: variation.into_iter().collect(),
        ..Config::default()
    };
    let app = App::new(config, Arc::new(MemStorage::new()));
    let server = server::spawn(app, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the reference starts");
    let base = Url::parse(&format!("{}/", server.url())).unwrap();
    Reg { server, base }
}

/// Writes `f`, loads it as `run --specs DIR` does and runs it against `reg`.
async fn replay(f: &Finding, reg: &Reg) -> ScenarioResult {
    let dir = tempfile::tempdir().unwrap();
    let written = super::write(dir.path(), f, 7).expect("written");
    let specs = crate::runner::loader::load(&written.dir, &root().join("fixtures"))
        .unwrap_or_else(|d| panic!("the written scenario loads: {d:?}"));
    let s = specs
        .scenarios
        .iter()
        .find(|s| s.id.starts_with("explore-"))
        .expect("one explore scenario");
    let ctx = RunContext {
        client: Client::new(ClientConfig::default()).unwrap(),
        base: reg.base.clone(),
        namespace: "replay".into(),
        crossmount: None,
        seed: 7,
        run_tag: format!("{:x}", std::process::id()),
        fixtures: root().join("fixtures").into(),
        check_warnings: false,
        judge_main: false,
        error_codes: Default::default(),
        cleanup: false,
        foreign_urls: Default::default(),
    };
    exec::run(&ctx, s).await
}

fn shown(r: &ScenarioResult) -> String {
    match &r.finding {
        Some(f) => format!(
            "{:?}: {:?} {}",
            r.verdict,
            f.requirement,
            f.message.chars().take(400).collect::<String>()
        ),
        None => format!("{:?}", r.verdict),
    }
}

/// The text of the scenario written for `f`.
fn text(f: &Finding) -> String {
    super::scenario_text(f, 7)
}

/// Every upload way, each by sha256 and by sha512: the written steps pass on the reference.
fn every_way() -> Vec<Finding> {
    let mut all = vec![];
    for algorithm in Algorithm::ALL {
        for upload in [
            Upload::Single,
            Upload::Monolithic,
            Upload::Chunked(2),
            Upload::Chunked(3),
            Upload::Streamed,
        ] {
            all.push(pushed_then_got(4, upload, algorithm));
        }
    }
    all.push(pushed_then_got(5, Upload::Chunked(2), Algorithm::Sha256));
    all.push(pushed_then_got(2, Upload::Chunked(3), Algorithm::Sha512));
    all
}

#[tokio::test]
async fn every_way_passes_on_the_reference_and_on_every_variation() {
    let mut regs = vec![(None, start(None, None).await)];
    for v in VARIATIONS {
        regs.push((Some(v.name), start(None, Some(v.variation)).await));
    }
    let mut wrong = vec![];
    for f in every_way().iter().chain([
        &cancelled(),
        &listing::catalogued(),
        &listing::listed_after_unknown(),
    ]) {
        for (v, reg) in &regs {
            let r = replay(f, reg).await;
            // a registry taking sha256 only skips what needs sha512, as the spec allows
            let sha512 = format!("{:?}", f.steps()).contains("sha512:");
            let want = if *v == Some("sha256-only") && sha512 {
                Verdict::Skip
            } else {
                Verdict::Pass
            };
            if r.verdict != want {
                wrong.push(format!("{:?} on {v:?}: {}", f.steps(), shown(&r)));
            }
        }
    }
    for (_, reg) in regs {
        reg.server.shutdown().await;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn each_way_is_written_as_sent() {
    let t = text(&pushed_then_got(4, Upload::Chunked(3), Algorithm::Sha256));
    assert!(
        t.contains("\"chunks\"") && t.contains("\"count\": 3"),
        "{t}"
    );
    assert!(t.contains("push.chunk.close"), "{t}");
    assert!(!t.contains("\"push\":"), "no plain push: {t}");
    let t = text(&pushed_then_got(4, Upload::Streamed, Algorithm::Sha256));
    assert!(
        t.contains("stream it in one PATCH")
            && t.contains("\"PATCH\"")
            && !t.contains("\"chunks\""),
        "{t}"
    );
    let t = text(&pushed_then_got(4, Upload::Single, Algorithm::Sha256));
    assert!(t.contains("push.single-post.fallback"), "{t}");
    let t = text(&pushed_then_got(4, Upload::Monolithic, Algorithm::Sha512));
    assert!(
        t.contains("{b0.sha512}"),
        "the PUT and the GET name the sha512 digest: {t}"
    );
    assert!(!t.contains("{b0.digest}"), "{t}");
    // the plain way stays the corpus' push step
    let t = text(&pushed_then_got(4, Upload::Monolithic, Algorithm::Sha256));
    assert!(t.contains("\"push\":"), "{t}");
}

/// The written scenario fails on `defect`, the plain `push:` version passes there, and both
/// pass on the reference.
async fn caught_where_plain_is_not(f: &Finding, defect: &str, requirement: &str) {
    let clean = start(None, None).await;
    let broken = start(Some(Defect::parse(defect).expect("a defect")), None).await;
    let steps = f.steps();
    let r = replay(f, &clean).await;
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{steps:?} on the reference: {}",
        shown(&r)
    );
    let r = replay(&plain(f), &clean).await;
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "plain {steps:?} on the reference: {}",
        shown(&r)
    );
    let r = replay(f, &broken).await;
    assert_eq!(
        r.verdict,
        Verdict::Fail,
        "{steps:?} on {defect}: {}",
        shown(&r)
    );
    let blamed = r.finding.as_ref().and_then(|x| x.requirement.clone());
    assert_eq!(
        blamed.as_deref(),
        Some(requirement),
        "{steps:?} on {defect}: {}",
        shown(&r)
    );
    let r = replay(&plain(f), &broken).await;
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "plain {steps:?} on {defect}: {}",
        shown(&r)
    );
    clean.server.shutdown().await;
    broken.server.shutdown().await;
}

/// Blob 0 pushed by its sha512 digest (so the registry has shown it takes sha512), then blob
/// `i` pushed by sha512 as `upload` says, then fetched.
fn after_a_sha512_push(i: usize, upload: Upload) -> Finding {
    let mut f = pushed_then_got(i, upload, Algorithm::Sha512);
    f.rounds.insert(
        0,
        vec![Op::PushBlob {
            repo: 0,
            data: blob(0),
            upload: Upload::Monolithic,
            algorithm: Algorithm::Sha512,
        }],
    );
    f
}

#[tokio::test]
async fn a_chunked_upload_is_replayed_in_chunks() {
    let f = pushed_then_got(4, Upload::Chunked(3), Algorithm::Sha256);
    caught_where_plain_is_not(&f, "close-needs-body", "push.chunk.close").await;
    let f = after_a_sha512_push(4, Upload::Chunked(2));
    caught_where_plain_is_not(&f, "close-needs-body", "push.chunk.close").await;
}

#[tokio::test]
async fn a_streamed_upload_is_replayed_streamed() {
    let f = pushed_then_got(3, Upload::Streamed, Algorithm::Sha256);
    caught_where_plain_is_not(&f, "close-needs-body", "push.put.201").await;
    let f = after_a_sha512_push(3, Upload::Streamed);
    caught_where_plain_is_not(&f, "close-needs-body", "push.put.201").await;
}

/// A blob pushed by its sha512 digest, whichever way, is fetched by it: a registry that takes
/// the push but then does not know the blob by that digest fails, where the plain push (by
/// sha256) never named the sha512 digest to it.
#[tokio::test]
async fn a_sha512_push_is_replayed_by_its_sha512_digest() {
    for upload in [
        Upload::Monolithic,
        Upload::Single,
        Upload::Chunked(2),
        Upload::Streamed,
    ] {
        let f = pushed_then_got(4, upload, Algorithm::Sha512);
        caught_where_plain_is_not(&f, "sha512-blobs-unknown", "pull.blob.get").await;
    }
}

/// A registry may refuse a sha512 digest (400): before it has taken one, such a refusal of a
/// sha512 close skips the scenario, as the explorer takes it for sha512 not supported.
#[tokio::test]
async fn a_first_sha512_refusal_skips() {
    let broken = start(Defect::parse("close-needs-body"), None).await;
    let r = replay(
        &pushed_then_got(4, Upload::Chunked(2), Algorithm::Sha512),
        &broken,
    )
    .await;
    assert_eq!(r.verdict, Verdict::Skip, "{}", shown(&r));
    broken.server.shutdown().await;
}

#[tokio::test]
async fn a_single_post_is_replayed_as_one_post() {
    for a in Algorithm::ALL {
        let f = pushed_then_got(1, Upload::Single, a);
        caught_where_plain_is_not(&f, "single-post-no-location", "push.single-post.201").await;
    }
}

/// A cancel between a push and a read: kept, so a registry without upload cancel fails it.
fn cancelled() -> Finding {
    let data = blob(3);
    finding(vec![
        vec![Op::PushBlob {
            repo: 1,
            data: data.clone(),
            upload: Upload::Monolithic,
            algorithm: Algorithm::Sha256,
        }],
        vec![Op::CancelUpload {
            repo: 1,
            chunk: Some(blob(0)),
        }],
        vec![Op::CancelUpload {
            repo: 1,
            chunk: None,
        }],
        vec![Op::GetBlob {
            repo: 1,
            digest: Digest::sha256(&data),
            head: false,
            range: None,
        }],
    ])
}

#[tokio::test]
async fn a_cancelled_upload_is_kept() {
    caught_where_plain_is_not(&cancelled(), "no-upload-cancel", "next.upload.cancel").await;
}

/// A mount of a blob the source lacks: the session opened instead is cancelled, as the
/// explorer cancels it, so a registry without upload cancel fails it.
fn mounted_nothing() -> Finding {
    let data = blob(1);
    finding(vec![
        vec![Op::PushBlob {
            repo: 0,
            data: data.clone(),
            upload: Upload::Monolithic,
            algorithm: Algorithm::Sha256,
        }],
        vec![Op::Mount {
            from: 1,
            to: 2,
            digest: Digest::sha256(&data),
        }],
        vec![Op::Mount {
            from: 0,
            to: 2,
            digest: Digest::sha256(&data),
        }],
        vec![Op::GetBlob {
            repo: 2,
            digest: Digest::sha256(&data),
            head: false,
            range: None,
        }],
    ])
}

#[tokio::test]
async fn a_mount_answered_202_cancels_its_session() {
    let f = mounted_nothing();
    let clean = start(None, None).await;
    let r = replay(&f, &clean).await;
    assert_eq!(r.verdict, Verdict::Pass, "{}", shown(&r));
    // a registry that does not mount answers the second mount 202 too: what follows assumes
    // the mount, so the scenario skips there, after the first session was cancelled
    let no_mount = start(None, Variation::parse("no-mount")).await;
    let r = replay(&f, &no_mount).await;
    assert_eq!(r.verdict, Verdict::Skip, "{}", shown(&r));
    let broken = start(Defect::parse("no-upload-cancel"), None).await;
    let r = replay(&f, &broken).await;
    assert_eq!(r.verdict, Verdict::Fail, "{}", shown(&r));
    let blamed = r.finding.as_ref().and_then(|x| x.requirement.clone());
    assert_eq!(
        blamed.as_deref(),
        Some("next.upload.cancel"),
        "{}",
        shown(&r)
    );
    for reg in [clean, no_mount, broken] {
        reg.server.shutdown().await;
    }
}

mod listing;
