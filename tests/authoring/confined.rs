//! An overlay is confined: it sends no file from outside its fixtures (`..`, an absolute
//! path, a symbolic link leading out of `--fixtures DIR` or `--specs DIR`), no request to a
//! host other than the registry under test unless `--allow-foreign-urls` (a literal URL,
//! refused when the files load; a URL captured at run time, refused at the step), and no
//! size that makes the runner allocate without bound.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::root;
use crate::{check, regverify, stderr, stdout, write};

/// A scenario file of one scenario: `content` and `steps` as YAML lines, indented for their
/// place.
fn scenario(id: &str, content: &str, steps: &str) -> String {
    format!(
        "scenarios:\n  - id: {id}\n    title: an overlay's attempt\n    requirements: [http.framing]\n    workflows: [pull]\n    content:\n{content}    steps:\n{steps}"
    )
}

// the scenarios below name http.framing, judged on every answer (so on any endpoint)
const GET_V2: &str = "      - name: get\n        request: {method: GET, url: /v2/}\n        expect: {req: http.framing, status: 200}\n";

/// A copy of the embedded fixtures (the embedded scenarios send them) with a secret
/// outside it, next to it.
fn fixtures_beside_a_secret(dir: &Path) -> (PathBuf, PathBuf) {
    let fixtures = dir.join("fixtures");
    let mut todo = vec![root().join("fixtures")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            let rel = p.strip_prefix(root().join("fixtures")).unwrap();
            let to = fixtures.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&p, to).unwrap();
        }
    }
    let secret = dir.join("secret.json");
    std::fs::write(&secret, "{\"password\": \"hunter2\"}").unwrap();
    (fixtures, secret)
}

/// `run --check` of an overlay holding `text` as its one scenario file, with `fixtures`:
/// the exit code and what it printed.
fn check_overlay(dir: &Path, text: &str, fixtures: &Path) -> (Option<i32>, String) {
    let specs = dir.join("specs");
    write(&specs, "scenarios/attempt.yaml", text);
    let (code, out, err) = check(&[
        "--specs",
        specs.to_str().unwrap(),
        "--fixtures",
        fixtures.to_str().unwrap(),
    ]);
    (code, format!("{out}{err}"))
}

