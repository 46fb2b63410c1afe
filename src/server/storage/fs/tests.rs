//! Crash states of the filesystem storage, made by hand on disk.

use super::*;

/// The states a crash can leave a commit in, made by hand on disk: each must come back
/// either as the whole upload or as the committed blob, never as an upload without data.
#[test]
fn an_interrupted_commit_is_finished_on_open() {
    const ID: &str = "0123abcd-0000-4000-8000-00000000000b";
    let body = b"the upload's bytes";
    let digest = Digest::sha256(body);
    // how far the commit got before the crash
    #[derive(Clone, Copy, Debug)]
    enum CrashAfter {
        Record,
        Move,
        Link,
    }
    for at in [CrashAfter::Record, CrashAfter::Move, CrashAfter::Link] {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = FsStorage::open(dir.path()).unwrap();
            s.upload_create(ID, "r", Algorithm::Sha256).unwrap();
            s.upload_append(ID, body).unwrap();
            let up = s.upload_dir(ID).unwrap();
            s.write_atomic(&up.join(COMMIT), digest.to_string().as_bytes())
                .unwrap();
            if !matches!(at, CrashAfter::Record) {
                let target = s.blob_path(&digest);
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::rename(up.join("data"), &target).unwrap();
            }
            if matches!(at, CrashAfter::Link) {
                s.blob_link("r", &digest).unwrap();
            }
        }
        let s = FsStorage::open(dir.path()).unwrap();
        assert!(s.uploads().unwrap().is_empty(), "{at:?}: upload left");
        assert_eq!(s.upload_info(ID).unwrap(), None, "{at:?}");
        assert_eq!(
            s.blob_size("r", &digest).unwrap(),
            Some(body.len() as u64),
            "{at:?}: blob not committed"
        );
    }
}

/// A directory creation left without `info` was never an upload: it goes at open.
#[test]
fn a_half_created_upload_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir
        .path()
        .join("uploads/0123abcd-0000-4000-8000-00000000000c");
    fs::create_dir_all(&up).unwrap();
    File::create(up.join("data")).unwrap();
    let s = FsStorage::open(dir.path()).unwrap();
    assert!(s.uploads().unwrap().is_empty());
    assert!(!up.exists());
}
