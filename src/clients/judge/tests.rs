//! The upload, chunk and tag-page judgements on exchanges made up for each case.

use super::*;

fn ex(
    method: &str,
    target: &str,
    endpoint: Endpoint,
    req: &[(&str, &str)],
    body_len: u64,
    status: u16,
    res: &[(&str, &str)],
) -> Exchange {
    let pairs = |h: &[(&str, &str)]| {
        h.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Exchange {
        method: method.into(),
        target: target.into(),
        endpoint: Some(endpoint),
        request_headers: pairs(req),
        body_len,
        body: None,
        status,
        response_headers: pairs(res),
    }
}

const S: &str = "/v2/r/blobs/uploads/u";

fn post(min: Option<&str>) -> Exchange {
    let mut res = vec![("location", "http://h:1/v2/r/blobs/uploads/u?_state=0")];
    if let Some(m) = min {
        res.push(("oci-chunk-min-length", m));
    }
    ex(
        "POST",
        "/v2/r/blobs/uploads/",
        Endpoint::UploadStart,
        &[],
        0,
        202,
        &res,
    )
}

fn patch(query: &str, range: &str, len: u64, status: u16, state: u32) -> Exchange {
    let loc = format!("{S}?_state={state}");
    ex(
        "PATCH",
        &format!("{S}{query}"),
        Endpoint::UploadChunk,
        &[("content-range", range)],
        len,
        status,
        &[("location", &loc)],
    )
}

fn failed(fs: &[Finding]) -> Vec<&'static str> {
    fs.iter()
        .filter(|f| !f.passed)
        .map(|f| f.requirement)
        .collect()
}

#[test]
fn locations_are_compared_as_given_absolute_ones_by_path_and_query() {
    assert_eq!(origin_form("http://h:1/v2/x?a=1"), "/v2/x?a=1");
    assert_eq!(origin_form("/v2/x"), "/v2/x");
    assert_eq!(
        params("/p?b=2&digest=sha256:1&a=1"),
        [("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    let kept = [post(None), patch("?_state=0", "0-9", 10, 202, 1)];
    assert_eq!(failed(&uploads(&kept)), Vec::<&str>::new());
    let rebuilt = [post(None), patch("", "0-9", 10, 202, 1)];
    assert_eq!(failed(&uploads(&rebuilt)), [LOCATION_AS_GIVEN]);
}

#[test]
fn ranges_must_be_inclusive_start_at_zero_and_follow_the_accepted_bytes() {
    let exclusive = [post(None), patch("?_state=0", "0-10", 10, 202, 1)];
    assert_eq!(failed(&uploads(&exclusive)), [CHUNK_RANGE]);
    let late_start = [post(None), patch("?_state=0", "5-14", 10, 202, 1)];
    assert_eq!(failed(&uploads(&late_start)), [CHUNK_RANGE, CHUNK_ORDER]);
    let skipped = [
        post(None),
        patch("?_state=0", "0-9", 10, 202, 1),
        patch("?_state=1", "20-29", 10, 416, 1),
        patch("?_state=1", "10-19", 10, 202, 2),
    ];
    assert_eq!(failed(&uploads(&skipped)), [CHUNK_ORDER]);
    let malformed = [post(None), patch("?_state=0", "bytes=0-9", 10, 202, 1)];
    assert_eq!(failed(&uploads(&malformed)), [CHUNK_RANGE]);
}

#[test]
fn only_the_final_chunk_may_be_under_the_announced_minimum() {
    let ok = [
        post(Some("10")),
        patch("?_state=0", "0-9", 10, 202, 1),
        patch("?_state=1", "10-14", 5, 202, 2),
    ];
    assert_eq!(failed(&uploads(&ok)), Vec::<&str>::new());
    let short = [
        post(Some("10")),
        patch("?_state=0", "0-4", 5, 202, 1),
        patch("?_state=1", "5-14", 10, 400, 2),
    ];
    assert_eq!(failed(&uploads(&short)), [CHUNK_MIN_LENGTH]);
}

#[test]
fn a_next_link_is_read_from_its_relation() {
    assert_eq!(
        next_link(r#"</v2/r/tags/list?n=2&last=b>; rel="next""#).as_deref(),
        Some("/v2/r/tags/list?n=2&last=b")
    );
    assert_eq!(next_link(r#"<http://h/x>; rel="prev""#), None);
    let page = ex(
        "GET",
        "/v2/r/tags/list?n=2",
        Endpoint::TagsList,
        &[],
        0,
        200,
        &[("link", r#"</v2/r/tags/list?n=2&last=b>; rel="next""#)],
    );
    assert_eq!(failed(&tag_pages(std::slice::from_ref(&page))), [TAGS_LINK]);
    let mut next = page.clone();
    next.target = "/v2/r/tags/list?n=2&last=b".into();
    next.response_headers.clear();
    assert_eq!(failed(&tag_pages(&[page, next])), Vec::<&str>::new());
}

fn mount(status: u16) -> Exchange {
    let loc = if status == 202 {
        "/v2/r/blobs/uploads/u?_state=0"
    } else {
        "/v2/r/blobs/sha256:aa"
    };
    ex(
        "POST",
        "/v2/r/blobs/uploads/?mount=sha256:aa&from=o",
        Endpoint::UploadStart,
        &[],
        0,
        status,
        &[("location", loc)],
    )
}

#[test]
fn a_mount_answered_202_is_used_when_its_session_gets_a_chunk_or_the_closing_put() {
    let used = mounts(&[mount(202), patch("?_state=0", "0-1", 2, 202, 1)]);
    assert_eq!(used.len(), 1);
    assert!(used[0].passed, "{used:?}");
    // another session opened instead: the mount's is left unused
    let other = ex(
        "PUT",
        "/v2/r/blobs/uploads/v?_state=0&digest=sha256:aa",
        Endpoint::UploadClose,
        &[],
        2,
        201,
        &[],
    );
    let unused = mounts(&[mount(202), other]);
    assert_eq!(unused.len(), 1);
    assert!(!unused[0].passed, "{unused:?}");
    // a mount done (201), or a plain POST, gives no occasion
    assert!(mounts(&[mount(201)]).is_empty());
    assert!(mounts(&[post(None), patch("?_state=0", "0-1", 2, 202, 1)]).is_empty());
}

#[test]
fn a_manifest_reference_is_a_digest_only_when_it_parses_as_one() {
    let d = format!("sha256:{}", "a".repeat(64));
    assert!(by_digest(&format!("/v2/a/b/manifests/{d}")));
    assert!(!by_digest("/v2/a/b/manifests/v1"));
    assert!(!by_digest("/v2/a/manifests/b/manifests/v1"));
    assert!(!by_digest("/v2/a/b/manifests/sha256:short"));
}
