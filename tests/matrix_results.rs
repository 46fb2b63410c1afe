//! `matrix --results`: the matrix of runs made elsewhere (one results file per registry)
//! is the matrix of the same registries run here; files judged by different corpora are
//! refused unless `--mixed-corpora`; `diff` warns of them.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::start;
use regverify::server::Config;
use regverify::server::defects::Defect;
use regverify::server::variations::{Variation, Variations};

/// Deterministic: it breaks the same requirements in every run.
const DEFECT: Defect = Defect::BlobCorrupted;
const VARIATION: &str = "blob-delete-disabled";
const SELECTION: [&str; 6] = ["--workflow", "pull", "--workflow", "push", "--seed", "7"];

fn regverify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regverify"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The table of a matrix: every row with its cells, as `--json` writes it.
fn table(m: &serde_json::Value) -> Vec<serde_json::Value> {
    m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!([
                r["id"],
                r["level"],
                r["class"],
                r["cells"],
                r["not_claimed"]
            ])
        })
        .collect()
}

/// `run URL --json FILE` of the selection, from a blocking thread.
async fn run_json(url: &str, out: &Path) -> Output {
    let (url, out) = (url.to_string(), out.display().to_string());
    tokio::task::spawn_blocking(move || {
        let mut args = vec!["run", url.as_str(), "--json", out.as_str()];
        args.extend(SELECTION);
        regverify(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matrix_of_saved_runs_is_the_matrix_of_the_registries() {
    let mut variations = Variations::new();
    variations.insert(Variation::parse(VARIATION).unwrap());
    let registries = [
        start(Config::default(), false).await,
        start(
            Config {
                defect: Some(DEFECT),
                ..Config::default()
            },
            false,
        )
        .await,
        start(
            Config {
                variations,
                ..Config::default()
            },
            false,
        )
        .await,
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![];
    for (i, r) in registries.iter().enumerate() {
        let f = dir.path().join(format!("run-{i}.json"));
        let o = run_json(&r.url, &f).await;
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", text(&o));
        files.push(f);
    }
    let files: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();

    let here = dir.path().join("here.json");
    let mut args = vec![
        "matrix",
        "--reference",
        "--defect",
        DEFECT.name(),
        "--variation",
        VARIATION,
        "--json",
        here.to_str().unwrap(),
    ];
    args.extend(SELECTION);
    let live = tokio::task::spawn_blocking({
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        move || {
            Command::new(env!("CARGO_BIN_EXE_regverify"))
                .args(&args)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(live.status.code(), Some(1), "{}", text(&live));

    let saved = dir.path().join("saved.json");
    let mut args = vec!["matrix", "--json", saved.to_str().unwrap(), "--results"];
    args.extend(&files);
    let from_files = regverify(&args);
    assert_eq!(from_files.status.code(), Some(1), "{}", text(&from_files));

    let (here, saved) = (json(&here), json(&saved));
    assert!(table(&here).len() > 10, "{here}");
    assert_eq!(table(&saved), table(&here));
    assert_eq!(saved["profile"], here["profile"]);
    assert_eq!(saved["seed"], 7);
    // a column per file, labelled by the registry it judged, with the report as written
    let columns = saved["columns"].as_array().unwrap();
    for ((c, r), f) in columns.iter().zip(&registries).zip(&files) {
        assert_eq!(c["label"].as_str().unwrap(), r.url.trim_end_matches('/'));
        assert_eq!(c["kind"], "results");
        assert_eq!(c["name"], *f);
        assert_eq!(c["report"], json(Path::new(f)));
    }
    // the same statements as the runs made here
    for (c, h) in columns.iter().zip(here["columns"].as_array().unwrap()) {
        assert_eq!(c["conformance"], h["conformance"]);
    }
    let out = text(&from_files);
    assert!(out.contains("pull.blob.get"), "the table is printed: {out}");

    // a run judged by another corpus: refused, unless asked for
    let mut other = json(Path::new(files[1]));
    other["corpus"]["digest"] = "sha256:0000".into();
    let other_file = dir.path().join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let other_file = other_file.to_str().unwrap();
    let o = regverify(&["matrix", "--results", files[0], other_file]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("different corpora"), "{}", text(&o));
    assert!(text(&o).contains("sha256:0000"), "{}", text(&o));
    let o = regverify(&[
        "matrix",
        "--mixed-corpora",
        "--results",
        files[0],
        other_file,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("warning: "), "{}", text(&o));
    // diff compares them all the same, and says so
    let o = regverify(&["diff", files[0], other_file]);
    assert!(
        text(&o).contains("were judged by different corpora"),
        "{}",
        text(&o)
    );
    let o = regverify(&["diff", files[0], files[2]]);
    assert!(!text(&o).contains("different corpora"), "{}", text(&o));
    // results and registries do not mix
    let o = regverify(&["matrix", "--reference", "--results", files[0]]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
