//! Command templates: `skopeo copy oci:{layout}:{tag} docker://{registry}/{repo}:{tag}`.
//!
//! A template is split into arguments once, by quotes and blanks as a shell would split it
//! but with nothing else of a shell (no variables, globs, escapes outside quotes or
//! operators); the placeholders are then filled in inside each argument. A value never
//! becomes more than the argument it stands in, and no shell ever reads it. The one operator
//! known is an unquoted `&&` standing alone: it ends a command and starts the next, run only
//! when the one before succeeded (a client such as buildah needs two: one to take the image
//! into its own storage, one to push it).

use std::collections::BTreeMap;

/// Why a template cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("unclosed {0} quote")]
    UnclosedQuote(char),
    #[error("no command")]
    Empty,
    #[error(
        "unknown placeholder {{{0}}} (known: {{registry}} {{repo}} {{tag}} {{layout}} {{dir}})"
    )]
    UnknownPlaceholder(String),
    #[error("unclosed placeholder")]
    UnclosedPlaceholder,
    #[error("a command before or after && is empty")]
    EmptyCommand,
}

/// The placeholders a template may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Placeholder {
    /// `host:port` of the registry.
    Registry,
    /// The repository the workflow works in.
    Repo,
    /// The tag the workflow pushes or pulls.
    Tag,
    /// An OCI image layout holding the image to push, tagged `{tag}`.
    Layout,
    /// An empty directory the client writes into.
    Dir,
    /// The digest of the image's manifest (`sha256:…`), for a pull by digest.
    Digest,
}

impl Placeholder {
    fn parse(s: &str) -> Option<Placeholder> {
        Some(match s {
            "registry" => Placeholder::Registry,
            "repo" => Placeholder::Repo,
            "tag" => Placeholder::Tag,
            "layout" => Placeholder::Layout,
            "dir" => Placeholder::Dir,
            "digest" => Placeholder::Digest,
            _ => return None,
        })
    }
}

/// One piece of an argument: literal text or a placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Hole(Placeholder),
}

/// One argument as split: its text, and whether any of it was quoted (a quoted `&&` is an
/// argument, not the operator).
#[derive(Debug, Default)]
struct Word {
    text: String,
    quoted: bool,
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    /// The commands, run one after the other while they succeed; each its arguments.
    commands: Vec<Vec<Vec<Piece>>>,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let words = split(source)?;
        if words.is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut commands = vec![Vec::new()];
        for w in &words {
            if !w.quoted && w.text == "&&" {
                commands.push(Vec::new());
            } else {
                commands.last_mut().expect("one").push(pieces(&w.text)?);
            }
        }
        if commands.iter().any(Vec::is_empty) {
            return Err(TemplateError::EmptyCommand);
        }
        Ok(Template {
            source: source.to_string(),
            commands,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether any command uses `hole`.
    pub fn uses(&self, hole: Placeholder) -> bool {
        self.commands
            .iter()
            .flatten()
            .flatten()
            .any(|p| *p == Piece::Hole(hole))
    }

    /// Each command's arguments (program first) with every placeholder filled in.
    pub fn fill(&self, values: &BTreeMap<Placeholder, String>) -> Vec<Vec<String>> {
        self.commands
            .iter()
            .map(|args| {
                args.iter()
                    .map(|arg| {
                        arg.iter()
                            .map(|p| match p {
                                Piece::Text(t) => t.as_str(),
                                Piece::Hole(h) => values.get(h).map_or("", String::as_str),
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }
}

/// Splits on unquoted blanks; single quotes keep everything, double quotes keep everything
/// but `\"` and `\\`.
fn split(s: &str) -> Result<Vec<Word>, TemplateError> {
    let mut words = Vec::new();
    let mut cur: Option<Word> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(Word::default);
                w.quoted = true;
                let w = &mut w.text;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(TemplateError::UnclosedQuote('\'')),
                    }
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(Word::default);
                w.quoted = true;
                let w = &mut w.text;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(TemplateError::UnclosedQuote('"')),
                        },
                        Some(c) => w.push(c),
                        None => return Err(TemplateError::UnclosedQuote('"')),
                    }
                }
            }
            c => cur.get_or_insert_with(Word::default).text.push(c),
        }
    }
    if let Some(w) = cur {
        words.push(w);
    }
    Ok(words)
}

fn pieces(word: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(TemplateError::UnclosedPlaceholder)?;
        let name = &after[..close];
        let hole = Placeholder::parse(name)
            .ok_or_else(|| TemplateError::UnknownPlaceholder(name.to_string()))?;
        out.push(Piece::Hole(hole));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<Placeholder, String> {
        BTreeMap::from([
            (Placeholder::Registry, "127.0.0.1:5000".to_string()),
            (Placeholder::Repo, "a/b".to_string()),
            (Placeholder::Tag, "v1".to_string()),
            (Placeholder::Dir, "/tmp/x y; rm -rf $HOME".to_string()),
        ])
    }

    #[test]
    fn placeholders_fill_inside_arguments_and_values_stay_one_argument() {
        let t = Template::parse("tool copy 'oci:{dir}' docker://{registry}/{repo}:{tag}").unwrap();
        assert_eq!(
            t.fill(&values()),
            [[
                "tool",
                "copy",
                "oci:/tmp/x y; rm -rf $HOME",
                "docker://127.0.0.1:5000/a/b:v1"
            ]]
        );
    }

    #[test]
    fn a_template_tells_which_placeholders_it_uses() {
        let t = Template::parse("a {repo}@{digest} && b {dir}").unwrap();
        assert!(t.uses(Placeholder::Digest) && t.uses(Placeholder::Dir));
        assert!(!t.uses(Placeholder::Tag));
        assert!(
            !Template::parse("a {repo}:{tag}")
                .unwrap()
                .uses(Placeholder::Digest)
        );
    }

    #[test]
    fn quotes_group_and_nothing_else_is_interpreted() {
        let t = Template::parse(r#"sh -c "echo \"hi\" $HOME" '*' a\b"#).unwrap();
        assert_eq!(
            t.fill(&values()),
            [["sh", "-c", r#"echo "hi" $HOME"#, "*", r"a\b"]]
        );
    }

    #[test]
    fn a_bare_double_ampersand_separates_commands_and_a_quoted_one_does_not() {
        let t = Template::parse("a {tag} && b '&&' x&&y \"&&\"").unwrap();
        assert_eq!(
            t.fill(&values()),
            [vec!["a", "v1"], vec!["b", "&&", "x&&y", "&&"]]
        );
        assert_eq!(Template::parse("a && "), Err(TemplateError::EmptyCommand));
        assert_eq!(Template::parse("&& a"), Err(TemplateError::EmptyCommand));
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert_eq!(
            Template::parse("a 'b"),
            Err(TemplateError::UnclosedQuote('\''))
        );
        assert_eq!(Template::parse("  "), Err(TemplateError::Empty));
        assert_eq!(
            Template::parse("a {nope}"),
            Err(TemplateError::UnknownPlaceholder("nope".into()))
        );
        assert_eq!(
            Template::parse("a {repo"),
            Err(TemplateError::UnclosedPlaceholder)
        );
    }
}