#[test]
fn a_fixture_path_that_climbs_out_is_refused_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let (fixtures, secret) = fixtures_beside_a_secret(dir.path());
    let spec_file = dir.path().join("specs/scenarios/attempt.yaml");
    let at = |line: u32, col: u32| format!("{}:{line}:{col}: error:", spec_file.display());
    // as content: reported at the scenario
    let climbs = scenario("climbs", "      leak: {fixture: ../secret.json}\n", GET_V2);
    let (code, out) = check_overlay(dir.path(), &climbs, &fixtures);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "{} content leak: fixture ../secret.json: refused",
            at(2, 5)
        )),
        "{out}"
    );
    // as a request body: reported at the step; and an absolute path
    let absolute = scenario(
        "absolute",
        "      c: {text: x}\n",
        &format!(
            "      - name: send\n        request: {{method: PUT, url: /v2/, body: {{fixture: {}}}}}\n        expect: {{req: http.framing, status: 200}}\n",
            secret.display()
        ),
    );
    let (code, out) = check_overlay(dir.path(), &absolute, &fixtures);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "{} step \"send\": fixture {}: refused",
            at(9, 9),
            secret.display()
        )),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_fixtures_or_the_specs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (fixtures, secret) = fixtures_beside_a_secret(dir.path());
    std::os::unix::fs::symlink(&secret, fixtures.join("innocent.json")).unwrap();
    let linked = scenario("linked", "      leak: {fixture: innocent.json}\n", GET_V2);
    let (code, out) = check_overlay(dir.path(), &linked, &fixtures);
    assert_eq!(code, Some(2), "{out}");
    let spec_file = dir.path().join("specs/scenarios/attempt.yaml");
    assert!(
        out.contains(&format!(
            "{}:2:5: error: content leak: fixture innocent.json: refused: it resolves outside the fixtures directory",
            spec_file.display()
        )),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");

    // a link inside the fixtures to a fixture inside them is an ordinary fixture
    std::fs::remove_file(fixtures.join("innocent.json")).unwrap();
    let inside = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .or_else(|| {
            let sub = fixtures.join("manifests");
            std::fs::read_dir(sub)
                .unwrap()
                .map(|e| e.unwrap().path())
                .next()
        })
        .unwrap();
    std::os::unix::fs::symlink(&inside, fixtures.join("innocent.json")).unwrap();
    let (code, out) = check_overlay(dir.path(), &linked, &fixtures);
    assert_eq!(code, Some(0), "{out}");

    // a spec file that is a link out of --specs DIR: its lines would show in diagnostics
    let outside = dir.path().join("elsewhere.yaml");
    std::fs::write(&outside, "password: hunter2\n").unwrap();
    let specs = dir.path().join("specs");
    std::fs::remove_file(specs.join("scenarios/attempt.yaml")).unwrap();
    std::os::unix::fs::symlink(&outside, specs.join("scenarios/attempt.yaml")).unwrap();
    let (code, out, err) = check(&["--specs", specs.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("attempt.yaml: refused: it resolves outside the spec directory"),
        "{err}"
    );
    assert!(!format!("{out}{err}").contains("hunter2"), "{out}{err}");
}

#[test]
fn sizes_past_their_bounds_are_loader_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = root().join("fixtures");
    // the finding as reported: a blob size that passed `--check` and aborted the run
    let blob = scenario("blob", "      big: {random: 100000000000}\n", GET_V2);
    let (code, out) = check_overlay(dir.path(), &blob, &fixtures);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(":2:5: error: content big: random: 100000000000 is more than the 67108864 bytes of content a spec file may ask for"), "{out}");
    assert!(out.contains("1 problem(s) in the spec files"), "{out}");
    let huge = scenario(
        "huge",
        "      big: {random: 100000000000}\n      config: {json: {}}\n      fat: {image: {config: config, pad_to: 100000000000}}\n",
        "      - name: again and again\n        repeat: 4000000000\n        request: {method: GET, url: /v2/}\n        expect: {req: http.framing, status: 200}\n      - name: at once\n        push: {blob: big, parallel: 100000}\n      - name: open\n        request: {method: POST, url: \"/v2/{repo}/blobs/uploads/\"}\n        expect: {req: http.framing, status: 202}\n        capture: {upload: {header: Location, resolve: true}}\n      - name: in pieces\n        request:\n          method: PATCH\n          url: \"{upload}\"\n          chunks: {content: big, count: 4000000000, location: upload}\n        expect: {req: http.framing, status: 202}\n      - name: pages\n        request: {method: GET, url: /v2/, paginate: {collect: tags, into: all, max_pages: 4000000000}}\n        expect: {req: http.framing, status: 200}\n",
    );
    let (code, out) = check_overlay(dir.path(), &huge, &fixtures);
    assert_eq!(code, Some(2), "{out}");
    let spec_file = dir.path().join("specs/scenarios/attempt.yaml");
    let at = |line: u32, col: u32| format!("{}:{line}:{col}: error:", spec_file.display());
    for expected in [
        format!(
            "{} content big: random: 100000000000 is more than the 67108864 bytes of content",
            at(2, 5)
        ),
        format!(
            "{} content fat: pad_to: 100000000000 is more than",
            at(2, 5)
        ),
        format!(
            "{} step \"again and again\": repeat: 4000000000 is more than the 1000 repetitions",
            at(11, 9)
        ),
        format!(
            "{} step \"at once\": push.parallel: 100000 is more than the 64 parallel pushes",
            at(15, 9)
        ),
        format!(
            "{} step \"in pieces\": chunks.count: 4000000000 is more than the 1000 chunks",
            at(21, 9)
        ),
        format!(
            "{} step \"pages\": paginate.max_pages: 4000000000 is more than the 10000 pages",
            at(27, 9)
        ),
    ] {
        assert!(out.contains(&expected), "{expected}\nin\n{out}");
    }
    // nothing else is wrong with it
    assert!(out.contains("6 problem(s) in the spec files"), "{out}");
    // at the bound, a size is fine
    let fits = scenario(
        "fits",
        "      big: {random: 67108864}\n",
        "      - name: at once\n        repeat: 1000\n        push: {blob: big, parallel: 64}\n",
    );
    let (code, out) = check_overlay(dir.path(), &fits, &fixtures);
    assert_eq!(code, Some(0), "{out}");
}

