//! The endpoint table (`#endpoints`): every route of the API, its method, path, spec id,
//! success statuses and the error codes it may answer. The server's router dispatches on
//! [`Endpoint`], requirements name routes by spec id ([`route_by_spec_id`]).

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

/// The methods of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The method of a request line; `None` for one the API never uses.
    pub fn parse(s: &str) -> Option<Method> {
        [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// What a `/v2/…` path designates, whatever the method: the column the table's path
/// patterns fall into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    Base,
    Catalog,
    Blob,
    Uploads,
    Upload,
    Manifest,
    Tags,
    Referrers,
}

/// One row of the endpoint table.
pub struct Route {
    pub endpoint: Endpoint,
    /// The spec's ids for this row (`end-N`), the first being the main one; several rows of
    /// the spec's table that differ only in query parameters share one route here.
    pub spec_ids: &'static [&'static str],
    pub resource: Resource,
    pub methods: &'static [Method],
    pub path: &'static str,
    pub success: &'static [u16],
    pub errors: &'static [ErrorCode],
    pub summary: &'static str,
}

use ErrorCode as E;
use Method as M;

pub const ROUTES: &[Route] = &[
    Route {
        endpoint: Endpoint::Base,
        spec_ids: &["end-1"],
        resource: Resource::Base,
        methods: &[M::Get, M::Head],
        path: "/v2/",
        success: &[200],
        errors: &[E::Unauthorized],
        summary: "API version check",
    },
    Route {
        endpoint: Endpoint::BlobGet,
        spec_ids: &["end-2"],
        resource: Resource::Blob,
        methods: &[M::Get, M::Head],
        path: "/v2/<name>/blobs/<digest>",
        success: &[200, 206],
        errors: &[E::BlobUnknown, E::DigestInvalid, E::NameInvalid],
        summary: "fetch a blob, whole or by Range",
    },
    Route {
        endpoint: Endpoint::ManifestGet,
        spec_ids: &["end-3"],
        resource: Resource::Manifest,
        methods: &[M::Get, M::Head],
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
        spec_ids: &["end-4a", "end-4b", "end-4c", "end-11"],
        resource: Resource::Uploads,
        methods: &[M::Post],
        path: "/v2/<name>/blobs/uploads/[?digest=|?digest-algorithm=|?mount=&from=]",
        success: &[201, 202],
        errors: &[E::DigestInvalid, E::NameInvalid, E::SizeInvalid],
        summary: "start an upload session (end-4a/4c), push in one POST (end-4b), mount (end-11)",
    },
    Route {
        endpoint: Endpoint::UploadChunk,
        spec_ids: &["end-5"],
        resource: Resource::Upload,
        methods: &[M::Patch],
        path: "/v2/<name>/blobs/uploads/<reference>",
        success: &[202],
        errors: &[E::BlobUploadUnknown, E::BlobUploadInvalid, E::NameInvalid],
        summary: "append a chunk (416 when out of order)",
    },
    Route {
        endpoint: Endpoint::UploadClose,
        spec_ids: &["end-6"],
        resource: Resource::Upload,
        methods: &[M::Put],
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
        spec_ids: &["end-7", "end-7a", "end-7b"],
        resource: Resource::Manifest,
        methods: &[M::Put],
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
        spec_ids: &["end-8a", "end-8b"],
        resource: Resource::Tags,
        methods: &[M::Get],
        path: "/v2/<name>/tags/list[?n=<int>&last=<tag>]",
        success: &[200],
        errors: &[E::NameUnknown, E::NameInvalid, E::Unsupported],
        summary: "list tags, paginated (end-8b)",
    },
    Route {
        endpoint: Endpoint::ManifestDelete,
        spec_ids: &["end-9"],
        resource: Resource::Manifest,
        methods: &[M::Delete],
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
        spec_ids: &["end-10"],
        resource: Resource::Blob,
        methods: &[M::Delete],
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
        spec_ids: &["end-12a", "end-12b"],
        resource: Resource::Referrers,
        methods: &[M::Get],
        path: "/v2/<name>/referrers/<digest>[?artifactType=]",
        success: &[200],
        errors: &[E::DigestInvalid, E::NameInvalid],
        summary: "list the manifests whose subject is <digest> (filtered: end-12b)",
    },
    Route {
        endpoint: Endpoint::UploadStatus,
        spec_ids: &["end-13"],
        resource: Resource::Upload,
        methods: &[M::Get],
        path: "/v2/<name>/blobs/uploads/<reference>",
        success: &[204],
        errors: &[E::BlobUploadUnknown, E::NameInvalid],
        summary: "upload progress",
    },
    Route {
        endpoint: Endpoint::UploadCancel,
        spec_ids: &["end-14"],
        resource: Resource::Upload,
        methods: &[M::Delete],
        path: "/v2/<name>/blobs/uploads/<reference>",
        success: &[204],
        errors: &[E::BlobUploadUnknown, E::NameInvalid],
        summary: "cancel an upload (spec main)",
    },
    Route {
        endpoint: Endpoint::Catalog,
        spec_ids: &["catalog"],
        resource: Resource::Catalog,
        methods: &[M::Get],
        path: "/v2/_catalog[?n=<int>&last=<name>]",
        success: &[200],
        errors: &[E::Unsupported],
        summary: "list repositories (distribution's extension)",
    },
];

