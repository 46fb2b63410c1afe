//! The requirements catalogue against the tables of `oci`: every endpoint a requirement
//! names is a row of the endpoint table, every error code one of the error-code table.

use super::diagnostics::{Diagnostic, FileText};
use crate::oci::ErrorCode;
use crate::runner::model::Requirement;
use crate::runner::plan::Source;

/// Checks a requirement's `endpoints:` against the endpoint table and `codes:` against the
/// error-code table.
pub(super) fn requirement_tables(
    file: &FileText<'_>,
    src: &Source,
    r: &Requirement,
    diags: &mut Vec<Diagnostic>,
) {
    for e in &r.endpoints {
        if !known_endpoint(e) {
            diags.push(file.at(
                src,
                format!("requirement {}: unknown endpoint {e}", r.id),
                Some("endpoints are the spec's ids (end-1 … end-14, catalog), as in src/oci/api.rs".into()),
            ));
        }
    }
    for c in &r.codes {
        if !ErrorCode::ALL
            .iter()
            .any(|k| k.spec_id() == Some(c.as_str()))
        {
            diags.push(file.at(
                src,
                format!("requirement {}: unknown error code {c}", r.id),
                Some("codes are the spec's ids (code-1 … code-14), as in src/oci/errors.rs".into()),
            ));
        }
    }
}

/// An endpoint id of the spec's table: a row of `oci::api::ROUTES`, or a variant of one
/// (`end-4b` of `end-4a`; the table has one row per route, the spec one per use of it).
/// `end-11` (mount) is a use of the upload-start route, `end-4a`.
fn known_endpoint(id: &str) -> bool {
    let family = |s: &str| {
        s.trim_end_matches(|c: char| c.is_ascii_lowercase())
            .to_string()
    };
    let id = if id == "end-11" { "end-4a" } else { id };
    crate::oci::api::ROUTES
        .iter()
        .any(|r| r.spec_id == id || (id.starts_with("end-") && family(r.spec_id) == family(id)))
}
