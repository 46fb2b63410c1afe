//! Judges the answers to one operation against the model and the spec, and gives the model
//! afterwards. What the spec leaves to the registry (deletion disabled, no referrers API, no
//! single-POST push, no sha512, no Link) is learned from the first answer that shows it and
//! held to afterwards, so a conforming registry never sees a false alarm.

use std::collections::BTreeSet;

use serde_json::Value;

use super::exec::{Answer, MAX_PAGES};
use super::model::{Model, Stored, needs};
use super::ops::{Op, Reference, Upload};
use crate::oci::{Algorithm, Digest};

/// Something the spec leaves open, once the registry has shown which way it goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Switch {
    #[default]
    Unknown,
    On,
    Off,
}

/// What the registry showed of what the spec leaves open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Learned {
    pub tag_delete: Switch,
    pub manifest_delete: Switch,
    pub blob_delete: Switch,
    pub referrers: Switch,
    pub catalog: Switch,
    pub sha512: Switch,
    pub single_post: Switch,
}

/// An answer no state of the model explains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Discrepancy {
    /// The requirement (of `specs/requirements/`) the answer breaks.
    pub requirement: &'static str,
    pub message: String,
}

type Judged = Result<Model, Discrepancy>;

pub(crate) fn fail(
    requirement: &'static str,
    a: &Answer,
    why: impl std::fmt::Display,
) -> Discrepancy {
    Discrepancy {
        requirement,
        message: format!("{} {} answered {}: {why}", a.method, a.url, a.status),
    }
}

fn status(req: &'static str, a: &Answer, want: &[u16]) -> Result<(), Discrepancy> {
    if want.contains(&a.status) {
        Ok(())
    } else {
        Err(fail(req, a, format!("expected {want:?}")))
    }
}

fn digest_header(req: &'static str, a: &Answer, want: &Digest) -> Result<(), Discrepancy> {
    match a.header("docker-content-digest") {
        Some(h) if h != want.to_string() => {
            // another algorithm is allowed; then it must still be the content's digest
            let same = h
                .parse::<Digest>()
                .is_ok_and(|d| d.algorithm() != want.algorithm());
            if same {
                Ok(())
            } else {
                Err(fail(
                    req,
                    a,
                    format!("Docker-Content-Digest {h}, not {want}"),
                ))
            }
        }
        _ => Ok(()),
    }
}

/// A DELETE where deletion may be disabled: `Ok(true)` when it was carried out. A registry
/// with deletion disabled may refuse a DELETE before looking for its target, so a 400 or 405
/// of something absent also shows it disabled; a deletion done afterwards contradicts that.
fn deletion(
    switch: &mut Switch,
    req: &'static str,
    a: &Answer,
    present: bool,
) -> Result<bool, Discrepancy> {
    let disabled = matches!(a.status, 400 | 405);
    match (*switch, present, a.status) {
        (Switch::Off | Switch::Unknown, _, _) if disabled => {
            *switch = Switch::Off;
            Ok(false)
        }
        (Switch::Off, _, _) => Err(fail(req, a, "deletion was disabled before")),
        (_, true, 202) => {
            *switch = Switch::On;
            Ok(true)
        }
        (_, false, 404) => Ok(false),
        (_, true, _) => Err(fail(req, a, "expected 202 (or 400/405 when disabled)")),
        (_, false, _) => Err(fail(req, a, "expected 404: it is not there")),
    }
}