/// A listener on 127.0.0.2, a host other than the registry's: it counts the requests it
/// gets and answers each `200 {}`.
struct Foreign {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Foreign {
    fn start() -> Foreign {
        let listener = TcpListener::bind("127.0.0.2:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        // ends with the test process
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut seen = vec![];
                let mut buf = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            }
        });
        Foreign { port, hits }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.2:{}/v2/", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// `regverify run` of an overlay against the embedded reference, filtered to `id`: the
/// exit code and what it printed.
fn run_overlay(specs: &Path, id: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "run",
        "--specs",
        specs.to_str().unwrap(),
        "--verbose",
        "--exact",
        id,
    ];
    args.extend_from_slice(extra);
    let out = regverify(&args);
    (
        out.status.code(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

#[test]
fn a_literal_url_of_another_host_is_refused_when_the_files_load() {
    let foreign = Foreign::start();
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    let steps = format!(
        "      - name: elsewhere\n        request: {{method: GET, url: \"{}\"}}\n        expect: {{req: http.framing, status: 200}}\n",
        foreign.url()
    );
    write(
        &specs,
        "scenarios/attempt.yaml",
        &scenario("literal-foreign", "      c: {text: x}\n", &steps),
    );
    let (code, out) = run_overlay(&specs, "pull::literal-foreign", &[]);
    assert_eq!(code, Some(2), "{out}");
    let spec_file = specs.join("scenarios/attempt.yaml");
    assert!(
        out.contains(&format!(
            "{}:9:9: error: step \"elsewhere\": url \"{}\" leads to another host than the registry under test",
            spec_file.display(),
            foreign.url()
        )),
        "{out}"
    );
    assert_eq!(foreign.hits(), 0, "{out}");
    // `{registry}` is the registry, written absolutely
    let own = scenario(
        "literal-own",
        "      c: {text: x}\n",
        "      - name: home\n        request: {method: GET, url: \"{registry}/v2/\"}\n        expect: {req: http.framing, status: 200}\n",
    );
    write(&specs, "scenarios/attempt.yaml", &own);
    let (code, out) = run_overlay(&specs, "pull::literal-own", &[]);
    assert_eq!(code, Some(0), "{out}");

    // with the flag, the host is asked: the listener sees what was refused before
    write(
        &specs,
        "scenarios/attempt.yaml",
        &scenario("literal-foreign", "      c: {text: x}\n", &steps),
    );
    let (code, out) = run_overlay(&specs, "pull::literal-foreign", &["--allow-foreign-urls"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(foreign.hits(), 1, "{out}");
}

#[test]
fn a_captured_url_of_another_host_is_refused_at_the_step() {
    let foreign = Foreign::start();
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    // the loader cannot know where `{u}` leads: the registry echoes it back from a blob
    let text = scenario(
        "captured-foreign",
        &format!("      pointer: {{json: {{u: \"{}\"}}}}\n", foreign.url()),
        "      - name: push the pointer\n        push: {blob: pointer}\n      - name: read it back\n        request: {method: GET, url: \"/v2/{repo}/blobs/{pointer.digest}\"}\n        expect: {req: http.framing, status: 200}\n        capture: {u: {json: u}}\n      - name: follow it\n        request: {method: GET, url: \"{u}\"}\n        expect: {req: http.framing, status: 200}\n",
    );
    write(&specs, "scenarios/attempt.yaml", &text);
    let (code, out) = run_overlay(&specs, "pull::captured-foreign", &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "refused: http://127.0.0.2:{} is not the registry under test",
            foreign.port
        )),
        "{out}"
    );
    assert!(out.contains("--allow-foreign-urls"), "{out}");
    assert_eq!(foreign.hits(), 0, "{out}");

    let (code, out) = run_overlay(&specs, "pull::captured-foreign", &["--allow-foreign-urls"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(foreign.hits(), 1, "{out}");
}
