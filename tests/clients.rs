//! `regverify clients`: the scripted client (tests/clients/scripted.py) keeping every client
//! duty passes each judged requirement under every condition, and breaking one duty fails
//! that requirement alone; skopeo, a real client, is judged the same way; the recorder is
//! off unless asked for.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

use common::{Http, python_with_oras, require, root, start};
use regverify::clients::judge::{JUDGED, MOUNT_CONTINUED};
use regverify::server::Config;
use regverify::server::recorder::{Recorder, STATE_PARAM};
use serde_json::Value;

const APT: &str = "apt-get update && apt-get install -y skopeo";
const APT_BUILDAH: &str = "apt-get update && apt-get install -y buildah";

/// Runs `regverify clients ARGS --json FILE`; returns the exit code and the results.
fn clients(args: &[String]) -> (i32, Value) {
    clients_with_path(args, None)
}

/// The same, with `bin` first on the clients' PATH.
fn clients_with_path(args: &[String], bin: Option<&std::path::Path>) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regverify"));
    if let Some(bin) = bin {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", bin.display()));
    }
    let out = cmd
        .arg("clients")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let text = std::fs::read(&json).unwrap_or_else(|_| {
        panic!(
            "no results (exit {code}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, serde_json::from_slice(&text).unwrap())
}

/// The scripted client's four workflows, breaking `rule` ("none": none).
fn scripted(rule: &str) -> Vec<String> {
    let python = require("python3", "apt-get install -y python3");
    let script = root().join("tests/clients/scripted.py");
    let t = |op: &str, rest: &str| {
        format!(
            "'{}' '{}' {op} {{registry}} {rest} --break {rule}",
            python.display(),
            script.display()
        )
    };
    vec![
        "--name".into(),
        format!("scripted-{rule}"),
        "--push".into(),
        t("push", "{repo} {tag} {layout}"),
        "--pull".into(),
        t("pull", "{repo} {digest} {dir}"),
        "--list-tags".into(),
        t("list-tags", "{repo}"),
        "--attach".into(),
        t("attach", "{repo} {tag} note.txt"),
    ]
}

fn the_client(results: &Value) -> &Value {
    let all = results["clients"].as_array().unwrap();
    assert_eq!(all.len(), 1);
    &all[0]
}

fn verdicts(client: &Value, verdict: &str) -> BTreeSet<String> {
    client["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == verdict)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn runs_not_as_required(client: &Value) -> Vec<String> {
    client["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["as_required"] != true)
        .map(|r| format!("{} / {}: {}", r["workflow"], r["condition"], r))
        .collect()
}

#[test]
fn a_client_keeping_every_duty_passes_every_judged_requirement_under_every_condition() {
    let (code, results) = clients(&scripted("none"));
    let c = the_client(&results);
    assert_eq!(runs_not_as_required(c), Vec::<String>::new());
    let all: BTreeSet<String> = JUDGED.iter().map(|s| s.to_string()).collect();
    assert_eq!(verdicts(c, "pass"), all, "{c:#}");
    assert_eq!(code, 0);
    // every workflow ran plainly and under every variation; pull (by digest) with blob
    // redirects and under its three defects too
    let variations = regverify::server::variations::VARIATIONS.len();
    assert_eq!(
        c["runs"].as_array().unwrap().len(),
        4 * (1 + variations) + 4
    );
}

#[test]
fn a_client_breaking_one_duty_fails_that_requirement_alone() {
    for rule in JUDGED {
        let short = rule.strip_prefix("client.").unwrap();
        let mut args = scripted(short);
        // the variations under which the chunk minimum, the fallback and the single POST's
        // continuation are judged
        args.extend(
            [
                "--variation",
                "chunk-minimum",
                "--variation",
                "no-referrers",
                "--variation",
                "no-single-post",
            ]
            .map(String::from),
        );
        let (code, results) = clients(&args);
        let c = the_client(&results);
        if rule == MOUNT_CONTINUED {
            // a permission (MAY): not using it is reported, and fails nothing
            assert_eq!(verdicts(c, "fail"), BTreeSet::new(), "{c:#}");
            assert_eq!(
                verdicts(c, "not-used"),
                BTreeSet::from([rule.to_string()]),
                "{c:#}"
            );
            assert_eq!(code, 0);
            continue;
        }
        assert_eq!(
            verdicts(c, "fail"),
            BTreeSet::from([rule.to_string()]),
            "breaking {short}: {c:#}"
        );
        assert_eq!(code, 1, "breaking {short}");
    }
}

#[test]
fn skopeo_round_trips_under_every_condition_and_breaks_no_judged_duty() {
    require("skopeo", APT);
    let (code, results) = clients(&["--client".into(), "skopeo".into()]);
    let c = the_client(&results);
    assert_eq!(runs_not_as_required(c), Vec::<String>::new());
    assert_eq!(verdicts(c, "fail"), BTreeSet::new(), "{c:#}");
    let passed = verdicts(c, "pass");
    for r in [
        "client.location-as-given",
        "client.set-content-type",
        "client.accept",
        "client.verify-blob",
        "client.follow-redirects",
    ] {
        assert!(passed.contains(r), "{r} not judged: {c:#}");
    }
    assert_eq!(code, 0);
}

/// The scripted client's push alone, rewriting its layers as `layers` says, checked as
/// `check` says.
fn scripted_push(layers: &str, check: &str) -> Vec<String> {
    let mut args = scripted("none");
    args.truncate(4);
    args[3].push_str(&format!(" --layers {layers}"));
    args.extend(["--push-check", check, "--no-variations"].map(String::from));
    args
}

fn push_runs(client: &Value) -> Vec<bool> {
    client["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["as_required"] == true)
        .collect()
}

/// A recompressed layer is not the layout's bytes but is its content; a layer whose tar
/// differs is neither.
#[test]
fn a_layer_content_push_check_takes_a_recompressed_layer_and_refuses_an_altered_one() {
    let (code, results) = clients(&scripted_push("recompressed", "bytes"));
    assert_eq!(push_runs(the_client(&results)), [false]);
    assert_eq!(code, 1);
    let (code, results) = clients(&scripted_push("recompressed", "layer-content"));
    assert_eq!(push_runs(the_client(&results)), [true], "{results:#}");
    assert_eq!(code, 0);
    let (code, results) = clients(&scripted_push("altered", "layer-content"));
    let c = the_client(&results);
    assert_eq!(push_runs(c), [false]);
    let run = c["runs"][0].to_string();
    assert!(run.contains("uncompressed is not the layout's"), "{run}");
    assert_eq!(code, 1);
}

/// buildah pushes from its own storage, recompressed, and pulls into it, unpacked: under
/// every condition its push leaves the layout's layer content and its pull unpacks the
/// layer's file, and it breaks no judged duty.
#[test]
fn buildah_pushes_the_layer_content_and_pulls_under_every_condition() {
    require("buildah", APT_BUILDAH);
    let (code, results) = clients(&["--client".into(), "buildah".into()]);
    let c = the_client(&results);
    assert_eq!(runs_not_as_required(c), Vec::<String>::new());
    assert_eq!(verdicts(c, "fail"), BTreeSet::new(), "{c:#}");
    let passed = verdicts(c, "pass");
    for r in [
        "client.location-as-given",
        "client.set-content-type",
        "client.accept",
        "client.verify-blob",
        "client.follow-redirects",
        "client.chunk-min-length",
    ] {
        assert!(passed.contains(r), "{r} not judged: {c:#}");
    }
    let variations = regverify::server::variations::VARIATIONS.len();
    assert_eq!(
        c["runs"].as_array().unwrap().len(),
        2 * (1 + variations) + 3
    );
    assert_eq!(code, 0);
}

/// The venv holding PyPI's oras and python-dxf (their programs first on the PATH).
fn venv_bin() -> std::path::PathBuf {
    let python = python_with_oras();
    let bin = python.parent().unwrap().to_path_buf();
    assert!(
        bin.join("dxf").is_file(),
        "python-dxf is not installed; install it with: target/peers-venv/bin/pip install \
         python-dxf (or run bash .ci/run)"
    );
    bin
}

/// PyPI's oras pulls and lists under every condition, but writes a corrupted blob as good.
#[test]
fn oras_py_round_trips_under_every_variation_and_takes_a_corrupted_blob() {
    let bin = venv_bin();
    let (code, results) = clients_with_path(&["--client".into(), "oras-py".into()], Some(&bin));
    let c = the_client(&results);
    let wrong = runs_not_as_required(c);
    assert_eq!(wrong.len(), 1, "{wrong:#?}");
    assert!(wrong[0].contains("defect blob-corrupted"), "{wrong:#?}");
    assert_eq!(
        verdicts(c, "fail"),
        BTreeSet::from(["client.verify-blob".to_string()])
    );
    assert!(verdicts(c, "pass").contains("client.accept"), "{c:#}");
    assert_eq!(code, 1);
}

/// python-dxf lists tags under every condition.
#[test]
fn dxf_lists_tags_under_every_condition() {
    let bin = venv_bin();
    let (code, results) = clients_with_path(&["--client".into(), "dxf".into()], Some(&bin));
    let c = the_client(&results);
    assert_eq!(runs_not_as_required(c), Vec::<String>::new());
    let variations = regverify::server::variations::VARIATIONS.len();
    assert_eq!(c["runs"].as_array().unwrap().len(), 1 + variations);
    assert_eq!(code, 0);
}

/// `client` pulling by `{digest}` with `template`, plainly, with blob redirects and under the
/// pull's three defects.
fn pull_by_digest(client: &str, template: &str, bin: Option<&std::path::Path>) -> (i32, Value) {
    let args = ["--name", client, "--pull", template, "--no-variations"].map(String::from);
    clients_with_path(&args, bin)
}

/// skopeo and buildah, pulling by digest, refuse a manifest whose bytes do not match it.
#[test]
fn skopeo_and_buildah_pulling_by_digest_refuse_a_manifest_not_matching_it() {
    require("skopeo", APT);
    require("buildah", APT_BUILDAH);
    for (name, template) in [
        (
            "skopeo",
            "skopeo --insecure-policy copy --src-tls-verify=false docker://{registry}/{repo}@{digest} oci:{dir}:{tag}",
        ),
        (
            "buildah",
            "buildah --root {dir}/storage --runroot {dir}/run --storage-driver vfs pull -q --tls-verify=false docker://{registry}/{repo}@{digest}",
        ),
    ] {
        let (code, results) = pull_by_digest(name, template, None);
        let c = the_client(&results);
        assert_eq!(runs_not_as_required(c), Vec::<String>::new(), "{name}");
        assert_eq!(c["runs"].as_array().unwrap().len(), 5, "{name}: {c:#}");
        assert_eq!(verdicts(c, "fail"), BTreeSet::new(), "{name}: {c:#}");
        assert!(
            verdicts(c, "pass").contains("client.verify-manifest"),
            "{name}: {c:#}"
        );
        assert_eq!(code, 0, "{name}");
    }
}

/// Pulling by digest, PyPI's oras writes a manifest whose bytes do not match the digest as
/// good; python-dxf refuses it (checking the Docker-Content-Digest it uses, the digest asked
/// for).
#[test]
fn oras_py_pulling_by_digest_takes_a_manifest_not_matching_it_and_dxf_refuses_it() {
    let bin = venv_bin();
    let oras = r#"python3 -c "import sys, oras.client as o; h, r, d, out = sys.argv[1:]; o.OrasClient(hostname=h, insecure=True).pull(target=h + '/' + r + '@' + d, outdir=out)" {registry} {repo} {digest} {dir}"#;
    let (code, results) = pull_by_digest("oras-py", oras, Some(&bin));
    let c = the_client(&results);
    let wrong = runs_not_as_required(c);
    assert_eq!(wrong.len(), 2, "{wrong:#?}");
    assert!(wrong[0].contains("defect blob-corrupted"), "{wrong:#?}");
    assert!(
        wrong[1].contains("defect manifest-reformatted"),
        "{wrong:#?}"
    );
    assert_eq!(
        verdicts(c, "fail"),
        BTreeSet::from([
            "client.verify-blob".to_string(),
            "client.verify-manifest".to_string()
        ])
    );
    assert_eq!(code, 1);
    let dxf = r#"env DXF_HOST={registry} DXF_INSECURE=1 sh -c 'dxf pull-blob "$0" "@$1" > "$2/layer"' {repo} {digest} {dir}"#;
    let (code, results) = pull_by_digest("dxf", dxf, Some(&bin));
    let c = the_client(&results);
    assert_eq!(runs_not_as_required(c), Vec::<String>::new());
    assert_eq!(verdicts(c, "fail"), BTreeSet::new(), "{c:#}");
    assert!(
        verdicts(c, "pass").contains("client.verify-manifest"),
        "{c:#}"
    );
    assert_eq!(code, 0);
}

#[test]
fn unusable_arguments_are_refused_before_anything_runs() {
    let bin = env!("CARGO_BIN_EXE_regverify");
    for args in [
        vec!["clients"],
        vec!["clients", "--client", "no-such-client"],
        vec!["clients", "--push", "tool {registry}"],
        vec!["clients", "--name", "x", "--push", "tool {nope}"],
        vec!["clients", "--name", "x", "--push", "tool 'open"],
        vec!["clients", "--client", "skopeo", "--variation", "no-such"],
        vec![
            "clients",
            "--name",
            "x",
            "--push",
            "tool",
            "--push-check",
            "nope",
        ],
        vec!["clients", "--name", "x", "--push", "tool && "],
    ] {
        let out = Command::new(bin).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}

#[tokio::test]
async fn the_recorder_is_off_unless_asked_for_and_keeps_no_credentials() {
    let plain = start(Config::default(), false).await;
    let h = Http::new(&plain.url);
    let r = h.req("POST", "/v2/a/b/blobs/uploads/", &[], "").await;
    let loc = r.headers["location"].to_str().unwrap();
    assert!(!loc.contains(STATE_PARAM), "{loc}");

    let recorder = Recorder::new();
    let config = Config {
        recorder: Some(Arc::clone(&recorder)),
        ..Config::default()
    };
    let recorded = start(config, false).await;
    let h = Http::new(&recorded.url);
    let r = h
        .req(
            "POST",
            "/v2/a/b/blobs/uploads/",
            &[("authorization", "Basic c2VjcmV0OnNlY3JldA==")],
            "",
        )
        .await;
    let loc = r.headers["location"].to_str().unwrap().to_string();
    assert!(loc.contains(&format!("?{STATE_PARAM}=")), "{loc}");
    // the session answers at the location given, query and all
    let r = h
        .req(
            "PATCH",
            &loc,
            &[("content-type", "application/octet-stream")],
            "abc",
        )
        .await;
    assert_eq!(r.status, 202);
    let seen = recorder.take();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].request_header("authorization"), Some("<redacted>"));
    assert_eq!(seen[1].method, "PATCH");
    assert_eq!(seen[1].target, loc);
    assert_eq!(seen[1].body_len, 3);
    assert_eq!(seen[1].status, 202);
    assert!(recorder.take().is_empty());
}

/// A body over the recorder's limit is refused whole, never handed on cut short.
#[tokio::test]
async fn a_body_over_the_recorders_limit_is_refused_and_recorded() {
    let recorder = Recorder::with_max_body(1024);
    let config = Config {
        recorder: Some(Arc::clone(&recorder)),
        ..Config::default()
    };
    let recorded = start(config, false).await;
    let h = Http::new(&recorded.url);
    let digest = regverify::oci::Digest::sha256(&[7u8; 2048]);
    let r = h
        .req(
            "POST",
            &format!("/v2/a/b/blobs/uploads/?digest={digest}"),
            &[("content-type", "application/octet-stream")],
            vec![7u8; 2048],
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(h.get(&format!("/v2/a/b/blobs/{digest}")).await.status, 404);
    let seen = recorder.take();
    assert_eq!(seen[0].status, 413);
}

/// The same verdicts in every format, and no raw control character from a client's name or
/// output in the text report.
#[test]
fn reports_in_text_junit_and_markdown_agree_and_hold_no_raw_controls() {
    let dir = tempfile::tempdir().unwrap();
    let (junit, md, html) = (
        dir.path().join("j.xml"),
        dir.path().join("r.md"),
        dir.path().join("r.html"),
    );
    let mut args = scripted("accept");
    args[1] = "scripted\u{1b}[31m".into();
    args.extend(["--no-variations".to_string(), "--junit".into()]);
    args.push(junit.display().to_string());
    args.push("--markdown".into());
    args.push(md.display().to_string());
    args.push("--html".into());
    args.push(html.display().to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .arg("clients")
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
    let progress = String::from_utf8(out.stderr).unwrap();
    assert!(!progress.contains('\u{1b}'), "{progress}");
    assert!(text.contains("FAIL client.accept"), "{text}");
    // the statement, the client's and each workflow's: a SHOULD failed, no MUST
    let statement = "MUST 3/4 (1 not exercised) · SHOULD 5/8 (2 not exercised) · MAY used 1/1 · conditions 8/8 as required — conformant";
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(&format!(": {statement}")),
        "{text}"
    );
    assert!(
        text.contains("  workflow pull: MUST 0/4 (4 not exercised) · SHOULD 3/8 (4 not exercised) · MAY used 0/1 (1 not exercised) · conditions 5/5 as required — conformant"),
        "{text}"
    );
    assert!(text.contains("PASS client.set-content-type"), "{text}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no test case {name}: {xml}"))
    };
    assert!(
        case("client.accept")
            .children()
            .any(|c| c.has_tag_name("failure"))
    );
    assert!(
        !case("client.set-content-type")
            .children()
            .any(|c| c.has_tag_name("failure"))
    );
    assert!(
        !case("pull / plain")
            .children()
            .any(|c| c.has_tag_name("failure"))
    );

    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("| `client.accept` | SHOULD | **fail** |"),
        "{md}"
    );
    assert!(
        md.contains("| `client.set-content-type` | MUST | pass |"),
        "{md}"
    );
    assert!(!md.contains('\u{1b}'), "{md}");
    assert!(md.contains(&format!("**{statement}**")), "{md}");

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains('\u{1b}'), "{page}");
    assert!(page.contains(statement), "{page}");
    let cell = |id: &str| {
        let at = page.find(&format!("<code>{id}</code>")).unwrap();
        page[at..].split("</tr>").next().unwrap().to_string()
    };
    assert!(cell("client.accept").contains(r#"class="fail""#), "{page}");
    assert!(
        cell("client.set-content-type").contains(r#"class="pass""#),
        "{page}"
    );
}

/// Several clients: a table of requirement × client and of workflow and condition × client,
/// then each client's statement; one client alone gets none.
#[test]
fn several_clients_are_shown_side_by_side() {
    require("skopeo", APT);
    let mut args = vec!["--client".to_string(), "skopeo".into()];
    args.extend(scripted("accept"));
    args.push("--no-variations".into());
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("r.md");
    let out = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .arg("clients")
        .args(&args)
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |first: &str| -> Vec<String> {
        let l = text
            .lines()
            .find(|l| l.starts_with(first))
            .unwrap_or_else(|| panic!("no row {first}: {text}"));
        l.split_whitespace().map(String::from).collect()
    };
    assert_eq!(
        row("requirement "),
        ["requirement", "skopeo", "scripted-accept"]
    );
    assert_eq!(
        row("client.accept "),
        ["client.accept", "SHOULD", "pass", "FAIL"]
    );
    assert_eq!(
        row("client.chunk-range "),
        ["client.chunk-range", "MUST", "n/e", "pass"]
    );
    assert_eq!(row("attach / plain"), ["attach", "/", "plain", "·", "ok"]);
    assert_eq!(row("pull / plain"), ["pull", "/", "plain", "ok", "ok"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("scripted-accept: MUST ") && l.ends_with("— conformant")),
        "{text}"
    );

    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("| requirement | skopeo | scripted-accept |"),
        "{md}"
    );
    assert!(
        md.contains("| `client.accept` SHOULD | pass | FAIL |"),
        "{md}"
    );
    assert!(md.contains("| attach / plain | · | ok |"), "{md}");

    let (_, alone) = {
        let out = Command::new(env!("CARGO_BIN_EXE_regverify"))
            .arg("clients")
            .args(&args[2..])
            .output()
            .unwrap();
        (out.status, String::from_utf8(out.stdout).unwrap())
    };
    assert!(!alone.contains("workflow / condition"), "{alone}");
}

/// Everything a run reports but the client's own output: what became of every run (as
/// required, exit code, requests), every verdict with its evidence, and the statement.
fn verdict_summary(client: &Value) -> Vec<String> {
    let runs = client["runs"].as_array().unwrap().iter().map(|r| {
        format!(
            "{} / {}: {} {} {}",
            r["workflow"], r["condition"], r["as_required"], r["exit_code"], r["requests"]
        )
    });
    let requirements = client["requirements"].as_array().unwrap().iter().map(|r| {
        format!(
            "{} {} {}x {}",
            r["id"], r["verdict"], r["checked"], r["failures"]
        )
    });
    runs.chain(requirements)
        .chain([client["statement"]["line"].to_string()])
        .collect()
}

/// Run twice, a client gets the same verdicts, judged as often, on as many requests: nothing
/// in the judging depends on timing or on what an earlier run left.
#[test]
fn the_same_client_run_twice_gets_the_same_verdicts() {
    let mut args = scripted("tags-link");
    args.extend(
        [
            "--variation",
            "chunk-minimum",
            "--variation",
            "no-referrers",
        ]
        .map(String::from),
    );
    let (code1, first) = clients(&args);
    let (code2, second) = clients(&args);
    let (a, b) = (
        verdict_summary(the_client(&first)),
        verdict_summary(the_client(&second)),
    );
    assert_eq!(a, b);
    assert!(
        a.iter()
            .any(|l| l.contains("\"client.tags-link\" \"fail\"")),
        "{a:#?}"
    );
    assert_eq!((code1, code2), (1, 1));
}
