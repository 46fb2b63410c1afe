//! One behavioural suite, run against every storage implementation.

use std::io::Read;

use serde_json::json;

use super::{BlobData, FsStorage, MemStorage, Storage};
use crate::oci::{Algorithm, Digest};

fn read_all(mut r: Box<dyn Read + Send>) -> Vec<u8> {
    let mut v = vec![];
    r.read_to_end(&mut v).unwrap();
    v
}

fn run(s: &dyn Storage) {
    let repo = "suite/repo";
    assert!(!s.repo_exists(repo).unwrap());
    assert_eq!(s.tags(repo).unwrap(), None);

    // uploads: append, truncate, read back, commit
    let id = "0123abcd-0000-4000-8000-000000000001";
    s.upload_create(id, repo, Algorithm::Sha256).unwrap();
    // an open upload does not make a repository
    assert!(!s.repo_exists(repo).unwrap());
    assert_eq!(s.repositories().unwrap(), Vec::<String>::new());
    assert_eq!(s.upload_info(id).unwrap().unwrap().size, 0);
    assert_eq!(s.upload_append(id, b"hello ").unwrap(), 6);
    assert_eq!(s.upload_append(id, b"world!!").unwrap(), 13);
    s.upload_truncate(id, 11).unwrap();
    let info = s.upload_info(id).unwrap().unwrap();
    assert_eq!((info.repo.as_str(), info.size), (repo, 11));
    assert_eq!(read_all(s.upload_read(id).unwrap()), b"hello world");
    assert_eq!(s.uploads().unwrap(), vec![id.to_string()]);
    let d = Digest::sha256(b"hello world");
    s.upload_commit(id, &d).unwrap();
    assert_eq!(s.upload_info(id).unwrap(), None);
    assert!(s.uploads().unwrap().is_empty());
    assert_eq!(s.blob_size(repo, &d).unwrap(), Some(11));
    match s.blob_open(repo, &d).unwrap().unwrap() {
        BlobData::File { mut file, size } => {
            let mut v = vec![];
            file.read_to_end(&mut v).unwrap();
            assert_eq!((v.as_slice(), size), (&b"hello world"[..], 11));
        }
        BlobData::Bytes(b) => assert_eq!(&b[..], b"hello world"),
    }
    assert_eq!(s.blobs().unwrap(), vec![d.clone()]);
    assert_eq!(
        read_all(s.blob_read_global(&d).unwrap().unwrap()),
        b"hello world"
    );

    // the same content committed again is stored once
    let id2 = "0123abcd-0000-4000-8000-000000000002";
    s.upload_create(id2, "other", Algorithm::Sha256).unwrap();
    s.upload_append(id2, b"hello world").unwrap();
    s.upload_commit(id2, &d).unwrap();
    assert_eq!(s.blobs().unwrap().len(), 1);

    // links are per repository
    assert_eq!(s.blob_size("unlinked", &d).unwrap(), None);
    assert!(s.blob_link("mounted", &d).unwrap());
    assert!(!s.blob_link("mounted", &Digest::sha256(b"absent")).unwrap());
    assert!(s.blob_unlink("mounted", &d).unwrap());
    assert!(!s.blob_unlink("mounted", &d).unwrap());
    assert!(s.blob_open("mounted", &d).unwrap().is_none());

    // idle uploads expire; busy ones stay
    let id4 = "0123abcd-0000-4000-8000-000000000004";
    s.upload_create(id4, repo, Algorithm::Sha256).unwrap();
    assert_eq!(
        s.expire_uploads(std::time::Duration::from_secs(3600))
            .unwrap(),
        0
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(
        s.expire_uploads(std::time::Duration::from_millis(5))
            .unwrap(),
        1
    );
    assert_eq!(s.upload_info(id4).unwrap(), None);

    // cancelled uploads disappear
    let id3 = "0123abcd-0000-4000-8000-000000000003";
    s.upload_create(id3, repo, Algorithm::Sha512).unwrap();
    assert_eq!(
        s.upload_info(id3).unwrap().unwrap().algorithm,
        Algorithm::Sha512
    );
    assert!(s.upload_delete(id3).unwrap());
    assert!(!s.upload_delete(id3).unwrap());
    assert_eq!(s.upload_info("not-an-upload").unwrap(), None);

    // manifests and tags
    let body = br#"{"schemaVersion":2}"#;
    let md = Digest::sha256(body);
    s.manifest_put(repo, &md, "application/x-test", body)
        .unwrap();
    let (mt, got) = s.manifest_get(repo, &md).unwrap().unwrap();
    assert_eq!((mt.as_str(), &got[..]), ("application/x-test", &body[..]));
    assert!(s.manifest_get("other", &md).unwrap().is_none());
    s.tag_put(repo, "b", &md).unwrap();
    s.tag_put(repo, "a", &md).unwrap();
    let mut tags = s.tags(repo).unwrap().unwrap();
    tags.sort();
    assert_eq!(tags, vec!["a", "b"]);
    assert_eq!(s.tag_get(repo, "a").unwrap(), Some(md.clone()));
    s.tag_put(repo, "B2", &md).unwrap();
    // pages in lexical order, cut after `last`; the index follows every write
    let page = s.tags_page(repo, None, Some(2)).unwrap().unwrap();
    assert_eq!(
        (page.names, page.more),
        (vec!["a".into(), "b".into()], true)
    );
    let page = s.tags_page(repo, Some("b"), Some(2)).unwrap().unwrap();
    assert_eq!((page.names, page.more), (vec!["B2".to_string()], false));
    assert_eq!(s.tags_page("nope/nope", None, None).unwrap(), None);
    assert_eq!(s.tags_pointing_at(repo, &md).unwrap(), vec!["B2", "a", "b"]);
    assert!(s.tag_delete(repo, "B2").unwrap());
    s.tag_put(repo, "a", &d).unwrap();
    assert_eq!(s.tags_pointing_at(repo, &md).unwrap(), vec!["b"]);
    assert_eq!(s.tags_pointing_at(repo, &d).unwrap(), vec!["a"]);
    assert_eq!(s.tag_get(repo, "a").unwrap(), Some(d.clone()));
    assert!(s.tag_delete(repo, "a").unwrap());
    assert!(!s.tag_delete(repo, "a").unwrap());
    assert!(s.manifest_delete(repo, &md).unwrap());
    assert!(s.manifest_get(repo, &md).unwrap().is_none());

    // referrers
    let r1 = Digest::sha256(b"r1");
    let r2 = Digest::sha256(b"r2");
    s.referrer_put(repo, &md, &r1, &json!({"digest": r1.to_string()}))
        .unwrap();
    s.referrer_put(repo, &md, &r2, &json!({"digest": r2.to_string()}))
        .unwrap();
    s.referrer_put(repo, &md, &r2, &json!({"digest": r2.to_string()}))
        .unwrap();
    assert_eq!(s.referrers(repo, &md).unwrap().len(), 2);
    s.referrer_delete(repo, &md, &r1).unwrap();
    assert_eq!(
        s.referrers(repo, &md).unwrap(),
        vec![json!({"digest": r2.to_string()})]
    );
    assert!(s.referrers("other", &r1).unwrap().is_empty());

    let repos = s.repositories().unwrap();
    for r in [repo, "other", "mounted"] {
        assert!(repos.contains(&r.to_string()), "{r} missing from {repos:?}");
    }
    let all = s.repositories_page(None, None).unwrap();
    assert_eq!(all.names, repos);
    let first = s.repositories_page(None, Some(1)).unwrap();
    assert_eq!((first.names.len(), first.more), (1, true));
    let rest = s.repositories_page(Some(&first.names[0]), None).unwrap();
    assert_eq!(rest.names, repos[1..]);
}

#[test]
fn memory_storage_passes_the_suite() {
    run(&MemStorage::new());
}

#[test]
fn filesystem_storage_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    run(&FsStorage::open(dir.path()).unwrap());
}

#[test]
fn filesystem_uploads_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let id = "0123abcd-0000-4000-8000-00000000000a";
    {
        let s = FsStorage::open(dir.path()).unwrap();
        s.upload_create(id, "r", Algorithm::Sha256).unwrap();
        s.upload_append(id, b"abc").unwrap();
    }
    let s = FsStorage::open(dir.path()).unwrap();
    assert_eq!(s.upload_info(id).unwrap().unwrap().size, 3);
}

#[test]
fn filesystem_rejects_escaping_names() {
    let dir = tempfile::tempdir().unwrap();
    let s = FsStorage::open(dir.path()).unwrap();
    let d = Digest::sha256(b"x");
    assert!(s.tag_put("../escape", "t", &d).is_err());
    assert!(s.tag_put("ok", "../../t", &d).is_err());
    assert_eq!(s.upload_info("../../etc").unwrap(), None);
}
