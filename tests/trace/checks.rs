//! The checks of `trace --spec`, each failing on a small corpus built for it
//! (`--specs-mode replace`), and what `uncited.yaml`, `--json` and `explain` show of them.

use super::{Out, regverify, trace};

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

const UNCITED: &str = "uncited:\n  - {doc: main, quote: \"The key words\", reason: descriptive}\n  - {doc: main, quote: \"Registries MAY support deletion\", reason: descriptive}\n";

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
    assert!(o.stdout.contains("\nclean: 0 problems in requirements, 0 uncited normative sentences (2 excused by uncited.yaml), 0 stale entries; 0 not yet a requirement"), "{}", o.stdout);
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
        "uncited:\n  - {doc: main, quote: \"The key words\", reason: descriptive}\n  - {doc: main, quote: \"Nothing like this\", reason: untestable}\n  - {doc: v1.1.1, quote: \"Elsewhere\", reason: untestable}\n",
        TEXT,
    );
    assert_finds(
        &o,
        "normative sentences no requirement cites:\n  main:7 [MAY] Registries MAY support deletion.\n",
    );
    assert!(
        o.stdout
            .contains("uncited.yaml entries that excuse nothing in main:\n"),
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
    assert!(o.stdout.contains("mismatch: 0 problems in requirements, 1 uncited normative sentence (1 excused by uncited.yaml), 1 stale entry; 0 not yet a requirement"), "{}", o.stdout);
    // an entry for a sentence a requirement cites goes; a not-yet entry is a gap, listed
    let o = traced(
        &format!("{GET}{ACCEPT}"),
        "uncited:\n  - {doc: main, quote: \"The key words\", reason: descriptive}\n  - {doc: main, quote: \"The client SHOULD include\", reason: binds-client}\n  - {doc: main, quote: \"Registries MAY support deletion.\", reason: not-yet, note: a DELETE answered}\n",
        TEXT,
    );
    assert_finds(
        &o,
        "uncited.yaml:3: (binds-client) \"The client SHOULD include\": every sentence it matches is cited: the entry goes\n",
    );
    assert!(
        o.stdout.contains("\nnot yet a requirement (uncited.yaml's not-yet, the catalogue's gaps):\n  main:7 Registries MAY support deletion. — a DELETE answered\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("mismatch: 0 problems in requirements, 0 uncited normative sentences (2 excused by uncited.yaml), 1 stale entry; 1 not yet a requirement"), "{}", o.stdout);
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

#[test]
fn an_overlay_adds_uncited_entries() {
    // the embedded corpus, with a text of our own as main: its last sentence nobody cites
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec.md");
    std::fs::write(&file, TEXT).unwrap();
    let sentence = "main:7 [MAY] Registries MAY support deletion.";
    let args = ["--spec", file.to_str().unwrap(), "--doc", "main"];
    let before = trace(&args);
    assert!(before.stdout.contains(sentence), "{}", before.stdout);
    let overlay = dir.path().join("overlay");
    std::fs::create_dir(&overlay).unwrap();
    std::fs::write(
        overlay.join("uncited.yaml"),
        "uncited:\n  - {doc: main, quote: \"Registries MAY support\", reason: descriptive}\n",
    )
    .unwrap();
    let after = trace(&[&args[..], &["--specs", overlay.to_str().unwrap()]].concat());
    assert!(!after.stdout.contains(sentence), "{}", after.stdout);
    // the embedded entries still hold: the stale ones of main are the same before and after
    let stale = |o: &Out| o.stdout.matches("specs/uncited.yaml:").count();
    assert_eq!(stale(&after), stale(&before), "{}", after.stdout);
}

#[test]
fn the_subject_is_the_clause_before_the_keyword_not_its_condition() {
    // "If the registry …" is a condition: the sentence binds no one by name
    let text = format!(
        "{TEXT}If the registry sends a minimum, the size of each chunk, except the last, SHOULD be at least that.\n"
    );
    let chunk = "  - id: c.chunk\n    level: SHOULD\n    category: push\n    section: s\n    source: main\n    keyword: SHOULD\n    party: client\n    summary: x\n    untestable: u\n    cites:\n      - {doc: main, keyword: SHOULD, quote: \"the size of each chunk, except the last, SHOULD be at least that\"}\n";
    let o = traced(&format!("{GET}{ACCEPT}{chunk}"), UNCITED, &text);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    // while "…, the client SHOULD" after a condition about the registry binds the client
    let text = format!(
        "{TEXT}If the registry sends a minimum, the client SHOULD send chunks at least that long.\n"
    );
    let registry = "  - id: r.chunk\n    level: SHOULD\n    category: push\n    section: s\n    source: main\n    keyword: SHOULD\n    summary: x\n    untestable: u\n    cites:\n      - {doc: main, keyword: SHOULD, quote: \"the client SHOULD send chunks\"}\n";
    let o = traced(&format!("{GET}{ACCEPT}{registry}"), UNCITED, &text);
    assert_finds(
        &o,
        "r.chunk: a duty of the registry but the sentence (main:9) binds the client",
    );
}
