//! The operations an exploration sends, as values: what each does, how it reads in a
//! finding, whether it changes what the registry holds.

use bytes::Bytes;

use super::model::RepoId;
use crate::oci::{Algorithm, Digest};

/// How a blob goes up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upload {
    /// POST with the digest and the body: one request (a registry may open a session instead).
    Single,
    /// POST, then PUT with the body.
    Monolithic,
    /// POST, PATCHes with Content-Range, then an empty PUT.
    Chunked(usize),
    /// POST, one PATCH without Content-Range, then an empty PUT.
    Streamed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    Tag(String),
    Digest(Digest),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => write!(f, "{d}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    PushBlob {
        repo: RepoId,
        data: Bytes,
        upload: Upload,
        algorithm: Algorithm,
    },
    GetBlob {
        repo: RepoId,
        digest: Digest,
        head: bool,
        /// First and last byte, inclusive.
        range: Option<(u64, u64)>,
    },
    DeleteBlob {
        repo: RepoId,
        digest: Digest,
    },
    Mount {
        from: RepoId,
        to: RepoId,
        digest: Digest,
    },
    PushManifest {
        repo: RepoId,
        media_type: &'static str,
        body: Bytes,
        reference: Reference,
    },
    GetManifest {
        repo: RepoId,
        reference: Reference,
        head: bool,
    },
    DeleteManifest {
        repo: RepoId,
        digest: Digest,
    },
    DeleteTag {
        repo: RepoId,
        tag: String,
    },
    /// Walks the tags list to its end, `n` a page.
    ListTags {
        repo: RepoId,
        n: Option<usize>,
        last: Option<String>,
    },
    Catalog {
        n: Option<usize>,
    },
    Referrers {
        repo: RepoId,
        subject: Digest,
        artifact_type: Option<String>,
    },
    /// Opens an upload, maybe sends a chunk, and cancels it.
    CancelUpload {
        repo: RepoId,
        chunk: Option<Bytes>,
    },
}

impl Op {
    /// One line naming the operation, for reports.
    pub fn describe(&self) -> String {
        match self {
            Op::PushBlob {
                repo,
                data,
                upload,
                algorithm,
            } => format!(
                "push blob {} ({} bytes, {upload:?}) to r{repo}",
                Digest::of(*algorithm, data),
                data.len()
            ),
            Op::GetBlob {
                repo,
                digest,
                head,
                range,
            } => format!(
                "{} blob {digest} from r{repo}{}",
                if *head { "HEAD" } else { "GET" },
                range
                    .map(|(a, b)| format!(" bytes={a}-{b}"))
                    .unwrap_or_default()
            ),
            Op::DeleteBlob { repo, digest } => format!("delete blob {digest} from r{repo}"),
            Op::Mount { from, to, digest } => format!("mount {digest} from r{from} into r{to}"),
            Op::PushManifest {
                repo,
                body,
                reference,
                ..
            } => format!(
                "push manifest {} to r{repo} as {reference}",
                Digest::sha256(body)
            ),
            Op::GetManifest {
                repo,
                reference,
                head,
            } => format!(
                "{} manifest {reference} from r{repo}",
                if *head { "HEAD" } else { "GET" }
            ),
            Op::DeleteManifest { repo, digest } => format!("delete manifest {digest} from r{repo}"),
            Op::DeleteTag { repo, tag } => format!("delete tag {tag} from r{repo}"),
            Op::ListTags { repo, n, last } => format!(
                "list tags of r{repo} (n={}, last={})",
                n.map(|n| n.to_string()).unwrap_or("-".into()),
                last.as_deref().unwrap_or("-")
            ),
            Op::Catalog { n } => format!(
                "list the catalog (n={})",
                n.map(|n| n.to_string()).unwrap_or("-".into())
            ),
            Op::Referrers {
                repo,
                subject,
                artifact_type,
            } => format!(
                "list referrers of {subject} in r{repo}{}",
                artifact_type
                    .as_deref()
                    .map(|a| format!(" (artifactType={a})"))
                    .unwrap_or_default()
            ),
            Op::CancelUpload { repo, chunk } => format!(
                "cancel an upload to r{repo}{}",
                if chunk.is_some() {
                    " after a chunk"
                } else {
                    ""
                }
            ),
        }
    }

    /// Whether the operation changes what the registry holds (reads are not).
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Op::GetBlob { .. }
                | Op::GetManifest { .. }
                | Op::ListTags { .. }
                | Op::Catalog { .. }
                | Op::Referrers { .. }
                | Op::CancelUpload { .. }
        )
    }

    /// The repositories the operation reads or changes; a catalog walk sees them all.
    pub fn touches(&self, repo: RepoId) -> bool {
        match self {
            Op::PushBlob { repo: r, .. }
            | Op::GetBlob { repo: r, .. }
            | Op::DeleteBlob { repo: r, .. }
            | Op::PushManifest { repo: r, .. }
            | Op::GetManifest { repo: r, .. }
            | Op::DeleteManifest { repo: r, .. }
            | Op::DeleteTag { repo: r, .. }
            | Op::ListTags { repo: r, .. }
            | Op::Referrers { repo: r, .. }
            | Op::CancelUpload { repo: r, .. } => *r == repo,
            Op::Mount { from, to, .. } => *from == repo || *to == repo,
            Op::Catalog { .. } => true,
        }
    }
}
