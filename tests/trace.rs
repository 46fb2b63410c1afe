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

// --- the checks, on a corpus of their own ---------------------------------------------------

const TEXT: &str = "# A spec\n\n\
The key words \"MUST\" and \"MAY\" are to be interpreted as described in RFC 2119.\n\n\
A GET request to an existing manifest URL MUST provide the expected manifest, with a response code that MUST be `200 OK`.\n\
The client SHOULD include an [`Accept`](#accept) header.\n\
Registries MAY support *deletion*.\n\
The response body is JSON.\n";

const PROFILES: &str = "profiles:\n  - {id: oci-1.0, title: t}\n  - {id: oci-1.1, title: t, extends: [oci-1.0], default: true}\n  - {id: oci-next, title: t, extends: [oci-1.1]}\n  - {id: distribution, title: t, extends: [oci-1.1]}\n";

const SCENARIO: &str = "scenarios:\n  - id: base\n    title: t\n    requirements: [a.get]\n    workflows: [pull]\n    profiles: [oci-next]\n    steps:\n      - name: s\n        request: {method: GET, url: /v2/}\n        expect: {req: a.get, status: 200}\n";

const GET: &str = "  - id: a.get\n    level: MUST\n    category: pull\n    section: s\n    source: main\n    keyword: MUST\n    summary: x\n    cites:\n      - {doc: main, keyword: MUST, quote: \"the expected manifest, with a response code that MUST be 200 OK\"}\n";

const ACCEPT: &str = "  - id: c.accept\n    level: SHOULD\n    category: pull\n    section: s\n    source: main\n    keyword: SHOULD\n    party: client\n    summary: x\n    untestable: a duty of clients\n    cites:\n      - {doc: main, keyword: SHOULD, quote: \"The client SHOULD include an `Accept` header.\"}\n";

const UNCITED: &str = "uncited:\n  - {doc: main, quote: \"The key words\", reason: definition}\n  - {doc: main, quote: \"Registries MAY support deletion\", reason: not-registry-behaviour}\n";

/// A complete corpus (`--specs-mode replace`) with these requirements and uncited entries,
/// and the text as `main`: trace's exit code and report.
fn traced(requirements: &str, uncited: &str, text: &str) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(specs.join("scenarios")).unwrap();
    std::fs::write(
        specs.join("requirements.yaml"),
        format!("requirements:\n{requirements}"),
    )
    .unwrap();
    std::fs::write(specs.join("profiles.yaml"), PROFILES).unwrap();
    std::fs::write(specs.join("uncited.yaml"), uncited).unwrap();
    std::fs::write(specs.join("scenarios/s.yaml"), SCENARIO).unwrap();
    let text_file = dir.path().join("spec.md");
    std::fs::write(&text_file, text).unwrap();
    trace(&[
        "--spec",
        text_file.to_str().unwrap(),
        "--doc",
        "main",
        "--specs",
        specs.to_str().unwrap(),
        "--specs-mode",
        "replace",
    ])
}

fn assert_clean(o: &Out) {
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("\nclean: 0 problems in requirements, 0 uncited normative sentences (2 excused by uncited.yaml), 0 stale entries"), "{}", o.stdout);
}

fn assert_finds(o: &Out, what: &str) {
    assert_eq!(o.code, Some(1), "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains(what),
        "wanted {what:?} in:\n{}{}",
        o.stdout,
        o.stderr
    );
}

#[test]
fn a_corpus_that_cites_its_text_well_traces_clean() {
    let o = traced(&format!("{GET}{ACCEPT}"), UNCITED, TEXT);
    assert_clean(&o);
    assert!(
        o.stdout
            .starts_with("trace of main: 2 requirements citing it, 2 cites, 4 normative sentences"),
        "{}",
        o.stdout
    );
}

#[test]
fn a_quote_not_in_the_text_is_a_mismatch() {
    let o = traced(
        &format!(
            "{}{ACCEPT}",
            GET.replace("expected manifest", "expected blob")
        ),
        UNCITED,
        TEXT,
    );
    assert_finds(
        &o,
        "a.get: quote not found in main: \"the expected blob, with",
    );
}

