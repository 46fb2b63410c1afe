//! The oracle on the same bytes under two digests, with the answers distribution 2.8 gives
//! (taken by hand with curl): what the spec leaves to the registry is accepted, what breaks
//! it is not.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};

use super::{Learned, judge};
use crate::oci::{Algorithm, Digest};
use crate::runner::explore::exec::Answer;
use crate::runner::explore::model::{Model, Stored};
use crate::runner::explore::ops::{Op, Upload, blob_pool};

const PREFIX: &str = "explore/t";

fn bytes() -> Bytes {
    // a pool blob, the content the explorer names under both algorithms
    blob_pool().swap_remove(1)
}

fn answer(method: &'static str, status: u16, digest: Option<&Digest>, body: &[u8]) -> Answer {
    let mut headers = HeaderMap::new();
    if status == 201 || status == 202 {
        headers.insert(
            "location",
            HeaderValue::from_static("/v2/x/blobs/uploads/u"),
        );
    }
    if let Some(d) = digest {
        headers.insert(
            "docker-content-digest",
            HeaderValue::from_str(&d.to_string()).unwrap(),
        );
    }
    Answer {
        method,
        url: format!("/v2/{PREFIX}/r0/blobs/x"),
        status,
        headers,
        body: Bytes::copy_from_slice(body),
    }
}

/// Judges each (operation, answers) in turn from an empty model; the index and message of
/// the first discrepancy.
fn run(steps: Vec<(Op, Vec<Answer>)>) -> Result<Model, (usize, &'static str, String)> {
    let mut m = Model::default();
    let mut learned = Learned::default();
    for (i, (op, answers)) in steps.iter().enumerate() {
        m = judge(&m, op, answers, &mut learned, PREFIX)
            .map_err(|d| (i, d.requirement, d.message))?;
    }
    Ok(m)
}

fn push(repo: usize, data: &Bytes, algorithm: Algorithm) -> (Op, Vec<Answer>) {
    let d = Digest::of(algorithm, data);
    (
        Op::PushBlob {
            repo,
            data: data.clone(),
            upload: Upload::Monolithic,
            algorithm,
        },
        vec![
            answer("POST", 202, None, b""),
            answer("PUT", 201, Some(&d), b""),
        ],
    )
}

fn delete(repo: usize, digest: &Digest, status: u16) -> (Op, Vec<Answer>) {
    (
        Op::DeleteBlob {
            repo,
            digest: digest.clone(),
        },
        vec![answer("DELETE", status, None, b"")],
    )
}

fn get(repo: usize, digest: &Digest, status: u16, body: &[u8]) -> (Op, Vec<Answer>) {
    let header = (status == 200).then_some(digest);
    (
        Op::GetBlob {
            repo,
            digest: digest.clone(),
            head: false,
            range: None,
        },
        vec![answer("GET", status, header, body)],
    )
}

fn mount(from: usize, to: usize, digest: &Digest, status: u16) -> (Op, Vec<Answer>) {
    (
        Op::Mount {
            from,
            to,
            digest: digest.clone(),
        },
        vec![answer("POST", status, Some(digest), b"")],
    )
}

#[test]
fn the_other_digest_of_deleted_bytes_may_stay_reachable() {
    let data = bytes();
    let (s256, s512) = (Digest::sha256(&data), Digest::of(Algorithm::Sha512, &data));
    // pushed by sha512, deleted by sha512: distribution still serves and mounts it by sha256
    let kept = run(vec![
        push(2, &data, Algorithm::Sha512),
        delete(2, &s512, 202),
        get(2, &s512, 404, b""),
        get(2, &s256, 200, &data),
        mount(2, 1, &s256, 201),
        get(1, &s256, 200, &data),
    ]);
    assert!(kept.is_ok(), "{kept:?}");
    // a registry keeping one blob answers 404 by either digest: as right
    let one = run(vec![
        push(2, &data, Algorithm::Sha512),
        delete(2, &s512, 202),
        get(2, &s256, 404, b""),
    ]);
    assert!(one.is_ok(), "{one:?}");
}