/// Judges `answers` to `op` from `model`; the model afterwards.
pub(crate) fn judge(
    model: &Model,
    op: &Op,
    answers: &[Answer],
    learned: &mut Learned,
    prefix: &str,
) -> Judged {
    let mut m = model.clone();
    let Some(last) = answers.last() else {
        return Ok(m);
    };
    match op {
        Op::PushBlob {
            repo,
            data,
            upload,
            algorithm,
        } => {
            let digest = Digest::of(*algorithm, data);
            let req = match upload {
                Upload::Chunked(_) => "push.chunk.close",
                Upload::Streamed => "dist.stream-upload",
                _ => "push.put.201",
            };
            for (i, a) in answers.iter().enumerate() {
                let is_last = i + 1 == answers.len();
                match a.method {
                    "POST" if *upload == Upload::Single => match a.status {
                        201 => learned.single_post = Switch::On,
                        202 => learned.single_post = Switch::Off,
                        // a registry without sha512 may refuse the digest right away (main:
                        // an unsupported algorithm SHOULD be answered 400)
                        400 | 404 | 415
                            if *algorithm == Algorithm::Sha512 && learned.sha512 != Switch::On =>
                        {
                            learned.sha512 = Switch::Off;
                            return Ok(m);
                        }
                        _ => status("push.single-post.fallback", a, &[201, 202])?,
                    },
                    "POST" => status("push.post.202", a, &[202])?,
                    "PATCH" => status("push.chunk.202", a, &[202])?,
                    "PUT" if is_last => {
                        let refused = matches!(a.status, 400 | 404 | 415);
                        if *algorithm == Algorithm::Sha512
                            && refused
                            && learned.sha512 != Switch::On
                        {
                            learned.sha512 = Switch::Off;
                            return Ok(m);
                        }
                        status(req, a, &[201])?;
                        if *algorithm == Algorithm::Sha512 {
                            learned.sha512 = Switch::On;
                        }
                    }
                    _ => status(req, a, &[201])?,
                }
            }
            if last.status == 201 {
                if last.header("location").is_none() {
                    return Err(fail(req, last, "no Location"));
                }
                digest_header(req, last, &digest)?;
                m.hold_blob(*repo, &digest);
            } else if last.method != "PUT" && !(last.method == "POST" && last.status == 201) {
                return Err(fail(req, last, "the upload stopped here"));
            }
        }
        Op::GetBlob {
            repo,
            digest,
            head,
            range,
        } => {
            let a = last;
            if !m.has_blob(*repo, digest) {
                // the same bytes pushed under another algorithm: the spec neither requires nor
                // forbids reaching them by this digest too
                let want: &[u16] = if m.maybe_blob(*repo, digest) {
                    &[200, 206, 404]
                } else {
                    &[404]
                };
                status("pull.blob.404", a, want)?;
                if a.status == 404 {
                    return Ok(m);
                }
            }
            let req = if range.is_some() {
                "pull.blob.range"
            } else if *head {
                "pull.head.200"
            } else {
                "pull.blob.get"
            };
            // a registry may ignore Range and answer the whole blob
            status(req, a, if range.is_some() { &[200, 206] } else { &[200] })?;
            let content = content_of(digest);
            if let Some(data) = content {
                let want: &[u8] = match (range, a.status) {
                    (Some((s, e)), 206) => {
                        let e = (*e as usize).min(data.len() - 1);
                        &data[*s as usize..=e]
                    }
                    _ => &data,
                };
                if *head {
                    if !a.body.is_empty() {
                        return Err(fail(req, a, "HEAD answered with a body"));
                    }
                } else if a.body.as_ref() != want {
                    return Err(fail(req, a, "the bytes differ from those pushed"));
                }
            }
            if range.is_none() {
                digest_header("pull.digest-header-matches", a, digest)?;
            }
        }
        Op::DeleteBlob { repo, digest } => {
            let present = m.has_blob(*repo, digest);
            if !present && m.maybe_blob(*repo, digest) {
                // the bytes reached by another of their digests: there (202) or not (404)
                match last.status {
                    202 => {
                        m.drop_blob(*repo, digest);
                        return Ok(m);
                    }
                    404 => return Ok(m),
                    _ => {}
                }
            }
            let req = if present {
                "delete.blob"
            } else {
                "delete.blob.404"
            };
            if deletion(&mut learned.blob_delete, req, last, present)? {
                m.drop_blob(*repo, digest);
            }
        }
        Op::Mount { from, to, digest } => {
            let a = &answers[0];
            match a.status {
                201 => {
                    // mounted: the content must exist, and the source must have held it
                    // (mounting what the source lacks would leak content across repositories)
                    if !m.has_blob(*from, digest) && !m.maybe_blob(*from, digest) {
                        return Err(fail(
                            "push.mount.fallback",
                            a,
                            "mounted a blob the source repository does not hold",
                        ));
                    }
                    m.hold_blob(*to, digest);
                }
                202 => {
                    if let Some(cancel) = answers.get(1) {
                        status("next.upload.cancel", cancel, &[204])?;
                    }
                }
                _ => status("push.mount.201", a, &[201, 202])?,
            }
        }
        Op::PushManifest {
            repo,
            media_type,
            body,
            reference,
        } => {
            let a = last;
            let digest = Digest::sha256(body);
            let ready = m.satisfies(*repo, &needs(media_type, body));
            match a.status {
                201 => {
                    digest_header("push.manifest.digest-header", a, &digest)?;
                    let tags = match reference {
                        Reference::Tag(t) => vec![t.clone()],
                        Reference::Digest(_) => vec![],
                    };
                    m.put_manifest(*repo, &digest, Stored::new(media_type, body), &tags);
                }
                400 | 404 if !ready => {}
                _ if ready => status("push.manifest.201", a, &[201])?,
                _ => status("push.manifest.missing-blobs", a, &[201, 400, 404])?,
            }
        }
        Op::GetManifest {
            repo,
            reference,
            head,
        } => {
            let a = last;
            let digest = match reference {
                Reference::Tag(t) => m.tag(*repo, t).cloned(),
                Reference::Digest(d) => m.manifest(*repo, d).map(|_| d.clone()),
            };
            let Some(digest) = digest else {
                // a tag or manifest deleted earlier breaks its deletion by answering
                let req = m
                    .forgotten(*repo, &reference.to_string())
                    .unwrap_or("pull.manifest.404");
                status(req, a, &[404])?;
                return Ok(m);
            };
            let Some(stored) = m.manifest(*repo, &digest) else {
                return Ok(m);
            };
            let req = if *head {
                "pull.head.200"
            } else {
                "pull.manifest.get"
            };
            status(req, a, &[200])?;
            if !*head && a.body != stored.body {
                return Err(fail(
                    "push.manifest.exact-bytes",
                    a,
                    "the manifest differs from the one pushed",
                ));
            }
            digest_header("pull.digest-header-matches", a, &digest)?;
            if a.header("content-type").map(crate::oci::media::essence)
                != Some(stored.media_type.as_str())
            {
                return Err(fail(
                    "pull.manifest.content-type",
                    a,
                    format!("Content-Type {:?}", a.header("content-type")),
                ));
            }
        }
        Op::DeleteManifest { repo, digest } => {
            let present = m.manifest(*repo, digest).is_some();
            let req = m
                .forgotten(*repo, &digest.to_string())
                .unwrap_or("delete.manifest");
            if deletion(&mut learned.manifest_delete, req, last, present)? {
                m.delete_manifest(*repo, digest);
            }
        }
        Op::DeleteTag { repo, tag } => {
            let present = m.tag(*repo, tag).is_some();
            // a tag its manifest's deletion took answers to that deletion
            let req = m.forgotten(*repo, tag).unwrap_or("delete.tag");
            if deletion(&mut learned.tag_delete, req, last, present)? {
                m.delete_tag(*repo, tag);
            }
        }
        Op::ListTags {
            repo,
            n,
            last: from,
        } => {
            super::lists::tags(&m, *repo, *n, from.as_deref(), answers)?;
        }
        Op::Catalog { .. } => {
            super::lists::catalog(&m, prefix, answers, learned)?;
        }
        Op::Referrers {
            repo,
            subject,
            artifact_type,
        } => {
            referrers(
                &m,
                *repo,
                subject,
                artifact_type.as_deref(),
                answers,
                learned,
            )?;
        }
        Op::CancelUpload { .. } => {
            status("push.post.202", &answers[0], &[202])?;
            for a in &answers[1..] {
                match a.method {
                    "PATCH" => status("push.chunk.202", a, &[202])?,
                    "DELETE" => status("next.upload.cancel", a, &[204])?,
                    _ => status("push.status.unknown", a, &[404])?,
                }
            }
        }
    }
    Ok(m)
}

