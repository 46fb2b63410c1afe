//! Exploration against the reference over real HTTP: the clean reference, and every
//! variation, survive random sequences with no discrepancy; each defect made for exploration
//! is found within 2,000 operations on at least 4 seeds of 5, shrunk to at most 8 operations,
//! and the scenario written for it fails on the defect and passes on the reference.
//! Registries run on memory storage: the filesystem's syncs would make the counts slow.

mod common;

use std::path::Path;

use common::{Registry, root, start};
use regverify::runner::client::{Client, ClientConfig};
use regverify::runner::exec::{self, RunContext, Verdict};
use regverify::runner::explore::{self, Finding, Settings, scenario};
use regverify::runner::loader;
use regverify::server::Config;
use regverify::server::defects::Defect;
use regverify::server::variations::VARIATIONS;
use reqwest::Url;

/// Held shared by every test and alone by the race test, so that the race is explored and
/// shrunk on a machine the other explorations are not loading.
static EXCLUSIVE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn base(reg: &Registry) -> Url {
    Url::parse(&format!("{}/", reg.url)).unwrap()
}

fn client() -> Client {
    Client::new(ClientConfig::default()).unwrap()
}

async fn explore_once(reg: &Registry, seed: u64, ops: u64, clients: usize) -> explore::Outcome {
    let settings = Settings {
        seed,
        ops,
        clients,
        tries: 4,
        // a cap, not a target: a loaded machine replays slower
        shrink_budget: std::time::Duration::from_secs(60),
        ..Settings::default()
    };
    explore::explore(&client(), &base(reg), &settings, &mut |_, _| {})
        .await
        .expect("the registry answers")
}