/// The route a spec id (`end-5`, `end-12b`…) names.
pub fn route_by_spec_id(id: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.spec_ids.contains(&id))
}

/// The endpoint a method on a resource reaches; `None` means 405.
pub fn route_for(resource: Resource, method: &str) -> Option<&'static Route> {
    let method = Method::parse(method)?;
    ROUTES
        .iter()
        .find(|r| r.resource == resource && r.methods.contains(&method))
}

/// The methods a resource allows, for the `Allow` header of a 405 (`GET, HEAD, DELETE`).
pub fn allowed(resource: Resource) -> String {
    ROUTES
        .iter()
        .filter(|r| r.resource == resource)
        .flat_map(|r| r.methods.iter().map(|m| m.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
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

    pub fn resource(&self) -> Resource {
        match self {
            Target::Base => Resource::Base,
            Target::Catalog => Resource::Catalog,
            Target::Blob { .. } => Resource::Blob,
            Target::Uploads { .. } => Resource::Uploads,
            Target::Upload { .. } => Resource::Upload,
            Target::Manifest { .. } => Resource::Manifest,
            Target::Tags { .. } => Resource::Tags,
            Target::Referrers { .. } => Resource::Referrers,
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
    fn the_table_routes_methods_and_names_spec_ids() {
        assert_eq!(
            route_for(Resource::Manifest, "DELETE").map(|r| r.endpoint),
            Some(Endpoint::ManifestDelete)
        );
        assert_eq!(
            route_for(Resource::Upload, "GET").map(|r| r.endpoint),
            Some(Endpoint::UploadStatus)
        );
        assert!(route_for(Resource::Tags, "DELETE").is_none());
        assert!(route_for(Resource::Blob, "BREW").is_none());
        assert_eq!(allowed(Resource::Manifest), "GET, HEAD, PUT, DELETE");
        assert_eq!(allowed(Resource::Upload), "PATCH, PUT, GET, DELETE");
        assert_eq!(allowed(Resource::Uploads), "POST");
        assert_eq!(
            route_by_spec_id("end-11").map(|r| r.endpoint),
            Some(Endpoint::UploadStart)
        );
        assert_eq!(
            route_by_spec_id("end-12b").map(|r| r.endpoint),
            Some(Endpoint::Referrers)
        );
        assert_eq!(
            route_by_spec_id("end-7b").map(|r| r.spec_ids[0]),
            Some("end-7")
        );
        assert!(route_by_spec_id("end-99").is_none());
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
