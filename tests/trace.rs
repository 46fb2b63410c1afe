//! `regverify trace`: markdown made plain and split into sentences, each check of a cite
//! failing on a small corpus built for it, the shipped requirements held against the spec
//! texts, and `--against` between two releases of the spec.

use std::path::{Path, PathBuf};
use std::process::Command;

use regverify::runner::model::Keyword;
use regverify::runner::trace::text::{Document, keywords, normalise, split_sentences};

fn regverify() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regverify"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Where the spec texts are: `REGVERIFY_SPEC_DIR`, else `shared/reference` beside the
/// crate's directory (`../shared/reference`) or beside one of its ancestors (a worktree
/// kept below the checkout's parent).
fn spec_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REGVERIFY_SPEC_DIR") {
        return PathBuf::from(d);
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .skip(1)
        .map(|a| a.join("shared/reference"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| crate_dir.join("../shared/reference"))
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn trace(args: &[&str]) -> Out {
    let out = regverify().arg("trace").args(args).output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// --- the text ------------------------------------------------------------------------------

#[test]
fn markdown_and_quotes_normalise_alike() {
    assert_eq!(
        normalise("The [`Accept`](#accept) header *MUST* be\n  sent  <!-- not this -->in `a_b`."),
        "The Accept header MUST be sent in ab."
    );
    assert_eq!(
        normalise("## Heading\n- item one\n> quoted"),
        "Heading item one quoted"
    );
    assert_eq!(normalise("| a | b |\n|---|---|\n| c | d |"), "a b c d");
    assert_eq!(
        normalise("see [the spec][spec] and\n[a\nlink](u)"),
        "see the spec and a link"
    );
}

#[test]
fn blocks_split_into_sentences() {
    let s = "One thing MUST hold. Another, e.g. this, MAY. <tag> MUST NOT be. 1.1 is fine? Yes";
    let parts: Vec<&str> = split_sentences(s).iter().map(|(a, b)| &s[*a..*b]).collect();
    assert_eq!(
        parts,
        [
            "One thing MUST hold.",
            "Another, e.g. this, MAY.",
            "<tag> MUST NOT be.",
            "1.1 is fine?",
            "Yes"
        ]
    );
    // a list item, a table row and a heading are blocks of their own; code is in none
    let doc = Document::parse(
        "# Pulls MUST work\n\nA first line\ncontinued here MUST stay.\n- an item MAY\n- another SHOULD\n\n```\ncode MUST\n```\n| row MUST | x |\n",
        true,
    );
    let sentences: Vec<(usize, &str)> = doc
        .sentences
        .iter()
        .map(|s| (s.line, doc.sentence_text(s)))
        .collect();
    assert_eq!(
        sentences,
        [
            (1, "Pulls MUST work"),
            (3, "A first line continued here MUST stay."),
            (5, "an item MAY"),
            (6, "another SHOULD"),
            (11, "row MUST x")
        ]
    );
    assert_eq!(doc.find_all("code MUST").len(), 1);
}

#[test]
fn keywords_are_read_as_rfc_2119_defines_them() {
    let k = |s: &str, rfc: bool| -> Vec<Keyword> {
        keywords(s, rfc).iter().map(|f| f.keyword).collect()
    };
    assert_eq!(
        k(
            "It MUST NOT, SHALL, is REQUIRED, NOT RECOMMENDED, RECOMMENDED, OPTIONAL, SHALL NOT",
            true
        ),
        [
            Keyword::MustNot,
            Keyword::Must,
            Keyword::Must,
            Keyword::ShouldNot,
            Keyword::Should,
            Keyword::May,
            Keyword::MustNot
        ]
    );
    // lower case is no keyword where RFC 2119 is invoked; it is in the Docker documents
    assert!(k("the client must and may", true).is_empty());
    assert_eq!(
        k("the client must not, should", false),
        [Keyword::MustNot, Keyword::Should]
    );
    assert!(k("MUSTARD and MAYBE", true).is_empty());
}

// the checks, on a corpus of their own
#[path = "trace/checks.rs"]
mod checks;

// --- the spec texts -------------------------------------------------------------------------

#[test]
fn trace_holds_against_the_spec_texts() {
    let dir = spec_dir();
    assert!(
        dir.is_dir(),
        "the spec texts are expected in {} (set REGVERIFY_SPEC_DIR to where they are)",
        dir.display()
    );
    let mut failures = vec![];
    for name in [
        "distribution-spec-v1.1.1.md",
        "distribution-spec-main.md",
        "distribution-api.md",
        "distribution-auth-token.md",
        "image-spec-image-index.md",
    ] {
        let file = dir.join(name);
        assert!(
            file.is_file(),
            "{} is expected among the spec texts",
            file.display()
        );
        let o = trace(&["--spec", file.to_str().unwrap()]);
        if o.code != Some(0) {
            failures.push(format!(
                "{name}: exit {:?}\n{}{}",
                o.code, o.stdout, o.stderr
            ));
        }
    }
    // documents a requirement cites here and there, whose other sentences are the image
    // spec's business: every cite of theirs is held, their uncited sentences are not listed
    for name in ["image-spec-descriptor.md", "image-spec-manifest.md"] {
        let file = dir.join(name);
        let o = trace(&["--spec", file.to_str().unwrap(), "--json"]);
        let j: serde_json::Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}: {}{}", o.stdout, o.stderr));
        let findings = j["findings"].as_array().expect("findings");
        if !findings.is_empty() {
            failures.push(format!("{name}: {findings:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An overlay with requirements citing v1.1.1 sentences main kept, reworded (a keyword
/// changed) and dropped (from the copy of main [`against_an_older_text_shows_changed_vanished_and_new_sentences`]
/// traces: the two releases share every sentence's words).
fn against_overlay() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let req = |id: &str, kw: &str, quote: &str| {
        format!(
            "  - id: {id}\n    level: {kw}\n    category: pull\n    section: s\n    keyword: {kw}\n    summary: x\n    untestable: u\n    cites:\n      - {{doc: v1.1.1, keyword: {kw}, quote: \"{quote}\"}}\n"
        )
    };
    let text = format!(
        "requirements:\n{}{}{}",
        req(
            "t.kept",
            "MUST",
            "The Content-Length header MUST match the blob's actual content length."
        ),
        req(
            "t.reworded",
            "SHOULD",
            "A successful response SHOULD contain the digest of the uploaded blob in the header Docker-Content-Digest."
        ),
        req(
            "t.dropped",
            "MAY",
            "The <location> MAY contain critical query parameters."
        ),
    );
    // one that cites main's new words already
    let both = req(
        "t.both",
        "SHOULD",
        "A successful response SHOULD contain the size in bytes of the uploaded blob in the header Content-Length.",
    ) + "      - {doc: main, keyword: MUST, quote: \"A successful response MUST contain the size in bytes of the uploaded blob or manifest in the header Content-Length.\"}\n";
    let text = text + &both;
    std::fs::write(dir.path().join("requirements.yaml"), text).unwrap();
    dir
}

#[test]
fn against_an_older_text_shows_changed_vanished_and_new_sentences() {
    let dir = spec_dir();
    let old = dir.join("distribution-spec-v1.1.1.md");
    let overlay = against_overlay();
    // main without the sentence t.dropped cites
    let main = std::fs::read_to_string(dir.join("distribution-spec-main.md")).unwrap();
    let dropped = "MAY contain critical query parameters";
    assert!(main.contains(dropped));
    let kept: String = main
        .lines()
        .filter(|l| !l.contains(dropped))
        .map(|l| format!("{l}\n"))
        .collect();
    let new = overlay.path().join("distribution-spec-main.md");
    std::fs::write(&new, kept).unwrap();
    let base = [
        "--spec",
        new.to_str().unwrap(),
        "--against",
        old.to_str().unwrap(),
        "--specs",
        overlay.path().to_str().unwrap(),
    ];
    let o = trace(&base);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.starts_with("main against v1.1.1: "),
        "{}",
        o.stdout
    );
    let changed = o
        .stdout
        .split("\nchanged:\n")
        .nth(1)
        .expect("a changed section");
    assert!(
        changed.contains("t.reworded (SHOULD): \"A successful response SHOULD contain"),
        "{}",
        o.stdout
    );
    assert!(changed.contains("keyword SHOULD → MUST"), "{}", o.stdout);
    assert!(
        changed.contains("t.both (SHOULD)")
            && changed.contains("of the uploaded blob or manifest in the header Content-Length.\" (it cites main already)\n"),
        "{}",
        o.stdout
    );
    let vanished = o
        .stdout
        .split("\nvanished:\n")
        .nth(1)
        .expect("a vanished section");
    assert!(
        vanished.contains("t.dropped (MAY)") && vanished.contains("no similar sentence"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("t.kept"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("\nnew in main, cited by no requirement:\n  main:"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("\naffected requirements:\n"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("  t.dropped: scenarios none; defects none\n"),
        "{}",
        o.stdout
    );

    let o = trace(&[&base[..], &["--markdown"]].concat());
    assert_eq!(o.code, Some(0));
    for heading in [
        "### Spec text main against v1.1.1",
        "#### Changed cites",
        "#### Vanished cites",
        "#### New normative sentences no requirement cites",
        "#### Affected requirements",
        "| Requirement | Keyword | Quote | Now |",
    ] {
        assert!(o.stdout.contains(heading), "{heading}: {}", o.stdout);
    }

    let o = trace(&[&base[..], &["--json"]].concat());
    assert_eq!(o.code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["new_doc"], "main");
    assert_eq!(v["old_doc"], "v1.1.1");
    assert!(v["unchanged"].as_u64().unwrap() >= 1);
    let reworded = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["requirement"] == "t.reworded")
        .unwrap();
    assert_eq!(reworded["fate"], "changed");
    assert_eq!(reworded["keyword_changed"], true);
    assert_eq!(reworded["cites_new"], false);
    let both = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["requirement"] == "t.both")
        .unwrap();
    assert_eq!(both["cites_new"], true);
    assert_eq!(reworded["keywords_after"], serde_json::json!(["MUST"]));
    assert!(
        reworded["similar"]
            .as_str()
            .unwrap()
            .contains("MUST contain the digest")
    );
    assert!(
        v["vanished"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["requirement"] == "t.dropped" && c["fate"] == "vanished")
    );
    assert!(!v["new_uncited"].as_array().unwrap().is_empty());
    assert!(
        v["affected"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["requirement"] == "t.dropped")
    );
}
