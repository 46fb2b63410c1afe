//! `aliases.yaml`: every refusal of the loader at its place, and old names resolved by
//! `explain` and in an `--expect` file.

use crate::{check, explain_json, regverify, server, stderr, stdout, strings, write};

/// `run --check` of an overlay holding only this aliases file.
fn check_aliases(yaml: &str) -> (Option<i32>, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "aliases.yaml", yaml);
    let file = dir.path().join("aliases.yaml").display().to_string();
    let (code, out, err) = check(&["--specs", dir.path().to_str().unwrap()]);
    (code, out, err, file)
}

#[test]
fn the_loader_refuses_each_bad_alias_at_its_place() {
    let cases: [(&str, &str); 7] = [
        (
            "requirements:\n  - {old: push.chunk.gone, new: no.such}\n",
            ":2:5: error: alias push.chunk.gone → no.such: no requirement no.such",
        ),
        (
            "requirements:\n  - {old: push.chunk.order, new: pull.blob.get}\n",
            ":2:5: error: alias push.chunk.order: requirement push.chunk.order exists",
        ),
        (
            "requirements:\n  - {old: x.one, new: x.two}\n  - {old: x.two, new: push.chunk.order}\n",
            ":2:5: error: alias x.one → x.two: x.two is itself an alias (x.one → x.two → push.chunk.order)",
        ),
        (
            "requirements:\n  - {old: x.a, new: x.b}\n  - {old: x.b, new: x.a}\n",
            ":2:5: error: requirement aliases form a cycle: x.a → x.b → x.a",
        ),
        (
            "requirements:\n  - {old: x.a, new: push.chunk.order}\n  - {old: x.a, new: pull.blob.get}\n",
            ":3:5: error: requirement alias x.a is defined twice",
        ),
        (
            "scenarios:\n  - {old: \"push::chunk-skips\", new: \"push::no-such\"}\n",
            ":2:5: error: alias push::chunk-skips → push::no-such: no scenario push::no-such",
        ),
        (
            "scenarios:\n  - {old: \"pull::blob-get\", new: \"push::chunk-out-of-order\"}\n",
            ":2:5: error: alias pull::blob-get: scenario pull::blob-get exists",
        ),
    ];
    for (yaml, expected) in cases {
        let (code, out, err, file) = check_aliases(yaml);
        assert_eq!(code, Some(2), "{yaml}\n{out}");
        assert!(
            err.contains(&format!("{file}{expected}")),
            "{yaml}\nexpected {expected}\n{err}"
        );
    }
    // a good one loads, and is what --check says the overlay adds
    let (code, out, err, file) = check_aliases(
        "requirements:\n  - {old: push.chunk.sequence, new: push.chunk.order}\nscenarios:\n  - {old: \"push::chunk-skips\", new: \"push::chunk-out-of-order\"}\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(&format!(
            "  added alias requirement push.chunk.sequence ({file})"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  added alias scenario push::chunk-skips ({file})"
        )),
        "{out}"
    );
}

#[test]
fn old_names_resolve_in_explain_and_in_expect_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "aliases.yaml",
        "requirements:\n  - {old: push.chunk.sequence, new: push.chunk.order}\nscenarios:\n  - {old: \"push::chunk-skips\", new: \"push::chunk-out-of-order\"}\n",
    );
    let over = d.to_str().unwrap();
    let j = explain_json(&["--specs", over, "push.chunk.sequence"]);
    assert_eq!(j["id"], "push.chunk.order");
    assert_eq!(j["renamed_from"], "push.chunk.sequence");
    assert_eq!(strings(&j["aliases"]), ["push.chunk.sequence"]);
    let j = explain_json(&["--specs", over, "push::chunk-skips"]);
    assert_eq!(j["name"], "push::chunk-out-of-order");
    assert_eq!(j["renamed_from"], "push::chunk-skips");
    assert_eq!(
        regverify(&["explain", "push.chunk.sequence"]).status.code(),
        Some(2)
    );

    // a baseline written with the old names gates a run against a registry that fails it
    let (_server, port) = server(&["--defect", "accept-out-of-order"]);
    let expect = d.join("expect.yaml");
    std::fs::write(
        &expect,
        "failures:\n  - requirement: push.chunk.sequence\n    scenario: \"push::chunk-skips\"\n    reason: appends a chunk out of order\n",
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let run = |specs: Option<&str>| {
        let mut args = vec![
            "run",
            &url,
            "push::chunk-out-of-order",
            "--exact",
            "--expect",
            expect.to_str().unwrap(),
        ];
        if let Some(s) = specs {
            args.extend(["--specs", s]);
        }
        regverify(&args)
    };
    let out = run(Some(over));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("expectations: the run matches"),
        "{}",
        stdout(&out)
    );
    // without the aliases, the old id means nothing
    let out = run(None);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("unknown requirement id push.chunk.sequence"),
        "{}",
        stderr(&out)
    );
}
