//! Proven quiet: the reference with each allowed variation, against every profile. A
//! behaviour the spec allows must fail no requirement, whatever its level, nor make a run
//! error; one trial per variation, so a failure names it.

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use common::{Http, run_profile, specs, start};
use libtest_mimic::{Arguments, Failed, Trial};
use regverify::oci::{Algorithm, Digest};
use regverify::runner::client::ClientConfig;
use regverify::runner::exec::{Outcome, Verdict};
use regverify::runner::verdict::requirement_verdicts;
use regverify::server::Config;
use regverify::server::variations::{CHUNK_MIN_LENGTH, VARIATIONS, Variation, VariationInfo};

const PROFILES: [&str; 5] = ["oci-1.0", "oci-1.1", "oci-next", "distribution", "all"];

/// False alarms of the scenarios: for a variation, the MUST requirements its run fails
/// although the spec allows what it does. The trial requires exactly these, so an entry
/// must go as soon as the scenarios stop failing one (the list never goes stale). Empty:
/// the scenarios judge only what the spec's words require of every variation.
const KNOWN_FALSE_ALARMS: &[(&str, &[&str])] = &[];

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = VARIATIONS
        .iter()
        .map(|v| Trial::test(format!("variation::{}", v.name), move || quiet(v)))
        .collect();
    trials.extend(VARIATIONS.iter().map(|v| {
        Trial::test(format!("acts::{}", v.name), move || {
            runtime()?.block_on(acts(v.variation));
            Ok(())
        })
    }));
    trials.push(Trial::test("listed_by_the_cli", listed_by_the_cli));
    libtest_mimic::run(&args, trials).exit();
}

/// What went wrong at MUST level over every profile: failed requirements and errors.
struct Findings {
    must_failed: BTreeSet<String>,
    other_failed: BTreeSet<String>,
    errors: Vec<String>,
    /// MUST and SHOULD requirements skipped although they name no optional feature they
    /// hold within: a skip is only for what the spec lets a registry lack.
    unconditional_skips: BTreeSet<String>,
}

async fn run_every_profile(v: &VariationInfo) -> Findings {
    let specs = specs();
    let reg = start(
        Config {
            variations: [v.variation].into_iter().collect(),
            ..Config::default()
        },
        false,
    )
    .await;
    let mut f = Findings {
        must_failed: BTreeSet::new(),
        other_failed: BTreeSet::new(),
        errors: vec![],
        unconditional_skips: BTreeSet::new(),
    };
    for profile in PROFILES {
        let results = run_profile(&reg.url, profile, ClientConfig::default()).await;
        for (id, v) in requirement_verdicts(&specs, &results) {
            let q = &specs.requirements[&id];
            let binding = matches!(q.level.class(), "MUST" | "SHOULD");
            if v == Outcome::Skip && binding && q.when.is_none() {
                f.unconditional_skips.insert(id);
            }
        }
        for r in results {
            let finding = r.finding.as_ref();
            match r.verdict {
                Verdict::Fail => {
                    let req = finding
                        .and_then(|f| f.requirement.clone())
                        .unwrap_or_default();
                    let must = specs
                        .requirements
                        .get(&req)
                        .is_some_and(|x| x.level.class() == "MUST");
                    if must {
                        f.must_failed.insert(req);
                    } else {
                        f.other_failed.insert(req);
                    }
                }
                Verdict::Error => f.errors.push(format!(
                    "{profile} {}: {}",
                    r.name,
                    finding.map(|x| x.message.as_str()).unwrap_or("")
                )),
                _ => {}
            }
        }
    }
    reg.server.shutdown().await;
    f
}

fn runtime() -> Result<tokio::runtime::Runtime, Failed> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?)
}

