//! The reference registry over real HTTP: every endpoint, every error code it answers, and
//! the properties the scenarios cannot see from outside (nothing appended, nothing stored,
//! restart, concurrency, path safety).

mod common;

use bytes::Bytes;
use common::{Http, start};
use regverify::oci::Digest;
use regverify::server::Config;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// (what, method, path, headers, body, status, code)
type Case<'a> = (
    &'a str,
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    u16,
    &'a str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_code_the_registry_answers() {
    let reg = start(Config::default(), true).await;
    let h = Http::new(&reg.url);
    let repo = "errors/repo";
    let blob = h.push_blob(repo, b"present").await;
    let absent = Digest::sha256(b"absent").to_string();
    let upload = h
        .req(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            Bytes::new(),
        )
        .await
        .header("location")
        .unwrap()
        .to_string();
    let unknown_upload = format!("/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000");
    let missing_layer = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{blob}","size":7}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{absent}","size":1}}]}}"#
    );
    let cases: Vec<Case> = vec![
        (
            "blob unknown",
            "GET",
            format!("/v2/{repo}/blobs/{absent}"),
            vec![],
            vec![],
            404,
            "BLOB_UNKNOWN",
        ),
        (
            "blob delete unknown",
            "DELETE",
            format!("/v2/{repo}/blobs/{absent}"),
            vec![],
            vec![],
            404,
            "BLOB_UNKNOWN",
        ),
        (
            "malformed digest",
            "GET",
            format!("/v2/{repo}/blobs/sha256:xyz"),
            vec![],
            vec![],
            400,
            "DIGEST_INVALID",
        ),
        (
            "unsupported algorithm",
            "GET",
            format!("/v2/{repo}/blobs/md5:abc"),
            vec![],
            vec![],
            400,
            "DIGEST_INVALID",
        ),
        (
            "malformed Content-Range",
            "PATCH",
            upload.clone(),
            vec![("content-range", "x-y")],
            b"abc".to_vec(),
            400,
            "BLOB_UPLOAD_INVALID",
        ),
        (
            "Content-Range and Content-Length disagree",
            "PATCH",
            upload.clone(),
            vec![("content-range", "0-9")],
            b"abc".to_vec(),
            400,
            "SIZE_INVALID",
        ),
        (
            "out-of-order chunk",
            "PATCH",
            upload.clone(),
            vec![("content-range", "5-7")],
            b"abc".to_vec(),
            416,
            "BLOB_UPLOAD_INVALID",
        ),
        (
            "upload unknown (status)",
            "GET",
            unknown_upload.clone(),
            vec![],
            vec![],
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            "upload unknown (chunk)",
            "PATCH",
            unknown_upload.clone(),
            vec![],
            b"abc".to_vec(),
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            "upload unknown (close)",
            "PUT",
            format!("{unknown_upload}?digest={blob}"),
            vec![],
            vec![],
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            "upload unknown (cancel)",
            "DELETE",
            unknown_upload.clone(),
            vec![],
            vec![],
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            "close without digest",
            "PUT",
            upload.clone(),
            vec![],
            vec![],
            400,
            "DIGEST_INVALID",
        ),
        (
            "digest mismatch on close",
            "PUT",
            format!("{upload}?digest={absent}"),
            vec![],
            b"abc".to_vec(),
            400,
            "DIGEST_INVALID",
        ),
        (
            "single POST digest mismatch",
            "POST",
            format!("/v2/{repo}/blobs/uploads/?digest={absent}"),
            vec![],
            b"abc".to_vec(),
            400,
            "DIGEST_INVALID",
        ),
        (
            "unsupported digest-algorithm",
            "POST",
            format!("/v2/{repo}/blobs/uploads/?digest-algorithm=md5"),
            vec![],
            vec![],
            400,
            "DIGEST_INVALID",
        ),
        (
            "manifest references a missing blob",
            "PUT",
            format!("/v2/{repo}/manifests/t"),
            vec![("content-type", OCI_MANIFEST)],
            missing_layer.into_bytes(),
            400,
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            "manifest not JSON",
            "PUT",
            format!("/v2/{repo}/manifests/t"),
            vec![("content-type", OCI_MANIFEST)],
            b"nope".to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            "manifest media type unknown",
            "PUT",
            format!("/v2/{repo}/manifests/t"),
            vec![("content-type", "text/plain")],
            br#"{"schemaVersion":2}"#.to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            "manifest by wrong digest",
            "PUT",
            format!("/v2/{repo}/manifests/{absent}"),
            vec![("content-type", OCI_MANIFEST)],
            b"{}".to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            "manifest unknown",
            "GET",
            format!("/v2/{repo}/manifests/nope"),
            vec![],
            vec![],
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            "bad reference (read: no such manifest)",
            "GET",
            format!("/v2/{repo}/manifests/-bad"),
            vec![],
            vec![],
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            "bad reference (write)",
            "PUT",
            format!("/v2/{repo}/manifests/-bad"),
            vec![("content-type", OCI_MANIFEST)],
            b"{}".to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            "name invalid",
            "GET",
            "/v2/Upper/tags/list".into(),
            vec![],
            vec![],
            400,
            "NAME_INVALID",
        ),
        (
            "name invalid (dots)",
            "GET",
            "/v2/a..b/tags/list".into(),
            vec![],
            vec![],
            400,
            "NAME_INVALID",
        ),
        (
            "name unknown (tags)",
            "GET",
            "/v2/never/pushed/tags/list".into(),
            vec![],
            vec![],
            404,
            "NAME_UNKNOWN",
        ),
        (
            "name unknown (manifest)",
            "GET",
            "/v2/never/pushed/manifests/latest".into(),
            vec![],
            vec![],
            404,
            "NAME_UNKNOWN",
        ),
        (
            "bad n",
            "GET",
            format!("/v2/{repo}/tags/list?n=-1"),
            vec![],
            vec![],
            400,
            "UNSUPPORTED",
        ),
        (
            "method not allowed",
            "POST",
            format!("/v2/{repo}/tags/list"),
            vec![],
            vec![],
            405,
            "UNSUPPORTED",
        ),
        (
            "no such endpoint",
            "GET",
            "/v2/x/nothing/here".into(),
            vec![],
            vec![],
            404,
            "UNSUPPORTED",
        ),
        (
            "referrers malformed digest",
            "GET",
            format!("/v2/{repo}/referrers/sha256:nope"),
            vec![],
            vec![],
            400,
            "DIGEST_INVALID",
        ),
    ];
    for (what, method, path, headers, body, status, code) in cases {
        let a = h.req(method, &path, &headers, body).await;
        assert_eq!(
            a.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.codes(), vec![code.to_string()], "{what}");
        assert_eq!(a.header("content-type"), Some("application/json"), "{what}");
        let v = a.json();
        assert!(v["errors"][0]["message"].is_string(), "{what}");
    }
    // the digest mismatches and refused chunks stored nothing
    assert_eq!(reg.storage.blobs().unwrap().len(), 1);
    let status = h.get(&upload).await;
    assert_eq!(status.status, 204);
    assert_eq!(status.header("range"), Some("0-0"));
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_disabled_and_read_only_answer_unsupported() {
    let reg = start(
        Config {
            delete_enabled: false,
            ..Config::default()
        },
        false,
    )
    .await;
    let h = Http::new(&reg.url);
    let (_, md) = h.push_image("nodelete", "v1", "x").await;
    for path in [
        format!("/v2/nodelete/manifests/{md}"),
        "/v2/nodelete/manifests/v1".to_string(),
        format!("/v2/nodelete/blobs/{md}"),
    ] {
        let a = h.req("DELETE", &path, &[], Bytes::new()).await;
        assert_eq!(
            (a.status, a.codes()),
            (405, vec!["UNSUPPORTED".to_string()]),
            "{path}"
        );
    }
    assert_eq!(h.get("/v2/nodelete/manifests/v1").await.status, 200);
    reg.server.shutdown().await;

    let reg = start(
        Config {
            read_only: true,
            ..Config::default()
        },
        false,
    )
    .await;
    let h = Http::new(&reg.url);
    let a = h
        .req("POST", "/v2/ro/blobs/uploads/", &[], Bytes::new())
        .await;
    assert_eq!(
        (a.status, a.codes()),
        (405, vec!["UNSUPPORTED".to_string()])
    );
    let a = h.req("PUT", "/v2/ro/manifests/x", &[], "{}").await;
    assert_eq!(a.status, 405);
    assert_eq!(h.get("/v2/").await.status, 200);
    assert_eq!(h.get("/v2/ro/tags/list").await.status, 404);
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_ranges_and_heads() {
    let reg = start(Config::default(), true).await;
    let h = Http::new(&reg.url);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
    let d = h.push_blob("r", &data).await;
    let a = h
        .req("HEAD", &format!("/v2/r/blobs/{d}"), &[], Bytes::new())
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-length"), Some("100000"));
    assert_eq!(a.header("docker-content-digest"), Some(d.as_str()));
    assert!(a.body.is_empty());
    let a = h.get(&format!("/v2/r/blobs/{d}")).await;
    assert_eq!((a.status, &a.body[..]), (200, &data[..]));
    assert_eq!(a.header("content-type"), Some("application/octet-stream"));
    let a = h
        .req(
            "GET",
            &format!("/v2/r/blobs/{d}"),
            &[("range", "bytes=10-19")],
            Bytes::new(),
        )
        .await;
    assert_eq!((a.status, &a.body[..]), (206, &data[10..20]));
    assert_eq!(a.header("content-range"), Some("bytes 10-19/100000"));
    let a = h
        .req(
            "GET",
            &format!("/v2/r/blobs/{d}"),
            &[("range", "bytes=100000-")],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 416);
    assert_eq!(a.header("content-range"), Some("bytes */100000"));
    // the version header is on every answer
    assert_eq!(
        a.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_chunked_streamed_sha512_mounted_cancelled() {
    let reg = start(Config::default(), true).await;
    let h = Http::new(&reg.url);
    let data: Vec<u8> = (0..30_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256(&data).to_string();
    // chunked, with a refused chunk in the middle
    let mut loc = h
        .req("POST", "/v2/up/blobs/uploads/", &[], Bytes::new())
        .await;
    assert_eq!(loc.header("range"), Some("0-0"));
    assert!(loc.header("docker-upload-uuid").is_some());
    for (i, c) in data.chunks(10_000).enumerate() {
        let range = format!("{}-{}", i * 10_000, i * 10_000 + c.len() - 1);
        let url = loc.header("location").unwrap().to_string();
        if i == 1 {
            let bad = h
                .req(
                    "PATCH",
                    &url,
                    &[("content-range", "25000-25009")],
                    c[..10].to_vec(),
                )
                .await;
            assert_eq!(bad.status, 416);
            assert_eq!(bad.header("range"), Some("0-9999"));
        }
        loc = h
            .req("PATCH", &url, &[("content-range", &range)], c.to_vec())
            .await;
        assert_eq!(loc.status, 202);
        assert_eq!(
            loc.header("range").unwrap(),
            format!("0-{}", i * 10_000 + c.len() - 1)
        );
    }
    let url = loc.header("location").unwrap().to_string();
    let a = h
        .req("PUT", &format!("{url}?digest={d}"), &[], Bytes::new())
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("docker-content-digest"), Some(d.as_str()));
    assert_eq!(h.get(&format!("/v2/up/blobs/{d}")).await.body, data);

    // streamed, sha512 via digest-algorithm
    let d512 = Digest::of(regverify::oci::Algorithm::Sha512, &data).to_string();
    let a = h
        .req(
            "POST",
            "/v2/up/blobs/uploads/?digest-algorithm=sha512",
            &[],
            Bytes::new(),
        )
        .await;
    let url = a.header("location").unwrap().to_string();
    let a = h.req("PATCH", &url, &[], data.clone()).await;
    assert_eq!(a.status, 202);
    let a = h
        .req("PUT", &format!("{url}?digest={d512}"), &[], Bytes::new())
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(h.get(&format!("/v2/up/blobs/{d512}")).await.body, data);

    // mount from another repository, and the fallback
    let a = h
        .req(
            "POST",
            &format!("/v2/other/blobs/uploads/?mount={d}&from=up"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(
        a.header("location").unwrap(),
        format!("/v2/other/blobs/{d}")
    );
    assert_eq!(h.get(&format!("/v2/other/blobs/{d}")).await.status, 200);
    let absent = Digest::sha256(b"nothing").to_string();
    let a = h
        .req(
            "POST",
            &format!("/v2/other/blobs/uploads/?mount={absent}&from=up"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 202);

    // cancel
    let url = a.header("location").unwrap().to_string();
    assert_eq!(h.req("DELETE", &url, &[], Bytes::new()).await.status, 204);
    assert_eq!(h.get(&url).await.status, 404);
    assert!(reg.storage.uploads().unwrap().is_empty());

    // the final chunk in the PUT, out of order: 416, nothing committed
    let a = h
        .req("POST", "/v2/up/blobs/uploads/", &[], Bytes::new())
        .await;
    let url = a.header("location").unwrap().to_string();
    let other: Vec<u8> = data.iter().map(|b| b ^ 1).collect();
    let od = Digest::sha256(&other).to_string();
    h.req(
        "PATCH",
        &url,
        &[("content-range", "0-99")],
        other[..100].to_vec(),
    )
    .await;
    let a = h
        .req(
            "PUT",
            &format!("{url}?digest={od}"),
            &[("content-range", "200-29999")],
            other[200..].to_vec(),
        )
        .await;
    assert_eq!(a.status, 416);
    assert_eq!(
        h.req("HEAD", &format!("/v2/up/blobs/{od}"), &[], Bytes::new())
            .await
            .status,
        404
    );
    let a = h
        .req(
            "PUT",
            &format!("{url}?digest={od}"),
            &[("content-range", "100-29999")],
            other[100..].to_vec(),
        )
        .await;
    assert_eq!(a.status, 201);
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_tags_referrers_catalog() {
    let reg = start(
        Config {
            referrers_page_size: 2,
            ..Config::default()
        },
        true,
    )
    .await;
    let h = Http::new(&reg.url);
    let (m, md) = h.push_image("lib/app", "v1", "one").await;
    let a = h.get("/v2/lib/app/manifests/v1").await;
    assert_eq!((a.status, &a.body[..]), (200, &m[..]));
    assert_eq!(a.header("content-type"), Some(OCI_MANIFEST));
    assert_eq!(a.header("docker-content-digest"), Some(md.as_str()));
    let a = h
        .req(
            "HEAD",
            &format!("/v2/lib/app/manifests/{md}"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.header("content-length").unwrap(), m.len().to_string());

    // ?tag= on a push by digest
    let a = h
        .req(
            "PUT",
            &format!("/v2/lib/app/manifests/{md}?tag=a&tag=b"),
            &[("content-type", OCI_MANIFEST)],
            m.clone(),
        )
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("oci-tag"), Some("a, b"));
    // tags: order, n, last, Link, n=0
    for t in ["c", "B", "d"] {
        h.req(
            "PUT",
            &format!("/v2/lib/app/manifests/{t}"),
            &[("content-type", OCI_MANIFEST)],
            m.clone(),
        )
        .await;
    }
    let all = h.get("/v2/lib/app/tags/list").await.json();
    assert_eq!(
        all["tags"],
        serde_json::json!(["a", "B", "b", "c", "d", "v1"])
    );
    let a = h.get("/v2/lib/app/tags/list?n=2").await;
    assert_eq!(a.json()["tags"], serde_json::json!(["a", "B"]));
    assert_eq!(
        a.header("link"),
        Some("</v2/lib/app/tags/list?n=2&last=B>; rel=\"next\"")
    );
    let a = h.get("/v2/lib/app/tags/list?n=2&last=c").await;
    assert_eq!(a.json()["tags"], serde_json::json!(["d", "v1"]));
    assert!(a.header("link").is_none());
    let a = h.get("/v2/lib/app/tags/list?n=0").await;
    assert_eq!(a.json()["tags"], serde_json::json!([]));
    assert!(a.header("link").is_none());

    // referrers: OCI-Subject, derivation, filter, pagination
    let cfg = h.push_blob("lib/app", b"{}").await;
    let mut digests = vec![];
    for (i, at) in ["x/sig", "x/sbom", "x/sig"].iter().enumerate() {
        let r = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{at}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{cfg}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{md}","size":{}}},"annotations":{{"n":"{i}"}}}}"#,
            m.len()
        );
        let a = h
            .req(
                "PUT",
                &format!("/v2/lib/app/manifests/r{i}"),
                &[("content-type", OCI_MANIFEST)],
                r.clone(),
            )
            .await;
        assert_eq!(a.status, 201);
        assert_eq!(a.header("oci-subject"), Some(md.as_str()));
        digests.push(Digest::sha256(r.as_bytes()).to_string());
    }
    let a = h.get(&format!("/v2/lib/app/referrers/{md}")).await;
    assert_eq!(
        a.header("content-type"),
        Some("application/vnd.oci.image.index.v1+json")
    );
    assert_eq!(a.json()["manifests"].as_array().unwrap().len(), 2);
    let link = a.header("link").unwrap().to_string();
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let b = h.get(next).await.json();
    assert_eq!(b["manifests"].as_array().unwrap().len(), 1);
    let a = h
        .get(&format!("/v2/lib/app/referrers/{md}?artifactType=x/sbom"))
        .await;
    assert_eq!(a.header("oci-filters-applied"), Some("artifactType"));
    let v = a.json();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["artifactType"], "x/sbom");
    assert_eq!(v["manifests"][0]["annotations"]["n"], "1");
    // several artifactType values keep the referrers of any of them, page after page
    let a = h
        .get(&format!(
            "/v2/lib/app/referrers/{md}?artifactType=x/sbom&artifactType=x/sig"
        ))
        .await;
    assert_eq!(a.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(a.json()["manifests"].as_array().unwrap().len(), 2);
    let link = a.header("link").unwrap().to_string();
    assert!(
        link.contains("artifactType=x%2Fsbom&artifactType=x%2Fsig"),
        "{link}"
    );
    // deleting a referrer removes it from the list
    let a = h
        .req(
            "DELETE",
            &format!("/v2/lib/app/manifests/{}", digests[1]),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 202);
    let v = h
        .get(&format!("/v2/lib/app/referrers/{md}?artifactType=x/sbom"))
        .await
        .json();
    assert_eq!(v["manifests"], serde_json::json!([]));
    // unknown subject: an empty index, not 404
    let a = h
        .get(&format!(
            "/v2/nothing/here/referrers/{}",
            Digest::sha256(b"?")
        ))
        .await;
    assert_eq!(
        (a.status, a.json()["manifests"].clone()),
        (200, serde_json::json!([]))
    );

    // deleting the manifest takes its tags
    let a = h
        .req(
            "DELETE",
            &format!("/v2/lib/app/manifests/{md}"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(a.status, 202);
    assert_eq!(h.get("/v2/lib/app/manifests/v1").await.status, 404);
    assert_eq!(
        h.get(&format!("/v2/lib/app/manifests/{md}")).await.status,
        404
    );

    // catalog
    h.push_blob("lib/zz", b"z").await;
    let a = h.get("/v2/_catalog?n=1").await;
    assert_eq!(a.json()["repositories"], serde_json::json!(["lib/app"]));
    assert_eq!(
        a.header("link"),
        Some("</v2/_catalog?n=1&last=lib%2Fapp>; rel=\"next\"")
    );
    let a = h.get("/v2/_catalog?n=1&last=lib%2Fapp").await;
    assert_eq!(a.json()["repositories"], serde_json::json!(["lib/zz"]));
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_size_limit_and_media_types() {
    let reg = start(Config::default(), false).await;
    let h = Http::new(&reg.url);
    let cd = h.push_blob("m", b"{}").await;
    let mk = |mt: &str, pad: usize| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{mt}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{cd}","size":2}},"layers":[],"annotations":{{"p":"{}"}}}}"#,
            "x".repeat(pad)
        )
    };
    let docker = "application/vnd.docker.distribution.manifest.v2+json";
    let small = mk(docker, 0);
    let a = h
        .req(
            "PUT",
            "/v2/m/manifests/d",
            &[("content-type", docker)],
            small.clone(),
        )
        .await;
    assert_eq!(a.status, 201);
    let a = h.get("/v2/m/manifests/d").await;
    assert_eq!(a.header("content-type"), Some(docker));
    let sd = Digest::sha256(small.as_bytes()).to_string();
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{{"mediaType":"{docker}","digest":"{sd}","size":{}}}]}}"#,
        small.len()
    );
    let lt = "application/vnd.docker.distribution.manifest.list.v2+json";
    assert_eq!(
        h.req("PUT", "/v2/m/manifests/l", &[("content-type", lt)], list)
            .await
            .status,
        201
    );
    // 4 MiB exactly is accepted; one byte more is 413
    let base = mk(docker, 0).len();
    let at_limit = mk(docker, 4 * 1024 * 1024 - base);
    assert_eq!(at_limit.len(), 4 * 1024 * 1024);
    assert_eq!(
        h.req(
            "PUT",
            "/v2/m/manifests/big",
            &[("content-type", docker)],
            at_limit
        )
        .await
        .status,
        201
    );
    let over = mk(docker, 4 * 1024 * 1024 - base + 1);
    let a = h
        .req(
            "PUT",
            "/v2/m/manifests/big2",
            &[("content-type", docker)],
            over,
        )
        .await;
    assert_eq!(a.status, 413);
    // Content-Type and mediaType must agree
    let a = h
        .req(
            "PUT",
            "/v2/m/manifests/x",
            &[("content-type", OCI_MANIFEST)],
            mk(docker, 0),
        )
        .await;
    assert_eq!(
        (a.status, a.codes()),
        (400, vec!["MANIFEST_INVALID".to_string()])
    );
    // an index naming a manifest that is not there
    let idx = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":1}}]}}"#,
        Digest::sha256(b"missing")
    );
    let a = h
        .req(
            "PUT",
            "/v2/m/manifests/i",
            &[("content-type", "application/vnd.oci.image.index.v1+json")],
            idx,
        )
        .await;
    assert_eq!(a.codes(), vec!["MANIFEST_BLOB_UNKNOWN".to_string()]);
    reg.server.shutdown().await;
}

/// A chunk several buffers long, cut off by the client half-way: whatever of it reached
/// storage or the running hash is taken back, and the upload goes on as if it never came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_cut_off_half_way_leaves_the_upload_as_it_was() {
    use tokio::io::AsyncWriteExt;
    const MIB: usize = 1024 * 1024;
    let reg = start(Config::default(), true).await;
    let http = Http::new(&reg.url);
    let data: Vec<u8> = (0..5 * MIB).map(|i| (i * 7 % 251) as u8).collect();
    let r = http
        .req("POST", "/v2/cut/blobs/uploads/", &[], Bytes::new())
        .await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    let first = format!("0-{}", 3 * MIB - 1);
    let r = http
        .req(
            "PATCH",
            &loc,
            &[("content-range", &first)],
            data[..3 * MIB].to_vec(),
        )
        .await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();

    // announce 2 MiB more, send 1.5 MiB of other bytes, hang up
    let addr = reg.url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nContent-Range: {}-{}\r\n\r\n",
        2 * MIB,
        3 * MIB,
        5 * MIB - 1
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![0xEE; 3 * MIB / 2]).await.unwrap();
    s.flush().await.unwrap();
    drop(s);

    let want = format!("0-{}", 3 * MIB - 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = http.get(&loc).await;
        assert_eq!(r.status, 204);
        if r.header("range") == Some(want.as_str()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cut chunk was not taken back: {:?}",
            r.header("range")
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // the rest, then the close: the digest is the one of the accepted bytes only
    let rest = format!("{}-{}", 3 * MIB, 5 * MIB - 1);
    let r = http
        .req(
            "PATCH",
            &loc,
            &[("content-range", &rest)],
            data[3 * MIB..].to_vec(),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let loc = r.header("location").unwrap().to_string();
    let d = Digest::sha256(&data).to_string();
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = http
        .req("PUT", &format!("{loc}{sep}digest={d}"), &[], Bytes::new())
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = http.get(&format!("/v2/cut/blobs/{d}")).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body[..] == data[..],
        "the stored blob differs from what was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let s: std::sync::Arc<dyn regverify::server::storage::Storage> =
            std::sync::Arc::new(regverify::server::storage::FsStorage::open(dir.path()).unwrap());
        s
    };
    let data = vec![42u8; 50_000];
    let d = Digest::sha256(&data).to_string();
    let s1 = regverify::server::spawn(
        regverify::server::App::new(Config::default(), open()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let h = Http::new(&s1.url());
    let a = h
        .req("POST", "/v2/r/blobs/uploads/", &[], Bytes::new())
        .await;
    let loc = a.header("location").unwrap().to_string();
    h.req(
        "PATCH",
        &loc,
        &[("content-range", "0-19999")],
        data[..20_000].to_vec(),
    )
    .await;
    s1.shutdown().await;
    let s2 = regverify::server::spawn(
        regverify::server::App::new(Config::default(), open()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let h = Http::new(&s2.url());
    let a = h.get(&loc).await;
    assert_eq!((a.status, a.header("range")), (204, Some("0-19999")));
    h.req(
        "PATCH",
        &loc,
        &[("content-range", "20000-49999")],
        data[20_000..].to_vec(),
    )
    .await;
    // the running hash was lost with the restart: the close reads the upload back
    let a = h
        .req("PUT", &format!("{loc}?digest={d}"), &[], Bytes::new())
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(h.get(&format!("/v2/r/blobs/{d}")).await.body, data);
    s2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_of_one_blob_and_a_tag_moved_while_read() {
    let reg = start(Config::default(), true).await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i >> 3) as u8).collect();
    let mut tasks = vec![];
    for _ in 0..16 {
        let (url, data) = (reg.url.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            Http::new(&url).push_blob("same", &data).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(reg.storage.blobs().unwrap().len(), 1);
    let h = Http::new(&reg.url);
    assert_eq!(
        h.get(&format!("/v2/same/blobs/{}", Digest::sha256(&data)))
            .await
            .body,
        data
    );

    let (a, ad) = h.push_image("moving", "tag", "a").await;
    let (b, bd) = h.push_image("moving", "other", "b").await;
    let mover = {
        let url = reg.url.clone();
        let (a, b) = (a.clone(), b.clone());
        tokio::spawn(async move {
            let h = Http::new(&url);
            for i in 0..100 {
                let m = if i % 2 == 0 { b.clone() } else { a.clone() };
                let r = h
                    .req(
                        "PUT",
                        "/v2/moving/manifests/tag",
                        &[("content-type", OCI_MANIFEST)],
                        m,
                    )
                    .await;
                assert_eq!(r.status, 201);
            }
        })
    };
    for _ in 0..200 {
        let r = h.get("/v2/moving/manifests/tag").await;
        assert_eq!(r.status, 200);
        let d = r.header("docker-content-digest").unwrap();
        assert!(
            (d == ad && r.body[..] == a[..]) || (d == bd && r.body[..] == b[..]),
            "a read saw a mix of two manifests"
        );
    }
    mover.await.unwrap();
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_outside_the_storage_root() {
    let reg = start(Config::default(), true).await;
    let root = reg.dir.as_ref().unwrap().path().to_path_buf();
    let h = Http::new(&reg.url);
    for path in [
        "/v2/../../etc/tags/list",
        "/v2/a/%2e%2e/%2e%2e/tags/list",
        "/v2/a/blobs/sha256:..%2f..%2f..%2fetc%2fpasswd",
        "/v2/a/manifests/..%2f..%2fx",
        "/v2/a/blobs/uploads/..%2f..%2fx",
        "/v2/_a/tags/list",
    ] {
        let a = h.get(path).await;
        assert!((400..500).contains(&a.status), "{path}: {}", a.status);
        let a = h
            .req("PUT", path, &[("content-type", OCI_MANIFEST)], "{}")
            .await;
        assert!((400..500).contains(&a.status), "{path}: {}", a.status);
    }
    let parent = root.parent().unwrap();
    for e in std::fs::read_dir(parent).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !["x", "etc", "tags"].contains(&name.as_str()),
            "{name} appeared next to the root"
        );
    }
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_uploads_expire() {
    let reg = start(
        Config {
            upload_ttl: std::time::Duration::from_secs(1),
            ..Config::default()
        },
        true,
    )
    .await;
    let h = Http::new(&reg.url);
    let a = h
        .req("POST", "/v2/ttl/blobs/uploads/", &[], Bytes::new())
        .await;
    let loc = a.header("location").unwrap().to_string();
    assert_eq!(h.get(&loc).await.status, 204);
    let mut gone = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if h.get(&loc).await.status == 404 {
            gone = true;
            break;
        }
    }
    assert!(gone, "the abandoned upload is still there after 4 s");
    assert!(reg.storage.uploads().unwrap().is_empty());
    reg.server.shutdown().await;
}

/// The official v1.1.1 conformance suite reads the manifest `.INVALID_MANIFEST_NAME` and
/// expects 404 ("If the manifest is not found in the repository, the response code MUST be
/// 404"); pushing to such a reference is still refused as invalid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_tag_is_not_found_when_read_and_invalid_when_written() {
    let reg = start(Config::default(), false).await;
    let h = Http::new(&reg.url);
    let repo = "malformed/tag";
    h.push_image(repo, "v1", "malformed tag").await;
    let path = format!("/v2/{repo}/manifests/.INVALID_MANIFEST_NAME");
    let get = h.get(&path).await;
    assert_eq!(get.status, 404);
    assert_eq!(get.codes(), ["MANIFEST_UNKNOWN"]);
    let head = h.req("HEAD", &path, &[], Bytes::new()).await;
    assert_eq!(head.status, 404);
    let (body, _) = h.push_image(repo, "v2", "malformed tag").await;
    let put = h
        .req("PUT", &path, &[("content-type", OCI_MANIFEST)], body)
        .await;
    assert_eq!(put.status, 400);
    assert_eq!(put.codes(), ["MANIFEST_INVALID"]);
    reg.server.shutdown().await;
}

/// Shutting a TLS server down ends its accept loop, which lets go of the port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_lets_go_of_its_port_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let tls = regverify::server::tls::load(&cert_pem, &key_pem).unwrap();
    let app = regverify::server::App::new(
        Config::default(),
        std::sync::Arc::new(regverify::server::storage::MemStorage::new()),
    );
    let server = regverify::server::spawn_with(app, "127.0.0.1:0".parse().unwrap(), Some(tls))
        .await
        .unwrap();
    let addr = server.addr;
    assert!(
        std::net::TcpListener::bind(addr).is_err(),
        "the port is taken while serving"
    );
    server.shutdown().await;
    let mut freed = false;
    for _ in 0..100 {
        if std::net::TcpListener::bind(addr).is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(freed, "the port {addr} is still held after shutdown");
}