#[test]
fn a_server_error_or_a_mount_that_left_nothing_is_a_discrepancy() {
    let data = bytes();
    let (s256, s512) = (Digest::sha256(&data), Digest::of(Algorithm::Sha512, &data));
    // the bytes deleted by sha256 after a push by sha512: 200 or 404 by sha512, never 500
    for status in [200, 404] {
        let body: &[u8] = if status == 200 { &data } else { b"" };
        let ok = run(vec![
            push(0, &data, Algorithm::Sha512),
            push(0, &data, Algorithm::Sha256),
            delete(0, &s256, 202),
            get(0, &s512, status, body),
        ]);
        assert!(ok.is_ok(), "{status}: {ok:?}");
    }
    let broken = run(vec![
        push(0, &data, Algorithm::Sha512),
        push(0, &data, Algorithm::Sha256),
        delete(0, &s256, 202),
        get(0, &s512, 500, b"{\"errors\":[{\"code\":\"UNKNOWN\"}]}"),
    ]);
    assert!(matches!(broken, Err((3, _, _))), "{broken:?}");
    // a mount by sha512 answered 201 owes the blob in the target
    let lost = run(vec![
        push(0, &data, Algorithm::Sha512),
        mount(0, 1, &s512, 201),
        get(1, &s512, 404, b""),
    ]);
    assert!(matches!(lost, Err((2, "pull.blob.get", _))), "{lost:?}");
    // a blob never there under either digest cannot be mounted
    let leaked = run(vec![mount(2, 1, &s256, 201)]);
    assert!(
        matches!(leaked, Err((0, "push.mount.fallback", _))),
        "{leaked:?}"
    );
}

/// A walk of the tags of repository 0 asked with `last`, answered with one page.
fn tags_after(last: &str, page: &[&str]) -> (Op, Vec<Answer>) {
    let body = serde_json::json!({ "name": format!("{PREFIX}/r0"), "tags": page }).to_string();
    let mut a = answer("GET", 200, None, body.as_bytes());
    a.url = format!("http://127.0.0.1/v2/{PREFIX}/r0/tags/list?last={last}");
    (
        Op::ListTags {
            repo: 0,
            n: None,
            last: Some(last.to_string()),
        },
        vec![a],
    )
}

/// A model whose repository 0 holds the tags `b` and `d`.
fn tagged() -> Model {
    let body = Bytes::from_static(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#,
    );
    let stored = Stored::new(crate::oci::media::OCI_MANIFEST, &body);
    let mut m = Model::default();
    m.put_manifest(
        0,
        &Digest::sha256(&body),
        stored,
        &["b".to_string(), "d".to_string()],
    );
    m
}

#[test]
fn a_last_the_repository_does_not_hold_may_answer_an_empty_page() {
    let m = tagged();
    let judged = |(op, answers): (Op, Vec<Answer>)| {
        judge(&m, &op, &answers, &mut Learned::default(), PREFIX).map(|_| ())
    };
    // the spec places a page's start only after a tag the list holds: "a" and "c" are not
    // held, so an empty page and the tags after them in order are both the registry's choice
    for (last, page) in [
        ("a", &[][..]),
        ("a", &["b", "d"][..]),
        ("c", &[][..]),
        ("c", &["d"][..]),
    ] {
        let r = judged(tags_after(last, page));
        assert!(r.is_ok(), "last={last} {page:?}: {r:?}");
    }
    // a page is still in order
    let r = judged(tags_after("c", &["d", "b"]));
    assert!(
        matches!(&r, Err(d) if d.requirement == "tags.order"),
        "{r:?}"
    );
    // after a tag it holds, the list is fixed: what follows "b" is "d"
    let r = judged(tags_after("b", &[]));
    assert!(r.is_err(), "{r:?}");
    let r = judged(tags_after("b", &["b", "d"]));
    assert!(
        matches!(&r, Err(d) if d.requirement == "tags.last"),
        "{r:?}"
    );
}

#[test]
fn an_answer_inside_a_race_teaches_nothing() {
    use crate::runner::explore::linear::{State, advance};
    let data = bytes();
    let d = Digest::sha256(&data);
    let other = Digest::of(Algorithm::Sha512, &data);
    let mut states = vec![State {
        model: Model::default(),
        learned: Learned::default(),
    }];
    fn step(states: &mut Vec<State>, round: Vec<(Op, Vec<Answer>)>) -> Result<(), String> {
        *states = advance(states, &round, PREFIX, &[])
            .map_err(|d| d.message)?
            .states;
        Ok(())
    }
    step(&mut states, vec![push(0, &data, Algorithm::Sha256)]).unwrap();
    // a DELETE refused inside a concurrent round does not show deletion disabled...
    step(
        &mut states,
        vec![delete(0, &d, 405), get(0, &other, 404, b"")],
    )
    .unwrap();
    assert_eq!(states[0].learned.blob_delete, super::Switch::Unknown);
    // ...so a DELETE carried out afterwards is no discrepancy
    step(&mut states, vec![delete(0, &d, 202)]).unwrap();
    // one refused alone does show it, and binds what follows
    states = vec![State {
        model: Model::default(),
        learned: Learned::default(),
    }];
    step(&mut states, vec![push(1, &data, Algorithm::Sha256)]).unwrap();
    step(&mut states, vec![delete(1, &d, 405)]).unwrap();
    assert!(step(&mut states, vec![delete(1, &d, 202)]).is_err());
}