fn quiet(v: &'static VariationInfo) -> Result<(), Failed> {
    let f = runtime()?.block_on(run_every_profile(v));
    let known: BTreeSet<String> = KNOWN_FALSE_ALARMS
        .iter()
        .find(|(n, _)| *n == v.name)
        .map(|(_, reqs)| reqs.iter().map(|r| r.to_string()).collect())
        .unwrap_or_default();
    let new: Vec<_> = f.must_failed.difference(&known).collect();
    let fixed: Vec<_> = known.difference(&f.must_failed).collect();
    if new.is_empty()
        && fixed.is_empty()
        && f.other_failed.is_empty()
        && f.errors.is_empty()
        && f.unconditional_skips.is_empty()
    {
        return Ok(());
    }
    Err(format!(
        "{}: MUST failures not listed {new:?}\n    listed but passing now (remove them) {fixed:?}\n    SHOULD/MAY failures {:?}\n    errors {:?}\n    skipped without a feature to lack (give them `when:`) {:?}",
        v.name, f.other_failed, f.errors, f.unconditional_skips
    )
    .into())
}

/// Each variation changes what the reference answers (so a quiet run proves something).
async fn acts(v: Variation) {
    let reg = start(
        Config {
            variations: [v].into_iter().collect(),
            ..Config::default()
        },
        false,
    )
    .await;
    let h = Http::new(&reg.url);
    let repo = "varied/repo";
    let layer = h.push_blob(repo, b"a layer").await;
    let (_, image) = h.push_image(repo, "v1", "varied").await;
    let uploads = format!("/v2/{repo}/blobs/uploads/");
    let none = Bytes::new;
    match v {
        Variation::TagsNoLink => {
            h.push_image(repo, "v2", "varied").await;
            let a = h.get(&format!("/v2/{repo}/tags/list?n=1")).await;
            assert_eq!(a.json()["tags"], serde_json::json!(["v1"]));
            assert_eq!(a.header("link"), None);
            let a = h.get(&format!("/v2/{repo}/tags/list?n=1&last=v1")).await;
            assert_eq!(a.json()["tags"], serde_json::json!(["v2"]));
        }
        Variation::CatalogTaggedOnly => {
            h.push_blob("varied/blobs-only", b"alone").await;
            let a = h.get("/v2/_catalog").await;
            assert_eq!(a.json()["repositories"], serde_json::json!([repo]));
        }
        Variation::AbsoluteLocation => {
            let a = h.req("POST", &uploads, &[], none()).await;
            let loc = a.header("location").unwrap();
            assert!(loc.starts_with(&format!("{}/v2/{repo}/", reg.url)), "{loc}");
        }
        Variation::NoMount => {
            let a = h
                .req(
                    "POST",
                    &format!("/v2/other/repo/blobs/uploads/?mount={layer}&from={repo}"),
                    &[],
                    none(),
                )
                .await;
            assert_eq!(a.status, 202);
            assert_eq!(
                h.get(&format!("/v2/other/repo/blobs/{layer}")).await.status,
                404
            );
        }
        Variation::NoSinglePost => {
            let d = Digest::sha256(b"whole").to_string();
            let a = h
                .req("POST", &format!("{uploads}?digest={d}"), &[], &b"whole"[..])
                .await;
            assert_eq!(a.status, 202);
            assert!(a.header("location").is_some());
            assert_eq!(h.get(&format!("/v2/{repo}/blobs/{d}")).await.status, 404);
        }
        Variation::BlobDeleteDisabled => {
            let a = h
                .req("DELETE", &format!("/v2/{repo}/blobs/{layer}"), &[], none())
                .await;
            assert_eq!(
                (a.status, a.codes()),
                (405, vec!["UNSUPPORTED".to_string()])
            );
            let tag = h
                .req("DELETE", &format!("/v2/{repo}/manifests/v1"), &[], none())
                .await;
            assert_eq!(tag.status, 202);
        }
        Variation::ManifestDeleteDisabled => {
            let a = h
                .req(
                    "DELETE",
                    &format!("/v2/{repo}/manifests/{image}"),
                    &[],
                    none(),
                )
                .await;
            assert_eq!(a.status, 405);
            let tag = h
                .req("DELETE", &format!("/v2/{repo}/manifests/v1"), &[], none())
                .await;
            assert_eq!(tag.status, 202);
        }
        Variation::TagDeleteDisabled => {
            let a = h
                .req("DELETE", &format!("/v2/{repo}/manifests/v1"), &[], none())
                .await;
            assert_eq!(
                (a.status, a.codes()),
                (400, vec!["DIGEST_INVALID".to_string()])
            );
            let m = h
                .req(
                    "DELETE",
                    &format!("/v2/{repo}/manifests/{image}"),
                    &[],
                    none(),
                )
                .await;
            assert_eq!(m.status, 202);
        }
        Variation::NoReferrers => {
            let a = h.get(&format!("/v2/{repo}/referrers/{image}")).await;
            assert_eq!(a.status, 404);
        }
        Variation::ManifestAsBlob => {
            let a = h.get(&format!("/v2/{repo}/blobs/{image}")).await;
            assert_eq!(a.status, 200);
            assert_eq!(Digest::sha256(&a.body).to_string(), image);
        }
        Variation::ChunkMinimum => {
            let min = CHUNK_MIN_LENGTH;
            let a = h.req("POST", &uploads, &[], none()).await;
            assert_eq!(
                a.header("oci-chunk-min-length"),
                Some(min.to_string().as_str())
            );
            let loc = a.header("location").unwrap().to_string();
            let long = vec![7u8; min as usize];
            let range = |a: u64, b: u64| format!("{a}-{b}");
            let ok = h
                .req(
                    "PATCH",
                    &loc,
                    &[("content-range", &range(0, min - 1))],
                    long,
                )
                .await;
            assert_eq!(ok.status, 202);
            let short = h
                .req(
                    "PATCH",
                    &loc,
                    &[("content-range", &range(min, min + 1))],
                    &b"ab"[..],
                )
                .await;
            assert_eq!(short.status, 202, "the final chunk may be short");
            let after = h
                .req(
                    "PATCH",
                    &loc,
                    &[("content-range", &range(min + 2, min + 3))],
                    &b"cd"[..],
                )
                .await;
            assert_eq!(
                (after.status, after.codes()),
                (400, vec!["BLOB_UPLOAD_INVALID".to_string()])
            );
        }
        Variation::DeletionDisabled400 => {
            for url in [
                format!("/v2/{repo}/blobs/{layer}"),
                format!("/v2/{repo}/manifests/{image}"),
                format!("/v2/{repo}/manifests/v1"),
            ] {
                let a = h.req("DELETE", &url, &[], none()).await;
                assert_eq!((a.status, a.codes()), (400, vec!["DENIED".to_string()]));
            }
            assert_eq!(
                h.get(&format!("/v2/{repo}/blobs/{layer}")).await.status,
                200
            );
        }
        Variation::DigestMismatchRefusals => {
            let a = h.req("POST", &uploads, &[], none()).await;
            let loc = a.header("location").unwrap().to_string();
            let claimed = Digest::sha256(b"other").to_string();
            let sep = if loc.contains('?') { '&' } else { '?' };
            let closed = h
                .req(
                    "PUT",
                    &format!("{loc}{sep}digest={claimed}"),
                    &[],
                    &b"bytes"[..],
                )
                .await;
            assert_eq!(
                (closed.status, closed.codes()),
                (400, vec!["BLOB_UPLOAD_INVALID".to_string()])
            );
            // a malformed digest keeps its own code
            let a = h.req("POST", &uploads, &[], none()).await;
            let loc = a.header("location").unwrap().to_string();
            let malformed = h
                .req(
                    "PUT",
                    &format!("{loc}{sep}digest=sha256:xyz"),
                    &[],
                    &b"bytes"[..],
                )
                .await;
            assert_eq!(
                (malformed.status, malformed.codes()),
                (400, vec!["DIGEST_INVALID".to_string()])
            );
            let got = h.get(&format!("/v2/{repo}/manifests/{image}")).await;
            let wrong = Digest::sha256(b"not this manifest").to_string();
            let put = h
                .req(
                    "PUT",
                    &format!("/v2/{repo}/manifests/{wrong}"),
                    &[("content-type", got.header("content-type").unwrap())],
                    got.body.clone(),
                )
                .await;
            assert_eq!(
                (put.status, put.codes()),
                (404, vec!["MANIFEST_UNKNOWN".to_string()])
            );
            assert_eq!(
                h.get(&format!("/v2/{repo}/manifests/{wrong}")).await.status,
                404
            );
        }
        Variation::MissingBlobs404 => {
            let absent = Digest::sha256(b"never pushed").to_string();
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": absent, "size": 12},
                "layers": [],
            })
            .to_string();
            let a = h
                .req(
                    "PUT",
                    &format!("/v2/{repo}/manifests/missing"),
                    &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                    manifest.into_bytes(),
                )
                .await;
            assert_eq!(
                (a.status, a.codes()),
                (404, vec!["MANIFEST_BLOB_UNKNOWN".to_string()])
            );
        }
        Variation::ReferrersNoIndexes => {
            let (manifest, _) = h.push_image(repo, "v2", "subject").await;
            let subject = Digest::sha256(&manifest).to_string();
            let descriptor = |media: &str, d: &str, size: usize| serde_json::json!({ "mediaType": media, "digest": d, "size": size });
            let subject_desc = descriptor(
                "application/vnd.oci.image.manifest.v1+json",
                &subject,
                manifest.len(),
            );
            // an image manifest referring to the subject is listed, an index is not
            let empty = h.push_blob(repo, b"{}").await;
            let artifact = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": descriptor("application/vnd.oci.empty.v1+json", &empty, 2),
                "layers": [],
                "subject": subject_desc,
            })
            .to_string();
            let index = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [],
                "subject": subject_desc,
            })
            .to_string();
            for (body, media) in [
                (&artifact, "application/vnd.oci.image.manifest.v1+json"),
                (&index, "application/vnd.oci.image.index.v1+json"),
            ] {
                let d = Digest::sha256(body.as_bytes());
                let a = h
                    .req(
                        "PUT",
                        &format!("/v2/{repo}/manifests/{d}"),
                        &[("content-type", media)],
                        body.clone().into_bytes(),
                    )
                    .await;
                assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
            }
            let a = h.get(&format!("/v2/{repo}/referrers/{subject}")).await;
            let listed: Vec<String> = a.json()["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["digest"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                listed,
                vec![Digest::sha256(artifact.as_bytes()).to_string()]
            );
        }
        Variation::TagsUnknownLastEmpty => {
            h.push_image(repo, "v2", "varied").await;
            // "v0" and "v11" are not held: nothing follows them, though "v1" and "v2" sort after
            for last in ["v0", "v11"] {
                let a = h.get(&format!("/v2/{repo}/tags/list?last={last}")).await;
                assert_eq!(a.status, 200);
                assert_eq!(a.json()["tags"], serde_json::json!([]));
            }
            let a = h.get(&format!("/v2/{repo}/tags/list?last=v1")).await;
            assert_eq!(a.json()["tags"], serde_json::json!(["v2"]));
        }
        Variation::DigestHeaderSha512 => {
            let layer_bytes: &[u8] = b"a layer";
            let (manifest, _) = h.push_image(repo, "v2", "varied").await;
            let sha512 = |b: &[u8]| Digest::of(Algorithm::Sha512, b).to_string();
            for method in ["GET", "HEAD"] {
                let a = h
                    .req(method, &format!("/v2/{repo}/blobs/{layer}"), &[], none())
                    .await;
                assert_eq!(a.status, 200);
                assert_eq!(
                    a.header("docker-content-digest"),
                    Some(sha512(layer_bytes).as_str())
                );
                let a = h
                    .req(method, &format!("/v2/{repo}/manifests/v2"), &[], none())
                    .await;
                assert_eq!(
                    a.header("docker-content-digest"),
                    Some(sha512(&manifest).as_str())
                );
            }
        }
        Variation::ErrorsNoMessage => {
            let absent = Digest::sha256(b"absent").to_string();
            let a = h.get(&format!("/v2/{repo}/blobs/{absent}")).await;
            assert_eq!(
                (a.status, a.codes()),
                (404, vec!["BLOB_UNKNOWN".to_string()])
            );
            assert_eq!(a.json()["errors"][0].get("message"), None);
        }
        Variation::WarningsOneLine => {
            let a = h.get("/v2/").await;
            let lines: Vec<_> = a.headers.get_all("warning").iter().collect();
            assert_eq!(lines.len(), 1);
            assert!(lines[0].to_str().unwrap().contains(r#"", 299 - ""#));
        }
        Variation::Sha256Only => {
            let sha512 = Digest::of(Algorithm::Sha512, b"bytes").to_string();
            let a = h
                .req(
                    "POST",
                    &format!("{uploads}?digest-algorithm=sha512"),
                    &[],
                    none(),
                )
                .await;
            assert_eq!(a.status, 202, "digest-algorithm is ignored");
            let loc = a.header("location").unwrap().to_string();
            let sep = if loc.contains('?') { '&' } else { '?' };
            let closed = h
                .req(
                    "PUT",
                    &format!("{loc}{sep}digest={sha512}"),
                    &[],
                    &b"bytes"[..],
                )
                .await;
            assert_eq!(
                (closed.status, closed.codes()),
                (400, vec!["DIGEST_INVALID".to_string()])
            );
            let single = h
                .req(
                    "POST",
                    &format!("{uploads}?digest={sha512}"),
                    &[],
                    &b"bytes"[..],
                )
                .await;
            assert_eq!(single.status, 400);
            let got = h.get(&format!("/v2/{repo}/manifests/v1")).await;
            let by512 = Digest::of(Algorithm::Sha512, &got.body).to_string();
            let put = h
                .req(
                    "PUT",
                    &format!("/v2/{repo}/manifests/{by512}"),
                    &[("content-type", got.header("content-type").unwrap())],
                    got.body.clone(),
                )
                .await;
            assert_eq!(put.status, 400);
            // sha256 still works
            h.push_blob(repo, b"sha256 still").await;
        }
        Variation::EmptyUploadNoRange => {
            let a = h.req("POST", &uploads, &[], none()).await;
            assert_eq!((a.status, a.header("range")), (202, None));
            let loc = a.header("location").unwrap().to_string();
            let status = h.get(&loc).await;
            assert_eq!((status.status, status.header("range")), (204, None));
            let chunk = h
                .req("PATCH", &loc, &[("content-range", "0-1")], &b"ab"[..])
                .await;
            assert_eq!((chunk.status, chunk.header("range")), (202, Some("0-1")));
        }
        Variation::MountWithoutFrom => {
            let a = h
                .req(
                    "POST",
                    &format!("/v2/other/repo/blobs/uploads/?mount={layer}"),
                    &[],
                    none(),
                )
                .await;
            assert_eq!(a.status, 201);
            let got = h.get(&format!("/v2/other/repo/blobs/{layer}")).await;
            assert_eq!((got.status, &got.body[..]), (200, &b"a layer"[..]));
            // a blob held nowhere opens a session
            let absent = Digest::sha256(b"held nowhere").to_string();
            let a = h
                .req(
                    "POST",
                    &format!("/v2/other/repo/blobs/uploads/?mount={absent}"),
                    &[],
                    none(),
                )
                .await;
            assert_eq!(a.status, 202);
        }
        Variation::RedirectBlobs => {
            let path = format!("/v2/{repo}/blobs/{layer}");
            for method in ["GET", "HEAD"] {
                let a = h.req(method, &path, &[], none()).await;
                assert_eq!(a.status, 307);
                let to = a.header("location").unwrap().to_string();
                assert_ne!(to, path);
                let b = h.req(method, &to, &[], none()).await;
                assert_eq!(b.status, 200);
                if method == "GET" {
                    assert_eq!(&b.body[..], b"a layer");
                }
            }
        }
        Variation::OtherNotFoundCode => {
            let absent = Digest::sha256(b"absent").to_string();
            let a = h.get(&format!("/v2/{repo}/blobs/{absent}")).await;
            assert_eq!(
                (a.status, a.codes()),
                (404, vec!["NAME_UNKNOWN".to_string()])
            );
        }
    }
    reg.server.shutdown().await;
}

fn listed_by_the_cli() -> Result<(), Failed> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(["serve", "--variation", "list"])
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for v in VARIATIONS {
        if !stdout.contains(v.name) || !stdout.contains(&format!("#{}", v.section)) {
            return Err(format!("{} missing from:\n{stdout}", v.name).into());
        }
    }
    Ok(())
}
