//! Written scenarios of catalog and tag walks, and of the same bytes under another digest.

use super::*;

/// A tagged image in r0, a catalog walk a page of one at a time, then the manifest read.
pub(super) fn catalogued() -> Finding {
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
pub(super) fn listed_after_unknown() -> Finding {
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