/// The bytes of a pool blob (every blob an exploration pushes is one).
fn content_of(digest: &Digest) -> Option<bytes::Bytes> {
    super::ops::pool_content(digest)
}

fn referrers(
    m: &Model,
    repo: usize,
    subject: &Digest,
    filter: Option<&str>,
    answers: &[Answer],
    learned: &mut Learned,
) -> Result<(), Discrepancy> {
    let first = &answers[0];
    match (learned.referrers, first.status) {
        (Switch::Unknown, 404) => {
            learned.referrers = Switch::Off;
            return Ok(());
        }
        (Switch::Off, 404) => return Ok(()),
        (_, 200) => learned.referrers = Switch::On,
        _ => return Err(fail("referrers.supported", first, "expected 200")),
    }
    let mut seen = BTreeSet::new();
    let mut filtered = true;
    for a in answers {
        status("referrers.pagination", a, &[200])?;
        if a.header("oci-filters-applied").is_none() {
            filtered = false;
        }
        let v = a
            .json()
            .ok_or_else(|| fail("referrers.index", a, "not JSON"))?;
        for d in v["manifests"].as_array().into_iter().flatten() {
            let digest = d["digest"].as_str().unwrap_or("").to_string();
            if !seen.insert(digest.clone()) {
                return Err(fail(
                    "referrers.pagination",
                    a,
                    format!("{digest} listed twice"),
                ));
            }
            let Some(stored) = digest
                .parse::<Digest>()
                .ok()
                .and_then(|d| m.manifest(repo, &d))
            else {
                return Err(fail(
                    "referrers.listed",
                    a,
                    format!("{digest} is not a manifest of the repository"),
                ));
            };
            if stored.subject.as_ref() != Some(subject) {
                return Err(fail(
                    "referrers.listed",
                    a,
                    format!("{digest} does not refer to {subject}"),
                ));
            }
            let at = d["artifactType"].as_str().map(String::from);
            if at != stored.artifact_type {
                return Err(fail(
                    "referrers.artifact-type",
                    a,
                    format!("{digest}: artifactType {at:?}"),
                ));
            }
            if d["size"].as_u64() != Some(stored.body.len() as u64) {
                return Err(fail("referrers.listed", a, format!("{digest}: wrong size")));
            }
        }
    }
    if answers.len() >= MAX_PAGES {
        return Ok(());
    }
    let want: BTreeSet<String> = m
        .referrers(repo, subject)
        .iter()
        .filter(|(_, s)| filter.is_none() || !filtered || s.artifact_type.as_deref() == filter)
        .map(|(d, _)| d.to_string())
        .collect();
    let last = answers.last().expect("one answer at least");
    let missing: Vec<_> = want.difference(&seen).collect();
    if !missing.is_empty() {
        return Err(fail(
            "referrers.listed",
            last,
            format!("missing referrers {missing:?}"),
        ));
    }
    if filter.is_some() && filtered {
        // a filtered answer holds only matching referrers (checked through `want`)
        let extra: Vec<_> = seen.difference(&want).collect();
        if !extra.is_empty() {
            return Err(fail(
                "referrers.filters-applied",
                last,
                format!("unfiltered {extra:?}"),
            ));
        }
    }
    Ok(())
}

/// The names a list answer holds under `field` (null or absent: none).
pub(crate) fn names(a: &Answer, field: &str) -> Result<Vec<String>, Discrepancy> {
    let v = a
        .json()
        .ok_or_else(|| fail("tags.list", a, "the body is not JSON"))?;
    match &v[field] {
        Value::Null => Ok(vec![]),
        Value::Array(xs) => Ok(xs
            .iter()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .collect()),
        _ => Err(fail("tags.list", a, format!("{field} is not a list"))),
    }
}

#[cfg(test)]
#[path = "oracle_tests.rs"]
mod tests;
