//! Storage: one trait, a filesystem and a memory implementation, and one test suite
//! (`suite`) that both must pass.
//!
//! The trait is synchronous: the filesystem implementation does blocking I/O, and handlers
//! call it through `tokio::task::spawn_blocking`. Blob content is global and
//! content-addressed; repositories hold links to it, so the same blob pushed to two
//! repositories (or twice, concurrently) is stored once.

use std::io::{self, Read};

use bytes::Bytes;
use serde_json::Value;

use crate::oci::{Algorithm, Digest};

pub mod fs;
pub mod index;
pub mod mem;
#[cfg(test)]
mod suite;

pub use fs::FsStorage;
pub use index::Page;
pub use mem::MemStorage;

/// An upload session as storage remembers it (it survives a restart on the filesystem).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadInfo {
    pub repo: String,
    pub size: u64,
    pub algorithm: Algorithm,
}

/// Blob content ready to stream out.
pub enum BlobData {
    File { file: std::fs::File, size: u64 },
    Bytes(Bytes),
}

impl BlobData {
    pub fn size(&self) -> u64 {
        match self {
            BlobData::File { size, .. } => *size,
            BlobData::Bytes(b) => b.len() as u64,
        }
    }
}

pub trait Storage: Send + Sync + 'static {
    // --- uploads -------------------------------------------------------------------------
    fn upload_create(&self, id: &str, repo: &str, algorithm: Algorithm) -> io::Result<()>;
    fn upload_info(&self, id: &str) -> io::Result<Option<UploadInfo>>;
    /// Appends at the end; returns the new size.
    fn upload_append(&self, id: &str, data: &[u8]) -> io::Result<u64>;
    /// Drops everything past `size` (rolls back a rejected or interrupted chunk).
    fn upload_truncate(&self, id: &str, size: u64) -> io::Result<()>;
    fn upload_read(&self, id: &str) -> io::Result<Box<dyn Read + Send>>;
    /// Makes the upload's content the blob `digest` (the caller has verified it) and links it
    /// into the upload's repository; the upload is gone afterwards.
    fn upload_commit(&self, id: &str, digest: &Digest) -> io::Result<()>;
    fn upload_delete(&self, id: &str) -> io::Result<bool>;
    fn uploads(&self) -> io::Result<Vec<String>>;
    /// Cancels uploads untouched for longer than `idle`; returns how many.
    fn expire_uploads(&self, idle: std::time::Duration) -> io::Result<usize>;

    // --- blobs ---------------------------------------------------------------------------
    /// Size of a blob linked into `repo`.
    fn blob_size(&self, repo: &str, digest: &Digest) -> io::Result<Option<u64>>;
    fn blob_open(&self, repo: &str, digest: &Digest) -> io::Result<Option<BlobData>>;
    /// Links existing content into `repo`; false when the content does not exist.
    fn blob_link(&self, repo: &str, digest: &Digest) -> io::Result<bool>;
    fn blob_unlink(&self, repo: &str, digest: &Digest) -> io::Result<bool>;
    /// Every blob in the global content store (for verification after a crash).
    fn blobs(&self) -> io::Result<Vec<Digest>>;
    /// Reads a blob from the global store, whatever repository links it.
    fn blob_read_global(&self, digest: &Digest) -> io::Result<Option<Box<dyn Read + Send>>>;

    // --- manifests and tags --------------------------------------------------------------
    fn manifest_put(
        &self,
        repo: &str,
        digest: &Digest,
        media_type: &str,
        body: &[u8],
    ) -> io::Result<()>;
    fn manifest_get(&self, repo: &str, digest: &Digest) -> io::Result<Option<(String, Bytes)>>;
    fn manifest_delete(&self, repo: &str, digest: &Digest) -> io::Result<bool>;
    fn tag_get(&self, repo: &str, tag: &str) -> io::Result<Option<Digest>>;
    fn tag_put(&self, repo: &str, tag: &str, digest: &Digest) -> io::Result<()>;
    fn tag_delete(&self, repo: &str, tag: &str) -> io::Result<bool>;
    /// Tags of `repo` in no particular order; `None` when the repository is unknown.
    fn tags(&self, repo: &str) -> io::Result<Option<Vec<String>>>;
    /// Up to `n` tags of `repo` after `after`, in lexical order, at the cost of the page;
    /// `None` when the repository is unknown.
    fn tags_page(
        &self,
        repo: &str,
        after: Option<&str>,
        n: Option<usize>,
    ) -> io::Result<Option<Page>>;
    /// Tags of `repo` pointing at `digest`, without reading the others.
    fn tags_pointing_at(&self, repo: &str, digest: &Digest) -> io::Result<Vec<String>>;

    // --- referrers -----------------------------------------------------------------------
    fn referrer_put(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()>;
    fn referrer_delete(&self, repo: &str, subject: &Digest, referrer: &Digest) -> io::Result<()>;
    fn referrers(&self, repo: &str, subject: &Digest) -> io::Result<Vec<Value>>;

    // --- repositories --------------------------------------------------------------------
    fn repo_exists(&self, repo: &str) -> io::Result<bool>;
    fn repositories(&self) -> io::Result<Vec<String>>;
    /// Up to `n` repositories after `after`, in lexical order, at the cost of the page.
    fn repositories_page(&self, after: Option<&str>, n: Option<usize>) -> io::Result<Page>;
}
