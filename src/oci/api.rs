//! The endpoint table (`#endpoints`): every route of the API, its method, path, spec id,
//! success statuses and the error codes it may answer. The server's router dispatches on
//! [`Endpoint`], the runner and the coverage matrix name routes by [`Endpoint::spec_id`].

use super::errors::ErrorCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// end-1: API version check.
    Base,
    /// end-2: GET / HEAD a blob.
    BlobGet,
    /// end-3: GET / HEAD a manifest.
    ManifestGet,
    /// end-4a/4b/4c/11: POST to start an upload, push in one POST, or mount.
    UploadStart,
    /// end-5: PATCH a chunk.
    UploadChunk,
    /// end-6: PUT to close an upload.
    UploadClose,
    /// end-7: PUT a manifest.
    ManifestPut,
    /// end-8a/8b: list tags.
    TagsList,
    /// end-9: DELETE a manifest or tag.
    ManifestDelete,
    /// end-10: DELETE a blob.
    BlobDelete,
    /// end-12a/12b: list referrers.
    Referrers,
    /// end-13: upload status.
    UploadStatus,
    /// end-14 (spec main): cancel an upload.
    UploadCancel,
    /// distribution's catalog extension.
    Catalog,
}

/// One row of the endpoint table.
pub struct Route {
    pub endpoint: Endpoint,
    pub spec_id: &'static str,
    pub methods: &'static [&'static str],
    pub path: &'static str,
    pub success: &'static [u16],
    pub errors: &'static [ErrorCode],
    pub summary: &'static str,
}

use ErrorCode as E;

pub const ROUTES: &[Route] = &[
    Route {
        endpoint: Endpoint::Base,
        spec_id: "end-1",
        methods: &["GET", "HEAD"],
        path: "/v2/",
        success: &[200],
        errors: &[E::Unauthorized],
        summary: "API version check",
    },
    Route {
        endpoint: Endpoint::BlobGet,
        spec_id: "end-2",
        methods: &["GET", "HEAD"],
        path: "/v2/<name>/blobs/<digest>",
        success: &[200, 206],
        errors: &[E::BlobUnknown, E::DigestInvalid, E::NameInvalid],
        summary: "fetch a blob, whole or by Range",
    },
    Route {
        endpoint: Endpoint::ManifestGet,
        spec_id: "end-3",
        methods: &["GET", "HEAD"],
        path: "/v2/<name>/manifests/<reference>",
        success: &[200],
        errors: &[
            E::ManifestUnknown,
            E::NameUnknown,
            E::NameInvalid,
            E::ManifestInvalid,
        ],
        summary: "fetch a manifest by tag or digest",
    },
    Route {
        endpoint: Endpoint::UploadStart,
        spec_id: "end-4a",
        methods: &["POST"],
        path: "/v2/<name>/blobs/uploads/[?digest=|?digest-algorithm=|?mount=&from=]",
        success: &[201, 202],
        errors: &[E::DigestInvalid, E::NameInvalid, E::SizeInvalid],
        summary: "start an upload session (end-4a/4c), push in one POST (end-4b), mount (end-11)",
    },
    Route {
        endpoint: Endpoint::UploadChunk,
        spec_id: "end-5",
        methods: &["PATCH"],
        path: "/v2/<name>/blobs/uploads/<reference>",
        success: &[202],
        errors: &[E::BlobUploadUnknown, E::BlobUploadInvalid, E::NameInvalid],
        summary: "append a chunk (416 when out of order)",
    },
    Route {
        endpoint: Endpoint::UploadClose,
        spec_id: "end-6",
        methods: &["PUT"],
        path: "/v2/<name>/blobs/uploads/<reference>?digest=<digest>",
        success: &[201],
        errors: &[
            E::BlobUploadUnknown,
            E::BlobUploadInvalid,
            E::DigestInvalid,
            E::NameInvalid,
        ],
        summary: "close an upload, optionally with a last chunk",
    },
    Route {
        endpoint: Endpoint::ManifestPut,
        spec_id: "end-7",
        methods: &["PUT"],
        path: "/v2/<name>/manifests/<reference>[?tag=…]",
        success: &[201],
        errors: &[
            E::ManifestInvalid,
            E::ManifestBlobUnknown,
            E::DigestInvalid,
            E::NameInvalid,
            E::SizeInvalid,
        ],
        summary: "push a manifest by tag or digest",
    },
    Route {
        endpoint: Endpoint::TagsList,
        spec_id: "end-8a",
        methods: &["GET"],
        path: "/v2/<name>/tags/list[?n=<int>&last=<tag>]",
        success: &[200],
        errors: &[E::NameUnknown, E::NameInvalid, E::PaginationNumberInvalid],
        summary: "list tags, paginated (end-8b)",
    },
    Route {
        endpoint: Endpoint::ManifestDelete,
        spec_id: "end-9",
        methods: &["DELETE"],
        path: "/v2/<name>/manifests/<reference>",
        success: &[202],
        errors: &[
            E::ManifestUnknown,
            E::NameUnknown,
            E::NameInvalid,
            E::Unsupported,
        ],
        summary: "delete a manifest (by digest) or a tag",
    },
    Route {
        endpoint: Endpoint::BlobDelete,
        spec_id: "end-10",
        methods: &["DELETE"],
        path: "/v2/<name>/blobs/<digest>",
        success: &[202],
        errors: &[
            E::BlobUnknown,
            E::DigestInvalid,
            E::NameInvalid,
            E::Unsupported,
        ],
        summary: "delete a blob",
    },
    Route {
        endpoint: Endpoint::Referrers,
        spec_id: "end-12a",
        methods: &["GET"],
        path: "/v2/<name>/referrers/<digest>[?artifactType=]",
        success: &[200],
        errors: &[E::DigestInvalid, E::NameInvalid],
        summary: "list the manifests whose subject is <digest> (filtered: end-12b)",
    },
    Route {
        endpoint: Endpoint::UploadStatus,
        spec_id: "end-13",
        methods: &["GET"],
        path: "/v2/<name>/blobs/uploads/<reference>",
        success: &[204],
        errors: &[E::BlobUploadUnknown, E::NameInvalid],
        summary: "upload progress",
    },
    Route {
        endpoint: Endpoint::UploadCancel,
        spec_id: "end-14",
        methods: &["DELETE"],
        path: "/v2/<name>/blobs/uploads/<reference>",
        success: &[204],
        errors: &[E::BlobUploadUnknown, E::NameInvalid],
        summary: "cancel an upload (spec main)",
    },
    Route {
        endpoint: Endpoint::Catalog,
        spec_id: "catalog",
        methods: &["GET"],
        path: "/v2/_catalog[?n=<int>&last=<name>]",
        success: &[200],
        errors: &[E::PaginationNumberInvalid],
        summary: "list repositories (distribution's extension)",
    },
];