#[test]
fn a_keyword_the_sentence_does_not_use_is_a_mismatch() {
    // the clause has MUST: SHOULD is not its word (the level follows the keyword down)
    let wrong = GET
        .replace("keyword: MUST", "keyword: SHOULD")
        .replace("level: MUST", "level: SHOULD");
    let o = traced(&format!("{wrong}{ACCEPT}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "a.get: cites keyword SHOULD but the sentence (main:5) uses MUST",
    );
    // a clause without a keyword takes its sentence's; `none` only where the sentence has none
    let clause = GET.replace(
        "the expected manifest, with a response code that MUST be 200 OK",
        "the expected manifest",
    );
    assert_clean(&traced(&format!("{clause}{ACCEPT}"), UNCITED, TEXT));
    let none = ACCEPT
        .replace("keyword: SHOULD, quote", "keyword: none, quote")
        .replace("keyword: SHOULD\n", "keyword: none\n")
        .replace("level: SHOULD", "level: MAY")
        .replace("untestable", "derived_from: y\n    untestable");
    let o = traced(&format!("{GET}{none}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "c.accept: cites keyword none but the sentence (main:6) uses SHOULD",
    );
    let plain = format!(
        "{GET}{ACCEPT}  - id: b.json\n    level: MAY\n    category: pull\n    section: s\n    source: main\n    keyword: none\n    derived_from: z\n    summary: x\n    untestable: u\n    cites:\n      - {{doc: main, keyword: none, quote: \"The response body is JSON.\"}}\n"
    );
    assert_clean(&traced(&plain, UNCITED, TEXT));
}

#[test]
fn a_level_stronger_than_what_it_cites_of_the_document_needs_derived_from() {
    // source v1.1.1 (cited MUST), judged under main too, where it cites a MAY
    let two = "  - id: a.get\n    level: MUST\n    category: pull\n    section: s\n    source: v1.1.1\n    keyword: MUST\n    summary: x\n    cites:\n      - {doc: v1.1.1, keyword: MUST, quote: q}\n      - {doc: main, keyword: MAY, quote: \"Registries MAY support deletion\"}\n";
    let o = traced(&format!("{two}{ACCEPT}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "a.get: level MUST is stronger than the strongest keyword it cites from main (MAY), and no derived_from says why",
    );
    let derived = two.replace(
        "    summary: x\n    cites",
        "    derived_from: a chain of sentences\n    summary: x\n    cites",
    );
    let o = traced(&format!("{derived}{ACCEPT}"), UNCITED, TEXT);
    assert!(!o.stdout.contains("is stronger"), "{}", o.stdout);
}

#[test]
fn a_sentence_about_clients_does_not_bind_the_registry() {
    let registry = ACCEPT.replace("    party: client\n", "");
    let o = traced(&format!("{GET}{registry}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "c.accept: a duty of the registry but the sentence (main:6) binds the client, and no derived_from says why",
    );
    let derived = registry.replace(
        "    summary: x",
        "    derived_from: what clients send\n    summary: x",
    );
    assert_clean(&traced(&format!("{GET}{derived}"), UNCITED, TEXT));
    // and a client's requirement citing the registry's sentence
    let client = "  - id: c.delete\n    level: MAY\n    category: pull\n    section: s\n    source: main\n    keyword: MAY\n    party: client\n    summary: x\n    untestable: u\n    cites:\n      - {doc: main, keyword: MAY, quote: \"Registries MAY support deletion\"}\n";
    let o = traced(&format!("{GET}{ACCEPT}{client}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "c.delete: a duty of the client but the sentence (main:7) binds the registry",
    );
}

#[test]
fn a_requirement_cites_every_document_it_is_judged_under() {
    // its scenario is oci-next's: main; a source of main but no cite of it
    let other = GET.replace("{doc: main,", "{doc: v1.1.1,");
    let o = traced(&format!("{other}{ACCEPT}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "a.get: judged under main (its source is main) but cites nothing of it",
    );
    // a scenario of oci-1.1 judges it under main as well, whatever its source
    let v111 = GET
        .replace("source: main", "source: v1.1.1")
        .replace("{doc: main,", "{doc: v1.1.1,");
    let o = traced(&format!("{v111}{ACCEPT}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "a.get: judged under main (scenario pull::base of profile oci-next) but cites nothing of it",
    );
    // an untestable requirement cites something
    let bare = "  - id: u.bare\n    level: MAY\n    category: pull\n    section: s\n    source: rfc9112\n    keyword: MAY\n    summary: x\n    untestable: u\n";
    let o = traced(&format!("{GET}{ACCEPT}{bare}"), UNCITED, TEXT);
    assert_finds(
        &o,
        "u.bare: no scenario checks it and it cites no sentence at all",
    );
    // a category's presence is judged on every answer of a run: no scenario lists it
    let presence = "  - id: p.push\n    level: SHOULD\n    category: push\n    presence: true\n    section: s\n    source: rfc9112\n    keyword: SHOULD\n    summary: x\n    endpoints: [end-4a]\n";
    let o = traced(&format!("{GET}{ACCEPT}{presence}"), UNCITED, TEXT);
    assert_clean(&o);
}

#[test]
fn uncited_sentences_are_listed_and_stale_entries_reported() {
    let o = traced(
        &format!("{GET}{ACCEPT}"),
        "uncited:\n  - {doc: main, quote: \"The key words\", reason: definition}\n  - {doc: main, quote: \"Nothing like this\", reason: untestable}\n  - {doc: v1.1.1, quote: \"Elsewhere\", reason: untestable}\n",
        TEXT,
    );
    assert_finds(
        &o,
        "normative sentences no requirement cites:\n  main:7 [MAY] Registries MAY support deletion.\n",
    );
    assert!(
        o.stdout
            .contains("uncited.yaml entries matching no normative sentence of main:\n"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("uncited.yaml:3: (untestable) \"Nothing like this\""),
        "{}",
        o.stdout
    );
    // another document's entry is not this trace's
    assert!(!o.stdout.contains("Elsewhere"), "{}", o.stdout);
    assert!(o.stdout.contains("mismatch: 0 problems in requirements, 1 uncited normative sentence (1 excused by uncited.yaml), 1 stale entry"), "{}", o.stdout);
    // an unknown reason is the loader's error
    let o = traced(
        &format!("{GET}{ACCEPT}"),
        "uncited:\n  - {doc: main, quote: q, reason: dunno}\n",
        TEXT,
    );
    assert_eq!(o.code, Some(2), "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("uncited.yaml:2"), "{}", o.stderr);
}

#[test]
fn the_report_is_json_too_and_never_prints_a_raw_control_character() {
    let text = TEXT.replace("Registries MAY", "Registries\u{1b}[31m MAY");
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(specs.join("scenarios")).unwrap();
    std::fs::write(
        specs.join("requirements.yaml"),
        format!("requirements:\n{GET}{ACCEPT}"),
    )
    .unwrap();
    std::fs::write(specs.join("profiles.yaml"), PROFILES).unwrap();
    std::fs::write(specs.join("scenarios/s.yaml"), SCENARIO).unwrap();
    let file = dir.path().join("spec.md");
    std::fs::write(&file, text).unwrap();
    let args = [
        "--spec",
        file.to_str().unwrap(),
        "--doc",
        "main",
        "--specs",
        specs.to_str().unwrap(),
        "--specs-mode",
        "replace",
    ];
    let o = trace(&args);
    assert_eq!(o.code, Some(1));
    assert!(
        !o.stdout.contains('\u{1b}') && o.stdout.contains("Registries\\u{1b}[31m MAY"),
        "{}",
        o.stdout
    );
    let o = trace(&[&args[..], &["--json"]].concat());
    assert_eq!(o.code, Some(1));
    assert!(!o.stdout.contains('\u{1b}'));
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["doc"], "main");
    assert_eq!(v["rfc2119"], true);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    let uncited = v["uncited"].as_array().unwrap();
    assert_eq!(uncited.len(), 2, "{v}");
    assert_eq!(uncited[0]["line"], 3);
    assert_eq!(uncited[1]["keywords"], serde_json::json!(["MAY"]));
}

#[test]
fn a_file_whose_name_does_not_tell_its_document_needs_doc() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec.md");
    std::fs::write(&file, TEXT).unwrap();
    let o = trace(&["--spec", file.to_str().unwrap()]);
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("pass --doc"), "{}", o.stderr);
}

#[test]
fn explain_shows_the_cites() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(specs.join("scenarios")).unwrap();
    std::fs::write(
        specs.join("requirements.yaml"),
        format!("requirements:\n{GET}{ACCEPT}"),
    )
    .unwrap();
    std::fs::write(specs.join("profiles.yaml"), PROFILES).unwrap();
    std::fs::write(specs.join("scenarios/s.yaml"), SCENARIO).unwrap();
    let out = regverify()
        .args(["explain", "c.accept", "--specs"])
        .arg(&specs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("  a duty of clients\n"), "{text}");
    assert!(
        text.contains("  cites main (SHOULD): \"The client SHOULD include an `Accept` header.\"\n"),
        "{text}"
    );
}

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

#[test]
fn a_quote_is_read_in_its_sentence() {
    // a quote stopping at "MUST" of "MUST NOT" uses MUST NOT
    let text = format!("{TEXT}The registry MUST NOT send secrets.\n");
    let secret = |kw: &str| {
        format!(
            "  - id: a.secret\n    level: {kw}\n    category: pull\n    section: s\n    source: main\n    keyword: {kw}\n    summary: x\n    untestable: u\n    cites:\n      - {{doc: main, keyword: {kw}, quote: \"The registry MUST\"}}\n"
        )
    };
    let o = traced(&format!("{GET}{ACCEPT}{}", secret("MUST")), UNCITED, &text);
    assert_finds(
        &o,
        "a.secret: cites keyword MUST but the sentence (main:9) uses MUST NOT",
    );
    let o = traced(
        &format!("{GET}{ACCEPT}{}", secret("MUST NOT")),
        UNCITED,
        &text,
    );
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
}
