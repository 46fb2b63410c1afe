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
    for f in every_way()
        .iter()
        .chain([&cancelled(), &catalogued(), &listed_after_unknown()])
    {
        for (v, reg) in &regs {
            let r = replay(f, reg).await;
            if r.verdict != Verdict::Pass {
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

/// A tagged image in r0, a catalog walk a page of one at a time, then the manifest read.
fn catalogued() -> Finding {
    let config = blob(2);
    let body = Bytes::from(
        json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": { "mediaType": media::OCI_CONFIG, "digest": Digest::sha256(&config).to_string(), "size": config.len() },
            "layers": [],
        })
        .to_string(),
    );
    finding(vec![
        vec![Op::PushBlob {
            repo: 0,
            data: config,
            upload: Upload::Streamed,
            algorithm: Algorithm::Sha256,
        }],
        vec![Op::PushManifest {
            repo: 0,
            media_type: media::OCI_MANIFEST,
            body,
            reference: Reference::Tag("v1".into()),
        }],
        vec![Op::Catalog { n: Some(1) }],
        vec![Op::Catalog { n: None }],
        vec![Op::GetManifest {
            repo: 0,
            reference: Reference::Tag("v1".into()),
            head: false,
        }],
    ])
}

/// A tagged image in r0, then its tags listed after a `last` it does not hold, by pages of
/// one and whole.
fn listed_after_unknown() -> Finding {
    let mut f = catalogued();
    f.rounds.truncate(2);
    let mut tagged_again = f.rounds[1].clone();
    if let Op::PushManifest { reference, .. } = &mut tagged_again[0] {
        *reference = Reference::Tag("v2".into());
    }
    f.rounds.push(tagged_again);
    for n in [Some(1), None] {
        f.rounds.push(vec![Op::ListTags {
            repo: 0,
            n,
            last: Some("v0".into()),
        }]);
    }
    f
}

#[tokio::test]
async fn a_last_not_held_is_judged_only_for_the_form_of_the_page() {
    let f = listed_after_unknown();
    let lists: Vec<String> = steps_of(&f)
        .iter()
        .filter(|s| {
            s["request"]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/tags/list"))
        })
        .map(|s| s["expect"].to_string())
        .collect();
    assert_eq!(lists.len(), 2, "{lists:?}");
    for e in &lists {
        assert!(!e.contains("equals") && e.contains("sorted"), "{e}");
    }
    // the reference lists the tag after "v0"; the variation answers an empty page
    for v in [None, Some(Variation::TagsUnknownLastEmpty)] {
        let reg = start(None, v).await;
        let r = replay(&f, &reg).await;
        assert_eq!(r.verdict, Verdict::Pass, "{v:?}: {}", shown(&r));
        reg.server.shutdown().await;
    }
    // a page out of order still fails
    let reg = start(Some(Defect::TagsUnsorted), None).await;
    let r = replay(&f, &reg).await;
    reg.server.shutdown().await;
    assert_eq!(r.verdict, Verdict::Fail, "{}", shown(&r));
}

/// A config pushed by its sha512 digest, then a manifest naming it by its sha256 digest
/// tagged and read: whether the registry holds those bytes under sha256 is its choice.
fn config_under_another_digest() -> Finding {
    let mut f = catalogued();
    f.rounds.truncate(2);
    if let Op::PushBlob {
        algorithm, upload, ..
    } = &mut f.rounds[0][0]
    {
        *algorithm = Algorithm::Sha512;
        *upload = Upload::Monolithic;
    }
    f.rounds.push(vec![Op::GetManifest {
        repo: 0,
        reference: Reference::Tag("v1".into()),
        head: false,
    }]);
    f
}

#[tokio::test]
async fn a_manifest_naming_bytes_pushed_under_another_digest_takes_either_answer() {
    let f = config_under_another_digest();
    let put = steps_of(&f)
        .into_iter()
        .find(|s| {
            s["request"]["method"] == "PUT"
                && s["request"]["url"]
                    .as_str()
                    .is_some_and(|u| u.contains("/manifests/"))
        })
        .expect("the manifest PUT");
    assert_eq!(put["expect"][0]["status"], json!(201), "{put}");
    assert_eq!(put["skip_if"]["status"], json!([400, 404]), "{put}");
    let mut regs = vec![(None, start(None, None).await)];
    for v in VARIATIONS {
        regs.push((Some(v.name), start(None, Some(v.variation)).await));
    }
    let mut wrong = vec![];
    for (v, reg) in regs {
        let r = replay(&f, &reg).await;
        if !matches!(r.verdict, Verdict::Pass | Verdict::Skip) {
            wrong.push(format!("{v:?}: {}", shown(&r)));
        }
        reg.server.shutdown().await;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn a_catalog_walk_is_kept() {
    let f = catalogued();
    let t = text(&f);
    assert_eq!(t.matches("/v2/_catalog").count(), 2, "{t}");
    let reg = start(None, None).await;
    let r = replay(&f, &reg).await;
    assert_eq!(r.verdict, Verdict::Pass, "{}", shown(&r));
    reg.server.shutdown().await;
}

/// The steps of a written scenario, as JSON (the text after its comment lines).
fn steps_of(f: &Finding) -> Vec<serde_json::Value> {
    let t = text(f);
    let doc: serde_json::Value = serde_json::from_str(
        &t.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("JSON");
    doc["scenarios"][0]["steps"].as_array().unwrap().clone()
}

/// A blob pushed by sha512, then deleted through its sha256 digest and read again: a
/// registry that knows the bytes under both digests deletes them (202), one that does not
/// answers 404, and what the read finds follows from that answer, so both pass.
#[tokio::test]
async fn the_same_bytes_under_another_digest_take_either_answer() {
    let data = blob(2);
    let (d256, d512) = (Digest::sha256(&data), Digest::of(Algorithm::Sha512, &data));
    let read = |digest: &Digest| Op::GetBlob {
        repo: 0,
        digest: digest.clone(),
        head: false,
        range: None,
    };
    let f = finding(vec![
        vec![Op::PushBlob {
            repo: 0,
            data: data.clone(),
            upload: Upload::Monolithic,
            algorithm: Algorithm::Sha512,
        }],
        vec![read(&d256)],
        vec![Op::Mount {
            from: 0,
            to: 1,
            digest: d256.clone(),
        }],
        vec![Op::DeleteBlob {
            repo: 0,
            digest: d256.clone(),
        }],
        vec![read(&d512)],
    ]);
    let steps = steps_of(&f);
    let status = |method: &str, url_has: &str| {
        steps
            .iter()
            .find(|s| {
                s["request"]["method"] == method
                    && s["request"]["url"].as_str().unwrap().contains(url_has)
                    && s["request"]["query"]["digest"].is_null()
            })
            .map(|s| s["expect"][0]["status"].clone())
            .unwrap_or_else(|| panic!("a {method} step in {steps:#?}"))
    };
    assert_eq!(status("GET", ".digest}"), json!([200, 206, 404]));
    assert_eq!(status("POST", "{repo}-1"), json!([201, 202]));
    assert_eq!(status("DELETE", ".digest}"), json!([202, 404]));
    assert_eq!(status("GET", ".sha512}"), json!([200, 206, 404]));
    let reg = start(None, None).await;
    let r = replay(&f, &reg).await;
    assert_eq!(r.verdict, Verdict::Pass, "{}", shown(&r));
    reg.server.shutdown().await;
}

/// Operations run at once are one step each (a `concurrently:` entry is one step): uploads
/// there, and everything after, stay plain pushes, and the scenario still loads and passes.
#[tokio::test]
async fn uploads_run_at_once_stay_plain_pushes() {
    let push = |repo, upload| Op::PushBlob {
        repo,
        data: blob(3),
        upload,
        algorithm: Algorithm::Sha256,
    };
    let f = finding(vec![
        vec![push(0, Upload::Chunked(2)), push(1, Upload::Streamed)],
        vec![push(2, Upload::Single)],
        vec![Op::CancelUpload {
            repo: 2,
            chunk: None,
        }],
        vec![Op::GetBlob {
            repo: 2,
            digest: Digest::sha256(&blob(3)),
            head: false,
            range: None,
        }],
    ]);
    let steps = steps_of(&f);
    let plain = |s: &serde_json::Value| !s["push"].is_null();
    assert!(
        steps[0]["concurrently"]
            .as_array()
            .unwrap()
            .iter()
            .all(plain)
    );
    let single = steps
        .iter()
        .find(|s| s["name"].as_str().unwrap().contains("Single"))
        .expect("the single-POST push");
    assert!(plain(single), "{single:#}");
    assert!(
        steps.iter().all(|s| s["request"]["method"] != "DELETE"),
        "no cancel: {steps:#?}"
    );
    let reg = start(None, None).await;
    let r = replay(&f, &reg).await;
    assert_eq!(r.verdict, Verdict::Pass, "{}", shown(&r));
    reg.server.shutdown().await;
}
