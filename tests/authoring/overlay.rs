//! `--specs DIR` as an overlay: what it adds and replaces, what `--check` says of it, a
//! complete copy, and `--specs-mode replace`.

use std::path::Path;

use crate::common::root;
use crate::{check, counts, explain_json, regverify, stdout, write};

#[test]
fn an_overlay_adds_and_replaces_and_check_says_what_it_changes() {
    let (code, base, _) = check(&[]);
    assert_eq!(code, Some(0));
    let (reqs, profiles, scenarios) = counts(&base);
    assert!(!base.contains("overlay"), "{base}");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // one requirement replaced (another summary), one added
    write(
        d,
        "requirements.yaml",
        "requirements:\n  - id: push.chunk.order\n    level: MUST\n    category: push\n    section: pushing-a-blob-in-chunks\n    keyword: MUST\n    summary: A chunk out of order is refused with 416 (proposed wording).\n  - id: push.chunk.proposed\n    level: MAY\n    category: push\n    section: pushing-a-blob-in-chunks\n    keyword: MAY\n    summary: a proposed rule\n",
    );
    // a profile added
    write(
        d,
        "profiles.yaml",
        "profiles:\n  - {id: proposal, title: what the proposal runs, extends: [oci-1.0]}\n",
    );
    // push.yaml replaced: one scenario left out, one changed, the others as they are
    let push = std::fs::read_to_string(root().join("specs/scenarios/push.yaml")).unwrap();
    let (before, rest) = push.split_once("  - id: chunk-out-of-order\n").unwrap();
    let end = rest.find("\n  - id: ").unwrap();
    let edited = format!("{before}{}", &rest[end + 1..]).replace(
        "title: POST opens an upload session, PUT with the digest closes it, and the blob is there",
        "title: POST then PUT (reworded)",
    );
    assert_ne!(edited, push);
    write(d, "scenarios/push.yaml", &edited);
    let over = d.to_str().unwrap();
    let (code, out, err) = check(&["--specs", over]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        counts(&out),
        (reqs + 1, profiles + 1, scenarios - 1),
        "{out}"
    );
    let shown = |rel: &str| d.join(rel).display().to_string();
    let expected = [
        format!("overlay {over}: 2 added, 2 replaced, 1 removed"),
        format!(
            "  added requirement push.chunk.proposed ({})",
            shown("requirements.yaml")
        ),
        format!(
            "  replaced requirement push.chunk.order ({})",
            shown("requirements.yaml")
        ),
        format!("  added profile proposal ({})", shown("profiles.yaml")),
        format!(
            "  replaced scenario push::post-then-put ({})",
            shown("scenarios/push.yaml")
        ),
        format!(
            "  removed scenario push::chunk-out-of-order ({})",
            shown("scenarios/push.yaml")
        ),
    ];
    for line in &expected {
        assert!(out.contains(&format!("{line}\n")), "{line:?} in\n{out}");
    }
    let unchanged = out
        .lines()
        .find(|l| l.starts_with("  unchanged: "))
        .unwrap();
    assert!(unchanged.contains(" scenarios"), "{unchanged}");
    assert!(!unchanged.contains("requirement"), "{unchanged}");

    // what runs is the merged corpus: the added profile, the replaced requirement
    let list = stdout(&regverify(&[
        "run",
        "--list",
        "--specs",
        over,
        "--profile",
        "proposal",
    ]));
    assert!(list.contains("push::post-then-put: test"), "{list}");
    assert!(!list.contains("push::chunk-out-of-order"), "{list}");
    let j = explain_json(&["--specs", over, "push.chunk.order"]);
    assert_eq!(
        j["summary"],
        "A chunk out of order is refused with 416 (proposed wording)."
    );
    assert_eq!(j["overlay"], shown("requirements.yaml"));
    let text = stdout(&regverify(&[
        "explain",
        "--specs",
        over,
        "push.chunk.order",
    ]));
    assert!(text.contains("\nfrom the overlay "), "{text}");
    // without the overlay, neither
    let j = explain_json(&["push.chunk.order"]);
    assert!(j["overlay"].is_null());
    assert_ne!(
        j["summary"],
        "A chunk out of order is refused with 416 (proposed wording)."
    );

    // an overlay entry is checked like any other, at its own place
    write(
        d,
        "requirements.yaml",
        "requirements:\n  - {id: push.chunk.order, level: MUST, category: push, section: s, keyword: SHOULD, summary: x}\n",
    );
    let (code, _, err) = check(&["--specs", over]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!(
            "{}:2:5: error: requirement push.chunk.order is MUST but its sentence's keyword is SHOULD",
            shown("requirements.yaml")
        )),
        "{err}"
    );
    // an empty directory is a mistake, not an overlay
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = check(&["--specs", empty.path().to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no spec files"), "{err}");
}

/// Copies `specs/` (the corpus files only) into `to`.
fn copy_specs(to: &Path) {
    let from = root().join("specs");
    for rel in ["profiles.yaml", "aliases.yaml"] {
        std::fs::copy(from.join(rel), to.join(rel)).unwrap();
    }
    for dir in ["requirements", "scenarios"] {
        std::fs::create_dir_all(to.join(dir)).unwrap();
        for e in std::fs::read_dir(from.join(dir)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(dir).join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn a_complete_copy_changes_nothing_and_replace_mode_uses_it_alone() {
    let (_, base, _) = check(&[]);
    let dir = tempfile::tempdir().unwrap();
    copy_specs(dir.path());
    let over = dir.path().to_str().unwrap();
    let (code, out, err) = check(&["--specs", over]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(counts(&out), counts(&base));
    let (reqs, profiles, scenarios) = counts(&base);
    // the aliases of the copy are unchanged too
    let aliases = std::fs::read_to_string(dir.path().join("aliases.yaml"))
        .unwrap()
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("- {old:") || l.starts_with("- old:")
        })
        .count();
    let aliases = match aliases {
        0 => String::new(),
        1 => "1 alias, ".into(),
        n => format!("{n} aliases, "),
    };
    assert!(
        out.contains(&format!(
            "overlay {over}: changes nothing\n  unchanged: {reqs} requirements, {profiles} profiles, {aliases}{scenarios} scenarios\n"
        )),
        "{out}"
    );
    // as an overlay, a file left out of the copy keeps the embedded one; with
    // --specs-mode replace, the directory is the whole corpus
    std::fs::remove_file(dir.path().join("scenarios/referrers.yaml")).unwrap();
    let (_, out, _) = check(&["--specs", over]);
    assert_eq!(counts(&out).2, scenarios);
    let (code, out, err) = check(&["--specs", over, "--specs-mode", "replace"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(counts(&out).2 < scenarios, "{out}");
    assert!(!out.contains("overlay"), "{out}");
}
