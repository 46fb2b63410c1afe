//! The binary as a user runs it: spec checking with diagnostics, listing, the default run
//! against the embedded reference, exit codes.

mod common;

use std::process::Command;

use common::{KillOnDrop, free_port, wait_for_port};

fn regverify() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regverify"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// `run --check` on other spec files: the exit code and what it wrote to stderr.
fn check_specs(specs: &std::path::Path) -> (Option<i32>, String) {
    let out = regverify()
        .args(["run", "--check", "--specs"])
        .arg(specs)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_shipped_spec_files_check_clean() {
    let out = regverify().args(["run", "--check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("spec files OK"), "{stdout}");
}

#[test]
fn a_malformed_scenario_is_reported_with_its_position_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(specs.join("scenarios")).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(specs.join("requirements")).unwrap();
    for f in std::fs::read_dir(root.join("specs/requirements")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, specs.join("requirements").join(f.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        root.join("specs/profiles.yaml"),
        specs.join("profiles.yaml"),
    )
    .unwrap();
    std::fs::write(
        specs.join("scenarios/broken.yaml"),
        "scenarios:\n  - id: broken\n    title: t\n    requirements: [base.v2]\n    workflows: [pull]\n    steps:\n      - name: s\n        request: {method: GET, url: /v2/}\n        expect: {stauts: 200}\n",
    )
    .unwrap();
    let (code, stderr) = check_specs(&specs);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("broken.yaml:9:"), "{stderr}");
    assert!(stderr.contains("unknown field `stauts`"), "{stderr}");

    // a reference to an unknown requirement and an unknown variable
    std::fs::write(
        specs.join("scenarios/broken.yaml"),
        "scenarios:\n  - id: broken\n    title: t\n    requirements: [no.such]\n    workflows: [pull]\n    steps:\n      - name: s\n        request: {method: GET, url: \"/v2/{nope}\"}\n",
    )
    .unwrap();
    let (_, stderr) = check_specs(&specs);
    assert!(
        stderr.contains("unknown requirement id no.such"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown variable {nope}"), "{stderr}");

    // every check at its own position: a bad regex, an impossible predicate, an
    // expectation that names no requirement, a use of a step that does not exist
    std::fs::write(
        specs.join("scenarios/broken.yaml"),
        "scenarios:\n  - id: broken\n    title: t\n    requirements: [base.v2]\n    workflows: [pull]\n    steps:\n      - name: s\n        request: {method: GET, url: /v2/}\n        expect:\n          - {req: base.v2, status: 200, headers: {X-A: {matches: \"(\"}}}\n",
    )
    .unwrap();
    let (_, stderr) = check_specs(&specs);
    assert!(
        stderr.contains("broken.yaml:10:66: error: bad regex"),
        "{stderr}"
    );
    std::fs::write(
        specs.join("scenarios/broken.yaml"),
        "scenarios:\n  - id: broken\n    title: t\n    requirements: [base.v2]\n    workflows: [pull]\n    steps:\n      - name: s\n        request: {method: GET, url: /v2/}\n        expect:\n          - {req: base.v2, status: 200}\n          - {status: 200, headers: {X-A: {absent: true, equals: x}}}\n      - use: nothing\n",
    )
    .unwrap();
    let (_, stderr) = check_specs(&specs);
    assert!(
        stderr.contains("broken.yaml:11:42: error: absent excludes"),
        "{stderr}"
    );
    std::fs::write(
        specs.join("scenarios/broken.yaml"),
        "scenarios:\n  - id: broken\n    title: t\n    requirements: [base.v2]\n    workflows: [pull]\n    steps:\n      - name: s\n        request: {method: GET, url: /v2/}\n        expect:\n          - {req: base.v2, status: 200}\n          - {status: 200}\n      - use: nothing\n",
    )
    .unwrap();
    let (_, stderr) = check_specs(&specs);
    assert!(
        stderr.contains("broken.yaml:11:22: error: step \"s\": an expectation without req:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("broken.yaml:12:14: error: use of unknown step nothing"),
        "{stderr}"
    );

    // a capture in a step that checks nothing must name what a missing value breaks
    std::fs::write(
        specs.join("scenarios/broken.yaml"),
        "scenarios:\n  - id: broken\n    title: t\n    requirements: [base.v2]\n    workflows: [pull]\n    steps:\n      - name: s\n        request: {method: GET, url: /v2/}\n        capture:\n          loc: {header: Location}\n      - name: t\n        request: {method: GET, url: /v2/}\n        capture:\n          loc2: {header: Location, req: no.such}\n        expect: {req: base.v2, status: 200}\n",
    )
    .unwrap();
    let (code, stderr) = check_specs(&specs);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("broken.yaml:10:16: error: step \"s\": capture loc in a step without expectations has no req:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("step \"t\": unknown requirement id no.such"),
        "{stderr}"
    );
}

#[test]
fn list_names_scenarios_by_workflow() {
    let out = regverify().args(["run", "--list"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pull::blob-get: test"), "{stdout}");
    assert!(
        stdout.contains("push::chunk-out-of-order: test"),
        "{stdout}"
    );
}

#[test]
fn the_default_command_runs_the_suite_against_the_embedded_reference() {
    let out = regverify().output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(embedded reference)"), "{stdout}");
    assert!(stdout.contains("profile all"), "{stdout}");
    assert!(stdout.contains("seed "), "{stdout}");
    assert!(stdout.contains("— conformant"), "{stdout}");
    assert!(stdout.contains(" 0 failed, 0 errors"), "{stdout}");
}

/// `serve` with a defect on a free port, killed when dropped.
fn defective_server(defect: &str) -> (KillOnDrop, u16) {
    let port = free_port();
    let server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_regverify"))
            .args(["serve", "--memory", "--defect", defect])
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(port), "the server did not start");
    (server, port)
}

#[test]
fn a_failing_registry_gives_exit_code_one() {
    let (_server, port) = defective_server("base-404");
    let out = regverify()
        .args(["run", &format!("http://127.0.0.1:{port}"), "base-v2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn a_must_within_an_optional_feature_is_reported_with_its_condition() {
    let (_server, port) = defective_server("single-post-no-location");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = regverify()
        .args(["run", &format!("http://127.0.0.1:{port}"), "single-post"])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("push.single-post.201 [MUST, when single-POST is supported]"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let entry = report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "push.single-post.201")
        .unwrap();
    assert_eq!(entry["level"], "MUST");
    assert_eq!(entry["when"], "single-POST is supported");
    assert_eq!(entry["verdict"], "fail");
}

/// A registry that answers the preflight `GET /v2/` and every other request with garbage in
/// place of its headers, so each scenario ends in an error (an answer that cannot be read),
/// never in a verdict. (A request closed without any answer would be a verdict: it fails
/// `http.framing`.) Serves until the test process ends.
fn registry_that_garbles_answers() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                let answer: &[u8] = if line.starts_with("GET /v2/ ") {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                } else {
                    b"HTTP/1.1 200 OK\r\nthis is no header\r\n\x01\x02\r\n\r\n"
                };
                let _ = stream.write_all(answer);
            });
        }
    });
    port
}

#[test]
fn errors_are_marked_and_counted_as_errors_in_the_one_summary() {
    let port = registry_that_garbles_answers();
    let out = regverify()
        .args(["run", &format!("http://127.0.0.1:{port}"), "pull::"])
        .args(["--timeout", "5"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // one mark per scenario: errors (all but the check of `GET /v2/` itself), no failure
    let marks = stdout
        .lines()
        .find(|l| !l.is_empty() && l.chars().all(|c| ".FEs".contains(c)))
        .unwrap_or_else(|| panic!("no line of marks in\n{stdout}"));
    let count = |m: char| marks.chars().filter(|&c| c == m).count();
    assert!(count('E') > 5 && count('F') == 0, "{marks}");
    // and a single summary, whose counts are those marks
    let summary = format!(
        "scenarios: {} passed, 0 failed, {} errors, {} skipped",
        count('.'),
        count('E'),
        count('s')
    );
    assert!(stdout.contains(&summary), "{summary} not in\n{stdout}");
    assert!(
        !stdout.contains("test result"),
        "a second summary:\n{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn an_unreachable_registry_is_one_message_and_exit_code_two() {
    // nothing listens on this port: the preflight says so once, no scenario runs
    let port = free_port();
    let out = regverify()
        .args(["run", &format!("http://127.0.0.1:{port}"), "--timeout", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "{stderr}");
    assert!(stderr.contains("cannot reach the registry"), "{stderr}");
    assert!(!stdout.contains("ERROR"), "no scenario ran: {stdout}");
}

#[test]
fn profile_help_lists_the_profiles_and_the_default() {
    let out = regverify().args(["run", "--help"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("[default: oci-1.1]"), "{stdout}");
    for p in [
        "oci-1.0",
        "oci-next",
        "distribution",
        "read-only",
        "seed",
        "all",
    ] {
        assert!(stdout.contains(&format!("  {p} ")), "{p}: {stdout}");
    }
}

#[test]
fn a_specs_folder_in_the_working_directory_shadows_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("specs/scenarios")).unwrap();
    std::fs::write(dir.path().join("specs/requirements.yaml"), "not: [yaml").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_regverify"))
        .current_dir(dir.path())
        .args(["run", "--check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("spec files OK"), "{stdout}");
}

#[test]
fn coverage_shows_every_testable_requirement_covered() {
    let out = regverify().arg("coverage").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(!stdout.contains("NOT COVERED"), "{stdout}");
    assert!(
        stdout.contains("client duty: judged by `regverify clients`"),
        "{stdout}"
    );
    assert!(stdout.contains("requirements in all"), "{stdout}");
}

#[test]
fn defects_are_listed_with_what_they_break() {
    let out = regverify()
        .args(["serve", "--defect", "list"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("accept-out-of-order"), "{stdout}");
    assert!(stdout.contains("breaks: push.chunk.order"), "{stdout}");
}

#[test]
fn the_oci_conformance_environment_works_unchanged() {
    let port = free_port();
    let server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_regverify"))
            .args(["serve", "--memory", "--addr", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for_port(port), "the server did not start");
    let reports = tempfile::tempdir().unwrap();
    let out = regverify()
        .arg("run")
        .env("OCI_ROOT_URL", format!("http://127.0.0.1:{port}"))
        .env("OCI_NAMESPACE", "myorg/conformance")
        .env("OCI_TEST_PULL", "1")
        .env("OCI_REPORT_DIR", reports.path())
        .output()
        .unwrap();
    drop(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("registry http://127.0.0.1:{port}/")),
        "{stdout}"
    );
    for f in ["junit.xml", "results.json", "report.html"] {
        assert!(reports.path().join(f).is_file(), "{f} missing");
    }
    // only the pull workflow ran; the others are reported as not selected
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.path().join("results.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| {
            let s = v["scenarios"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == *n)
                .unwrap();
            s["workflows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w == "pull")
        }),
        "{names:?}"
    );
    assert!(
        stdout.contains(" not selected in "),
        "unselected workflows are reported: {stdout}"
    );
    let tags = std::fs::read_to_string(reports.path().join("results.json")).unwrap();
    assert!(
        tags.contains("myorg/conformance/"),
        "scenarios work under OCI_NAMESPACE"
    );
}

/// A registry address typed without a scheme is refused with the URL it probably meant, by
/// every command that takes one as a positional: taken as a name filter it would select
/// nothing, and the run would pass.
#[test]
fn a_host_without_a_scheme_is_refused_with_the_url_it_meant() {
    for (args, url) in [
        (vec!["run", "localhost:5000"], "http://localhost:5000"),
        (vec!["run", "127.0.0.1:5000"], "http://127.0.0.1:5000"),
        (vec!["run", "[::1]:5000"], "http://[::1]:5000"),
        (
            vec!["run", "registry.example.com"],
            "https://registry.example.com",
        ),
        (
            vec!["run", "localhost:5000", "push"],
            "http://localhost:5000",
        ),
        (vec!["seed", "localhost:5000"], "http://localhost:5000"),
        (vec!["matrix", "localhost:5000"], "http://localhost:5000"),
        (
            vec!["explore", "localhost:5000", "--ops", "1"],
            "http://localhost:5000",
        ),
    ] {
        let out = regverify().args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("did you mean {url}?")),
            "{args:?}: {stderr}"
        );
        assert!(!stdout.contains("conformant"), "{args:?}: {stdout}");
    }
}

/// A filter, a skip or an exact name that selects no scenario of the profile names itself
/// and exits 2, before any registry is started or reached.
#[test]
fn a_filter_matching_no_scenario_exits_two_naming_it() {
    for (args, named) in [
        (
            vec!["run", "no-such-scenario"],
            "filter \"no-such-scenario\"",
        ),
        (vec!["run", "--exact", "push"], "--exact filter \"push\""),
        (
            vec!["run", "--skip", "no-such-scenario"],
            "--skip \"no-such-scenario\"",
        ),
        (
            vec!["run", "--list", "no-such-scenario"],
            "filter \"no-such-scenario\"",
        ),
        (
            vec!["run", "http://127.0.0.1:9/", "no-such-scenario"],
            "filter \"no-such-scenario\"",
        ),
    ] {
        let out = regverify().args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("{named} matches no scenario of profile")),
            "{args:?}: {stderr}"
        );
        assert!(!stdout.contains("conformant"), "{args:?}: {stdout}");
    }
}
