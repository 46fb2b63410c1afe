//! The error codes of the distribution spec (`#error-codes`, `code-1` … `code-14`) and the
//! extensions of distribution's V2 API. A 4xx error envelope's code is one of its profile's
//! table ([`CodeTable`]) or breaks `errors.code-form`. One registry of codes: the server
//! answers with them, the runner checks them, reports name them.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// distribution's extension for a bad `n` (not in the OCI table).
    PaginationNumberInvalid,
    /// distribution's extension for a bad `Content-Range` (not in the OCI table).
    RangeInvalid,
    /// A legacy Docker code the OCI spec names as one clients may meet (schema 1 tags).
    TagInvalid,
    /// A legacy Docker code the OCI spec names as one clients may meet (schema 1 signatures).
    ManifestUnverified,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::BlobUnknown,
        ErrorCode::BlobUploadInvalid,
        ErrorCode::BlobUploadUnknown,
        ErrorCode::DigestInvalid,
        ErrorCode::ManifestBlobUnknown,
        ErrorCode::ManifestInvalid,
        ErrorCode::ManifestUnknown,
        ErrorCode::NameInvalid,
        ErrorCode::NameUnknown,
        ErrorCode::SizeInvalid,
        ErrorCode::Unauthorized,
        ErrorCode::Denied,
        ErrorCode::Unsupported,
        ErrorCode::TooManyRequests,
        ErrorCode::PaginationNumberInvalid,
        ErrorCode::RangeInvalid,
        ErrorCode::TagInvalid,
        ErrorCode::ManifestUnverified,
    ];

    /// The code as it appears in the JSON error envelope.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            ErrorCode::RangeInvalid => "RANGE_INVALID",
            ErrorCode::TagInvalid => "TAG_INVALID",
            ErrorCode::ManifestUnverified => "MANIFEST_UNVERIFIED",
        }
    }

    /// The spec's id for the code (`code-N`), or `None` for distribution's extensions.
    pub fn spec_id(self) -> Option<&'static str> {
        Some(match self {
            ErrorCode::BlobUnknown => "code-1",
            ErrorCode::BlobUploadInvalid => "code-2",
            ErrorCode::BlobUploadUnknown => "code-3",
            ErrorCode::DigestInvalid => "code-4",
            ErrorCode::ManifestBlobUnknown => "code-5",
            ErrorCode::ManifestInvalid => "code-6",
            ErrorCode::ManifestUnknown => "code-7",
            ErrorCode::NameInvalid => "code-8",
            ErrorCode::NameUnknown => "code-9",
            ErrorCode::SizeInvalid => "code-10",
            ErrorCode::Unauthorized => "code-11",
            ErrorCode::Denied => "code-12",
            ErrorCode::Unsupported => "code-13",
            ErrorCode::TooManyRequests => "code-14",
            ErrorCode::PaginationNumberInvalid
            | ErrorCode::RangeInvalid
            | ErrorCode::TagInvalid
            | ErrorCode::ManifestUnverified => return None,
        })
    }

    /// Short human message, as the spec's table phrases the meaning (in our words).
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "blob unknown to registry",
            ErrorCode::BlobUploadInvalid => "blob upload invalid",
            ErrorCode::BlobUploadUnknown => "blob upload unknown to registry",
            ErrorCode::DigestInvalid => "provided digest did not match uploaded content",
            ErrorCode::ManifestBlobUnknown => "manifest references a blob or manifest unknown here",
            ErrorCode::ManifestInvalid => "manifest invalid",
            ErrorCode::ManifestUnknown => "manifest unknown to registry",
            ErrorCode::NameInvalid => "invalid repository name",
            ErrorCode::NameUnknown => "repository name not known to registry",
            ErrorCode::SizeInvalid => "provided length did not match content length",
            ErrorCode::Unauthorized => "authentication required",
            ErrorCode::Denied => "requested access to the resource is denied",
            ErrorCode::Unsupported => "the operation is unsupported",
            ErrorCode::TooManyRequests => "too many requests",
            ErrorCode::PaginationNumberInvalid => "invalid number of results requested",
            ErrorCode::RangeInvalid => "invalid content range",
            ErrorCode::TagInvalid => "manifest tag did not match URI",
            ErrorCode::ManifestUnverified => "manifest failed signature verification",
        }
    }

    /// The code of an error envelope's `code` field (`BLOB_UNKNOWN`).
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The code the spec's table names `id` (`code-7`).
    pub fn by_spec_id(id: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.spec_id() == Some(id))
    }
}

/// The table of error codes a profile holds a registry to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeTable {
    /// The OCI spec's: "The `code` field MUST be one of the following" (code-1 … code-14),
    /// and the legacy Docker codes it says a client may meet, those "targeting Docker
    /// schema1 manifests, such as `TAG_INVALID`, or `MANIFEST_UNVERIFIED`".
    #[default]
    Oci,
    /// distribution's V2 API table (with PAGINATION_NUMBER_INVALID, RANGE_INVALID, …) and
    /// the OCI table its profile extends.
    Distribution,
}

impl CodeTable {
    pub fn holds(self, code: ErrorCode) -> bool {
        match self {
            CodeTable::Oci => {
                code.spec_id().is_some()
                    || matches!(code, ErrorCode::TagInvalid | ErrorCode::ManifestUnverified)
            }
            CodeTable::Distribution => true,
        }
    }

    /// The table as a report names it.
    pub fn describe(self) -> &'static str {
        match self {
            CodeTable::Oci => "the OCI spec's table or a legacy Docker schema1 code",
            CodeTable::Distribution => "distribution's or the OCI spec's table",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds the spec's error envelope `{"errors":[{"code","message","detail"}]}`.
pub fn envelope(code: ErrorCode, message: &str, detail: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "errors": [{ "code": code.as_str(), "message": message, "detail": detail }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_by_name_and_by_spec_id() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            if let Some(id) = c.spec_id() {
                assert_eq!(ErrorCode::by_spec_id(id), Some(c));
            }
        }
        assert_eq!(
            ErrorCode::by_spec_id("code-7"),
            Some(ErrorCode::ManifestUnknown)
        );
        assert_eq!(ErrorCode::by_spec_id("code-15"), None);
        assert_eq!(ErrorCode::parse("BAD_REQUEST"), None);
    }

    #[test]
    fn distribution_codes_are_in_distribution_table_only() {
        let oci = CodeTable::Oci;
        assert!(oci.holds(ErrorCode::TooManyRequests));
        assert!(oci.holds(ErrorCode::TagInvalid));
        assert!(!oci.holds(ErrorCode::PaginationNumberInvalid));
        assert!(!oci.holds(ErrorCode::RangeInvalid));
        for c in ErrorCode::ALL {
            assert!(CodeTable::Distribution.holds(c), "{c}");
        }
    }
}
