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
        if ErrorCode::by_spec_id(c).is_none() {
            diags.push(file.at(
                src,
                format!("requirement {}: unknown error code {c}", r.id),
                Some("codes are the spec's ids (code-1 … code-14), as in src/oci/errors.rs".into()),
            ));
        }
    }
}

/// An endpoint id of the spec's table (`end-4b`, `end-11`, ...), as the rows of
/// `oci::api::ROUTES` name them.
fn known_endpoint(id: &str) -> bool {
    crate::oci::api::route_by_spec_id(id).is_some()
}