impl Endpoint {
    pub fn route(self) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.endpoint == self)
            .expect("every endpoint has a row in ROUTES")
    }
    pub fn spec_id(self) -> &'static str {
        self.route().spec_id
    }
}

/// The resource a `/v2/…` path designates, before the method is considered. Repository names
/// contain `/`, so paths are parsed from the right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Base,
    Catalog,
    Blob { name: &'a str, digest: &'a str },
    Uploads { name: &'a str },
    Upload { name: &'a str, id: &'a str },
    Manifest { name: &'a str, reference: &'a str },
    Tags { name: &'a str },
    Referrers { name: &'a str, digest: &'a str },
}

impl<'a> Target<'a> {
    pub fn parse(path: &'a str) -> Option<Target<'a>> {
        let rest = path.strip_prefix("/v2")?;
        if rest.is_empty() || rest == "/" {
            return Some(Target::Base);
        }
        let rest = rest.strip_prefix('/')?;
        if rest == "_catalog" {
            return Some(Target::Catalog);
        }
        // split off up to the last three segments; whatever precedes is the name
        let mut parts = rest.rsplitn(4, '/');
        let last = parts.next()?;
        let second = parts.next();
        let third = parts.next();
        let name_before = |n: usize| -> Option<&'a str> {
            // name = everything before the last n segments
            let cut = rest
                .char_indices()
                .filter(|&(_, c)| c == '/')
                .map(|(i, _)| i)
                .collect::<Vec<_>>();
            let idx = *cut.get(cut.len().checked_sub(n)?)?;
            Some(&rest[..idx])
        };
        match (third, second, last) {
            (Some("blobs"), Some("uploads"), id) => {
                let name = name_before(3)?;
                if name.is_empty() {
                    return None;
                }
                if id.is_empty() {
                    Some(Target::Uploads { name })
                } else {
                    Some(Target::Upload { name, id })
                }
            }
            (_, Some("tags"), "list") => Some(Target::Tags {
                name: nonempty(name_before(2)?)?,
            }),
            (_, Some("blobs"), "uploads") => Some(Target::Uploads {
                name: nonempty(name_before(2)?)?,
            }),
            (_, Some("manifests"), reference) => Some(Target::Manifest {
                name: nonempty(name_before(2)?)?,
                reference,
            }),
            (_, Some("blobs"), digest) => Some(Target::Blob {
                name: nonempty(name_before(2)?)?,
                digest,
            }),
            (_, Some("referrers"), digest) => Some(Target::Referrers {
                name: nonempty(name_before(2)?)?,
                digest,
            }),
            _ => None,
        }
    }

    pub fn name(&self) -> Option<&'a str> {
        match *self {
            Target::Base | Target::Catalog => None,
            Target::Blob { name, .. }
            | Target::Uploads { name }
            | Target::Upload { name, .. }
            | Target::Manifest { name, .. }
            | Target::Tags { name }
            | Target::Referrers { name, .. } => Some(name),
        }
    }

    /// The endpoint a method on this resource reaches; `None` means 405.
    pub fn endpoint(&self, method: &str) -> Option<Endpoint> {
        use Endpoint::*;
        Some(match (self, method) {
            (Target::Base, "GET" | "HEAD") => Base,
            (Target::Catalog, "GET") => Catalog,
            (Target::Blob { .. }, "GET" | "HEAD") => BlobGet,
            (Target::Blob { .. }, "DELETE") => BlobDelete,
            (Target::Uploads { .. }, "POST") => UploadStart,
            (Target::Upload { .. }, "PATCH") => UploadChunk,
            (Target::Upload { .. }, "PUT") => UploadClose,
            (Target::Upload { .. }, "GET") => UploadStatus,
            (Target::Upload { .. }, "DELETE") => UploadCancel,
            (Target::Manifest { .. }, "GET" | "HEAD") => ManifestGet,
            (Target::Manifest { .. }, "PUT") => ManifestPut,
            (Target::Manifest { .. }, "DELETE") => ManifestDelete,
            (Target::Tags { .. }, "GET") => TagsList,
            (Target::Referrers { .. }, "GET") => Referrers,
            _ => return None,
        })
    }

    /// Methods allowed on this resource, for the `Allow` header of a 405.
    pub fn allowed(&self) -> &'static str {
        match self {
            Target::Base => "GET, HEAD",
            Target::Manifest { .. } => "GET, HEAD, PUT, DELETE",
            Target::Catalog | Target::Tags { .. } | Target::Referrers { .. } => "GET",
            Target::Blob { .. } => "GET, HEAD, DELETE",
            Target::Uploads { .. } => "POST",
            Target::Upload { .. } => "GET, PATCH, PUT, DELETE",
        }
    }
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_from_the_right() {
        assert_eq!(Target::parse("/v2/"), Some(Target::Base));
        assert_eq!(Target::parse("/v2"), Some(Target::Base));
        assert_eq!(Target::parse("/v2/_catalog"), Some(Target::Catalog));
        assert_eq!(
            Target::parse("/v2/a/b/blobs/uploads/"),
            Some(Target::Uploads { name: "a/b" })
        );
        assert_eq!(
            Target::parse("/v2/a/blobs/uploads"),
            Some(Target::Uploads { name: "a" })
        );
        assert_eq!(
            Target::parse("/v2/a/blobs/uploads/xyz"),
            Some(Target::Upload {
                name: "a",
                id: "xyz"
            })
        );
        assert_eq!(
            Target::parse("/v2/blobs/blobs/sha256:x"),
            Some(Target::Blob {
                name: "blobs",
                digest: "sha256:x"
            })
        );
        assert_eq!(
            Target::parse("/v2/x/manifests/manifests/latest"),
            Some(Target::Manifest {
                name: "x/manifests",
                reference: "latest"
            })
        );
        assert_eq!(
            Target::parse("/v2/x/y/tags/list"),
            Some(Target::Tags { name: "x/y" })
        );
        assert_eq!(
            Target::parse("/v2/x/referrers/sha256:a"),
            Some(Target::Referrers {
                name: "x",
                digest: "sha256:a"
            })
        );
        assert_eq!(Target::parse("/v2/manifests/latest"), None);
        assert_eq!(Target::parse("/v3/"), None);
        assert_eq!(Target::parse("/v2/x/nothing/here"), None);
    }

    #[test]
    fn every_endpoint_has_one_row() {
        for r in ROUTES {
            assert_eq!(
                ROUTES.iter().filter(|o| o.endpoint == r.endpoint).count(),
                1
            );
        }
    }
}
