//! Spec files to their serde structures; a YAML error or an unknown field becomes a
//! [`Diagnostic`] at its position.

use super::diagnostics::{Diagnostic, FileText};

pub(super) fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &FileText<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    match serde_saphyr::from_str::<T>(file.text) {
        Ok(v) => Some(v),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let msg = e.to_string();
            let mut first = msg.lines().next().unwrap_or("").trim().to_string();
            // the parser repeats the position inside its message; ours is in front already
            for prefix in ["error: ", &format!("line {line} column {column}: ")] {
                if let Some(rest) = first.strip_prefix(prefix) {
                    first = rest.to_string();
                }
            }
            let hint = if first.contains("unknown field") || first.contains("unknown variant") {
                Some(
                    "see the scenario format in docs/spec-authors.md (field names are snake_case)"
                        .into(),
                )
            } else {
                None
            };
            diags.push(Diagnostic {
                file: file.name.to_string(),
                line,
                column,
                message: first,
                hint,
                excerpt: file.line(line),
            });
            None
        }
    }
}
