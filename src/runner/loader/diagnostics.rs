//! A problem found in the spec files, with its place (`file:line:col`), the offending line
//! and a hint.

use std::fmt;

use serde_saphyr::Spanned;

use crate::runner::plan::Source;

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
    /// The line it points at, when known.
    pub excerpt: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(src) = &self.excerpt {
            write!(
                f,
                "\n    | {src}\n    | {}^",
                " ".repeat(self.column.saturating_sub(1) as usize)
            )?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n    = hint: {h}")?;
        }
        Ok(())
    }
}

/// One spec file's text, to point into it.
pub(crate) struct FileText<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl FileText<'_> {
    pub fn source<T>(&self, s: &Spanned<T>) -> Source {
        Source {
            file: self.name.to_string(),
            line: s.referenced.line(),
            column: s.referenced.column(),
        }
    }

    pub fn at(&self, src: &Source, message: String, hint: Option<String>) -> Diagnostic {
        Diagnostic {
            file: src.file.clone(),
            line: src.line,
            column: src.column,
            message,
            hint,
            excerpt: self.line(src.line),
        }
    }

    pub fn line(&self, line: u64) -> Option<String> {
        self.text
            .lines()
            .nth(line.checked_sub(1)? as usize)
            .map(String::from)
    }
}