fn shown(f: &Finding) -> String {
    format!(
        "[{}] {}\n  {}",
        f.discrepancy.requirement,
        f.discrepancy.message,
        f.steps().join("\n  ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_survives_seeds_and_clients() {
    let _shared = EXCLUSIVE.read().await;
    let reg = start(Config::default(), false).await;
    for (seed, ops, clients) in [
        (1, 1500, 1),
        (2, 1500, 1),
        (3, 1500, 1),
        (4, 1000, 4),
        (5, 1000, 4),
    ] {
        let o = explore_once(&reg, seed, ops, clients).await;
        assert_eq!(o.ops, ops);
        if let Some(f) = &o.finding {
            panic!("seed {seed}, {clients} clients: {}", shown(f));
        }
    }
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variation_survives() {
    let _shared = EXCLUSIVE.read().await;
    for v in VARIATIONS {
        let reg = start(
            Config {
                variations: [v.variation].into_iter().collect(),
                ..Config::default()
            },
            false,
        )
        .await;
        let o = explore_once(&reg, 11, 600, 1).await;
        if let Some(f) = &o.finding {
            panic!("variation {}: {}", v.name, shown(f));
        }
        let o = explore_once(&reg, 12, 200, 3).await;
        if let Some(f) = &o.finding {
            panic!("variation {} with 3 clients: {}", v.name, shown(f));
        }
        reg.server.shutdown().await;
    }
}

/// Runs the one scenario under `dir` against `url`.
async fn replay(dir: &Path, url: &str) -> Verdict {
    let specs = loader::load(dir, &root().join("fixtures")).expect("the written scenario loads");
    let s = specs
        .scenarios
        .iter()
        .find(|s| s.id.starts_with("explore-"))
        .expect("one explore scenario");
    let ctx = RunContext {
        client: client(),
        base: Url::parse(&format!("{url}/")).unwrap(),
        namespace: "replay".into(),
        crossmount: None,
        seed: 7,
        run_tag: format!("{:x}", std::process::id()),
        fixtures: root().join("fixtures").into(),
        check_warnings: false,
        judge_main: false,
        error_codes: Default::default(),
        cleanup: false,
        foreign_urls: Default::default(),
    };
    exec::run(&ctx, s).await.verdict
}

/// Explores `defect` on five seeds; at least four find it, each shrunk to at most 8
/// operations; the first written scenario fails on the defect and passes on the reference.
async fn found_and_replayed(defect: &str, clients: usize) {
    let d = Defect::parse(defect).expect("a defect");
    let reg = start(
        Config {
            defect: Some(d),
            ..Config::default()
        },
        false,
    )
    .await;
    let mut found = vec![];
    for seed in 1..=5 {
        let o = explore_once(&reg, seed, 2000, clients).await;
        match o.finding {
            Some(f) if f.op_count() <= 8 => {
                let shown = f
                    .reproduced
                    .map(|(k, n)| format!(", shown in {k} of {n} replays"))
                    .unwrap_or_default();
                eprintln!(
                    "{defect}, seed {seed}: found after {} ops, shrunk to {}{shown}",
                    f.after_ops,
                    f.op_count(),
                );
                found.push((seed, f))
            }
            Some(f) => panic!("{defect}, seed {seed}: not shrunk to 8: {}", shown(&f)),
            None => {}
        }
    }
    assert!(
        found.len() >= 4,
        "{defect}: found on {} seeds of 5",
        found.len()
    );
    // the finding that showed most often in its replays (a race shows now and then)
    found.sort_by(|(_, a), (_, b)| {
        let rate = |f: &Finding| f.reproduced.map_or(1.0, |(k, n)| k as f64 / n as f64);
        rate(b).total_cmp(&rate(a))
    });
    let (seed, f) = &found[0];
    let dir = tempfile::tempdir().unwrap();
    scenario::write(dir.path(), f, *seed).unwrap();
    // the scenario must fail on the defect at least once in as many replays as the
    // explorer's own tries
    let mut failed = false;
    for _ in 0..if clients > 1 { 4 } else { 1 } {
        if replay(dir.path(), &reg.url).await == Verdict::Fail {
            failed = true;
            break;
        }
    }
    assert!(
        failed,
        "{defect}: the scenario passes on the defect\n{}",
        shown(f)
    );
    reg.server.shutdown().await;
    let clean = start(Config::default(), false).await;
    assert_eq!(
        replay(dir.path(), &clean.url).await,
        Verdict::Pass,
        "{defect}: the scenario fails on the reference"
    );
    clean.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_tags_last_restart() {
    let _shared = EXCLUSIVE.read().await;
    found_and_replayed("tags-last-restart", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_tags_stale_after_delete() {
    let _shared = EXCLUSIVE.read().await;
    found_and_replayed("tags-stale-after-delete", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_tag_survives_manifest_delete() {
    let _shared = EXCLUSIVE.read().await;
    found_and_replayed("tag-survives-manifest-delete", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_blob_delete_global() {
    let _shared = EXCLUSIVE.read().await;
    found_and_replayed("blob-delete-global", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_tag_delete_race_with_concurrent_clients() {
    // alone: the race shows and shrinks by timing, which the other tests' load skews
    let _alone = EXCLUSIVE.write().await;
    found_and_replayed("tag-delete-race", 4).await;
}

/// The same seed sends the same operations: two runs on one defect stop at the same count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_is_reproducible() {
    let _shared = EXCLUSIVE.read().await;
    let reg = start(
        Config {
            defect: Some(Defect::parse("tags-stale-after-delete").unwrap()),
            ..Config::default()
        },
        false,
    )
    .await;
    let settings = Settings {
        seed: 9,
        ops: 2000,
        shrink: false,
        ..Settings::default()
    };
    let mut counts = vec![];
    for _ in 0..2 {
        let o = explore::explore(&client(), &base(&reg), &settings, &mut |_, _| {})
            .await
            .unwrap();
        let f = o.finding.expect("found");
        counts.push((f.after_ops, f.steps().last().cloned()));
    }
    assert_eq!(counts[0], counts[1]);
    reg.server.shutdown().await;
}

/// The command line end to end: `explore` exits 1 on a defect, writes its scenario and JSON,
/// and `run --specs DIR` replays the scenario: failing (exit 1) on the defect, passing (exit
/// 0) on the reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_writes_a_scenario_run_replays() {
    let _shared = EXCLUSIVE.read().await;
    let bin = env!("CARGO_BIN_EXE_regverify");
    let defective = start(
        Config {
            defect: Some(Defect::parse("tags-stale-after-delete").unwrap()),
            ..Config::default()
        },
        false,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("found");
    let json = dir.path().join("explore.json");
    let explored = std::process::Command::new(bin)
        .args([
            "explore",
            &defective.url,
            "--seed",
            "2",
            "--ops",
            "2000",
            "--out",
        ])
        .arg(&out)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&explored.stdout);
    assert_eq!(explored.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("replay it: regverify run"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["finding"]["requirement"], "tags.list", "{report}");
    let replay = |url: &str| {
        std::process::Command::new(bin)
            .args(["run", url, "--profile", "all", "--specs"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let on_defect = replay(&defective.url);
    assert_eq!(
        on_defect.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&on_defect.stdout)
    );
    let clean = start(Config::default(), false).await;
    let on_clean = replay(&clean.url);
    assert_eq!(
        on_clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&on_clean.stdout)
    );
    // and without a URL, the embedded reference survives a short exploration
    let embedded = std::process::Command::new(bin)
        .args(["explore", "--ops", "150", "--seed", "3", "--clients", "2"])
        .output()
        .unwrap();
    assert_eq!(
        embedded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&embedded.stdout)
    );
    defective.server.shutdown().await;
    clean.server.shutdown().await;
}

/// `--duration` bounds a run by time (bare seconds or with units), `--ops` beside it stops it
/// first when fewer, and a malformed duration is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_bounds_a_run() {
    let _shared = EXCLUSIVE.read().await;
    let bin = env!("CARGO_BIN_EXE_regverify");
    let reg = start(Config::default(), false).await;
    let dir = tempfile::tempdir().unwrap();
    let explore = |extra: &[&str]| {
        let json = dir.path().join("explore.json");
        let started = std::time::Instant::now();
        let out = std::process::Command::new(bin)
            .args(["explore", &reg.url, "--seed", "4"])
            .args(extra)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{extra:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        (started.elapsed(), report)
    };
    for asked in ["2", "2s", "2000ms"] {
        let (took, report) = explore(&["--duration", asked]);
        let ops = report["operations"].as_u64().unwrap();
        let seconds = report["seconds"].as_f64().unwrap();
        assert!(
            (2.0..30.0).contains(&seconds) && took.as_secs_f64() >= 2.0,
            "--duration {asked}: explored {seconds} s"
        );
        // more than the 1,000 a run without --ops or --duration sends would be fine; none is not
        assert!(ops > 0, "--duration {asked}: no operation sent");
    }
    let (_, report) = explore(&["--duration", "10m", "--ops", "40"]);
    assert_eq!(report["operations"], 40, "{report}");
    let refused = std::process::Command::new(bin)
        .args(["explore", &reg.url, "--duration", "soon"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a duration"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    reg.server.shutdown().await;
}

/// `--tolerate`: a known discrepancy a read shows is counted and stepped over, with one client
/// and with reads run beside writes, and the run goes on to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tolerated_discrepancy_is_counted_and_stepped_over() {
    let _shared = EXCLUSIVE.read().await;
    let reg = start(
        Config {
            defect: Some(Defect::parse("tags-last-restart").unwrap()),
            ..Config::default()
        },
        false,
    )
    .await;
    for clients in [1, 4] {
        let plain = Settings {
            seed: 3,
            ops: 1500,
            clients,
            shrink: false,
            ..Settings::default()
        };
        let o = explore::explore(&client(), &base(&reg), &plain, &mut |_, _| {})
            .await
            .unwrap();
        let known = o.finding.expect("the defect is found").discrepancy;
        let tolerant = Settings {
            tolerate: vec![known.requirement.to_string()],
            ..plain
        };
        let o = explore::explore(&client(), &base(&reg), &tolerant, &mut |_, _| {})
            .await
            .unwrap();
        if let Some(f) = &o.finding {
            panic!(
                "{clients} clients, {} tolerated: {}",
                known.requirement,
                shown(f)
            );
        }
        assert_eq!(o.ops, 1500);
        let counted: Vec<_> = o
            .tolerated
            .iter()
            .map(|(d, n)| (d.requirement, *n))
            .collect();
        assert!(
            matches!(counted.as_slice(), [(r, n)] if *r == known.requirement && *n > 1),
            "{clients} clients: {counted:?}"
        );
    }
    reg.server.shutdown().await;
}
