//! What the binary says about itself: `--version` (the version, the commit it was built
//! from, the digest of the corpus it carries), shell completions and the man page, both
//! generated from the same clap definition the command line parses with.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::error::CliError;

/// `0.1.0 (commit 1a2b…, corpus sha256:…)`: which binary judged, and with which corpus (the
/// digest `results.json` records under `corpus.digest`).
pub fn version() -> String {
    let corpus = corpus_digest();
    format!(
        "{} (commit {}, corpus {corpus})",
        env!("CARGO_PKG_VERSION"),
        env!("REGVERIFY_COMMIT")
    )
}

/// The digest of the embedded corpus.
fn corpus_digest() -> String {
    regverify::runner::corpus::Corpus::embedded()
        .identity()
        // the embedded fixtures are in memory: reading them cannot fail
        .map(|c| c.digest)
        .unwrap_or_else(|e| format!("unreadable ({e})"))
}

/// The shells completions are written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

/// `completions SHELL`: the completion script on standard output.
pub fn completions(a: CompletionsArgs, mut cmd: clap::Command) -> Result<ExitCode, CliError> {
    let shell = match a.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "regverify", &mut out);
    write_out(&out)
}

/// `man`: the man page (roff, section 1) on standard output, every subcommand's options in
/// it, so one page documents the whole tool.
pub fn man(cmd: clap::Command) -> Result<ExitCode, CliError> {
    let mut cmd = cmd;
    cmd.build();
    let mut out = Vec::new();
    let page = clap_mangen::Man::new(cmd.clone());
    page.render_title(&mut out).map_err(CliError::Stdout)?;
    page.render_name_section(&mut out)
        .map_err(CliError::Stdout)?;
    page.render_synopsis_section(&mut out)
        .map_err(CliError::Stdout)?;
    page.render_description_section(&mut out)
        .map_err(CliError::Stdout)?;
    page.render_options_section(&mut out)
        .map_err(CliError::Stdout)?;
    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    // one page: the subcommands are listed by their section's name here, not as pages of
    // their own (clap_mangen's list would name `regverify-serve(1)`, which is not installed)
    let mut list = String::from(".SH SUBCOMMANDS\n");
    for sub in &subs {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        list.push_str(&format!(
            ".TP\n\\fBregverify {}\\fR\n{}\n",
            sub.get_name(),
            roff_text(&about)
        ));
    }
    out.extend_from_slice(list.as_bytes());
    // each subcommand's own synopsis and options, under a heading of its name
    for sub in subs {
        out.extend_from_slice(subcommand_section(sub).as_bytes());
    }
    // the version, the commit and the corpus digest one per line, unfilled: a digest is one
    // word longer than a man page's line, which troff cannot break
    out.extend_from_slice(
        format!(
            ".SH VERSION\n.nf\n{}\ncommit {}\ncorpus {}\n.fi\n",
            env!("CARGO_PKG_VERSION"),
            env!("REGVERIFY_COMMIT"),
            corpus_digest()
        )
        .as_bytes(),
    );
    write_out(ascii(&String::from_utf8_lossy(&out)).as_bytes())
}

/// Text as roff reads it: a backslash escaped, a line starting with `.` or `'` not a request.
fn roff_text(s: &str) -> String {
    s.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every character beyond ASCII as groff's `\[uXXXX]`: troff reads its input as Latin-1
/// unless a preprocessor converts it, so `×` or `—` would come out garbled (or warned of).
fn ascii(roff: &str) -> String {
    let mut out = String::with_capacity(roff.len());
    for c in roff.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    out
}

/// `.SH "REGVERIFY SERVE"` with the subcommand's description and options, rendered by
/// clap_mangen as its own page and kept without the page's title lines.
fn subcommand_section(sub: &clap::Command) -> String {
    let name = format!("regverify {}", sub.get_name());
    let page = clap_mangen::Man::new(sub.clone().name(name.clone()));
    let mut body = Vec::new();
    // writing into memory does not fail
    let _ = page.render_synopsis_section(&mut body);
    let _ = page.render_description_section(&mut body);
    let _ = page.render_options_section(&mut body);
    let body = String::from_utf8_lossy(&body);
    // the sub-page's sections become subsections of this one
    let body = body.replace(".SH ", ".SS ");
    format!(".SH \"{}\"\n{body}", name.to_uppercase())
}

fn write_out(bytes: &[u8]) -> Result<ExitCode, CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(CliError::Stdout)?;
    Ok(ExitCode::SUCCESS)
}
