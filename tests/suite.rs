//! The shipped scenarios against the reference registry: every profile passes on the clean
//! reference, and a registry with deletion disabled gets skips, never fails.

mod common;

use common::{run_profile, specs, start};
use regverify::runner::client::ClientConfig;
use regverify::runner::exec::{ScenarioResult, Verdict};
use regverify::server::Config;

/// Without credentials the auth scenarios skip; everything else passes.
fn expected(r: &ScenarioResult) -> Verdict {
    if r.workflows
        .contains(&regverify::runner::model::Workflow::Auth)
    {
        Verdict::Skip
    } else {
        Verdict::Pass
    }
}

fn explain(r: &ScenarioResult) -> String {
    let specs = specs();
    format!(
        "{}: {}",
        r.name,
        regverify::runner::harness::failure_text(&specs, r)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_passes_on_the_reference() {
    let reg = start(Config::default(), true).await;
    for profile in ["oci-1.0", "oci-1.1", "oci-next", "distribution", "all"] {
        let results = run_profile(&reg.url, profile, ClientConfig::default()).await;
        assert!(
            results.len() > 10,
            "{profile}: only {} scenarios",
            results.len()
        );
        for r in &results {
            assert_eq!(r.verdict, expected(r), "{profile}: {}", explain(r));
        }
    }
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_disabled_is_skipped_not_failed() {
    let reg = start(
        Config {
            delete_enabled: false,
            ..Config::default()
        },
        false,
    )
    .await;
    let results = run_profile(&reg.url, "oci-next", ClientConfig::default()).await;
    let mut skipped = 0;
    for r in &results {
        if r.workflows
            .contains(&regverify::runner::model::Workflow::Management)
        {
            assert_eq!(r.verdict, Verdict::Skip, "{}", explain(r));
            assert!(r.skip_reason.as_deref().unwrap().contains("disabled"));
            skipped += 1;
        } else {
            assert_eq!(r.verdict, expected(r), "{}", explain(r));
        }
    }
    assert!(skipped >= 4);
    reg.server.shutdown().await;
}

/// A skip met after a failure is kept: with setup pushes that need their fallback (a closing
/// PUT that carries the blob is refused) and deletion answered 405, the deletion scenarios
/// fail the closing PUT's requirement once and skip what deletion would have shown — nothing
/// is "not verified" behind a setup push that in fact got its content in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_after_a_setup_push_that_needed_its_fallback_is_kept() {
    use regverify::runner::exec::Outcome;
    let reg = start(
        Config {
            defect: Some(regverify::server::defects::Defect::MonolithicRefusedNoDelete),
            ..Config::default()
        },
        false,
    )
    .await;
    let results = run_profile(&reg.url, "oci-1.1", ClientConfig::default()).await;
    let mut deletions = 0;
    for r in results.iter().filter(|r| {
        r.workflows
            .contains(&regverify::runner::model::Workflow::Management)
    }) {
        deletions += 1;
        assert!(
            r.skip_reason
                .as_deref()
                .is_some_and(|s| s.contains("disabled")),
            "{}",
            explain(r)
        );
        for c in &r.checks {
            assert!(
                c.outcome != Outcome::NotVerified,
                "{}: {} not verified, blocked by {:?}",
                r.name,
                c.requirement,
                c.blocked_by
            );
            if c.requirement.starts_with("delete.") {
                assert_eq!(c.outcome, Outcome::Skip, "{}: {c:?}", r.name);
            }
        }
        let failed: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| c.requirement.as_str())
            .collect();
        assert!(
            failed.iter().all(|q| *q == "push.put.201"),
            "{}: {failed:?}",
            r.name
        );
    }
    assert!(deletions >= 4, "{deletions}");
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_clean_up_after_themselves() {
    let reg = start(Config::default(), true).await;
    let results = run_profile(&reg.url, "oci-next", ClientConfig::default()).await;
    assert!(results.iter().all(|r| r.verdict == expected(r)));
    // every manifest is gone; no tag survives
    for repo in reg.storage.repositories().unwrap() {
        let tags = reg.storage.tags(&repo).unwrap().unwrap_or_default();
        assert!(tags.is_empty(), "{repo} keeps tags {tags:?}");
    }
    // every blob link is gone: no repository still serves content of a scenario's own (the
    // bytes the specs fix, shared by every scenario that pushes them, are left in place)
    let shared = [
        regverify::oci::Digest::sha256(b"{}"),
        regverify::oci::Digest::sha256(b""),
    ];
    for d in reg.storage.blobs().unwrap() {
        if shared.contains(&d) {
            continue;
        }
        for repo in reg.storage.repositories().unwrap() {
            assert!(
                reg.storage.blob_size(&repo, &d).unwrap().is_none(),
                "{repo} still links {d}"
            );
        }
    }
    reg.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_registry_passes_on_seeded_content_and_fails_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let s: std::sync::Arc<dyn regverify::server::storage::Storage> =
            std::sync::Arc::new(regverify::server::storage::FsStorage::open(dir.path()).unwrap());
        s
    };
    let spawn = |config: Config| {
        regverify::server::spawn(
            regverify::server::App::new(config, open()),
            "127.0.0.1:0".parse().unwrap(),
        )
    };
    // read-only before seeding: the profile fails
    let ro = spawn(Config {
        read_only: true,
        ..Config::default()
    })
    .await
    .unwrap();
    let results = run_profile(&ro.url(), "read-only", ClientConfig::default()).await;
    assert!(results.iter().all(|r| r.verdict == Verdict::Fail));
    ro.shutdown().await;
    // seed while writable, then serve read-only
    let rw = spawn(Config::default()).await.unwrap();
    let seeded = run_profile(&rw.url(), "seed", ClientConfig::default()).await;
    assert!(seeded.iter().all(|r| r.verdict == Verdict::Pass));
    rw.shutdown().await;
    let ro = spawn(Config {
        read_only: true,
        ..Config::default()
    })
    .await
    .unwrap();
    let results = run_profile(&ro.url(), "read-only", ClientConfig::default()).await;
    assert_eq!(results.len(), 3);
    for r in &results {
        assert_eq!(r.verdict, Verdict::Pass, "{}", explain(r));
    }
    ro.shutdown().await;
}

/// No two scenarios push the same content (configs included), so one scenario's cleanup
/// can never delete what another relies on. The only shared bytes are those the spec fixes:
/// the empty JSON object `{}` (the empty descriptor) and the empty blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_pushes_content_of_its_own() {
    use std::collections::BTreeMap;
    let reg = start(Config::default(), false).await;
    let results = run_profile(&reg.url, "all", ClientConfig::default()).await;
    let shared = [
        regverify::oci::Digest::sha256(b"{}").to_string(),
        regverify::oci::Digest::sha256(b"").to_string(),
    ];
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut clashes = vec![];
    for r in &results {
        for e in r
            .exchanges
            .iter()
            .filter(|e| e.method == "PUT" && e.status == Some(201))
        {
            let url = reqwest::Url::parse(&e.url).unwrap();
            let digest = if url.path().contains("/blobs/uploads/") {
                url.query_pairs()
                    .find(|(k, _)| k == "digest")
                    .map(|(_, v)| v.to_string())
            } else if url.path().contains("/manifests/") {
                e.request_body.digest.clone()
            } else {
                None
            };
            let Some(d) = digest.filter(|d| !shared.contains(d)) else {
                continue;
            };
            let first = owner.entry(d.clone()).or_insert_with(|| r.name.clone());
            if *first != r.name {
                clashes.push(format!("{d}: {first} and {}", r.name));
            }
        }
    }
    assert!(owner.len() > 50, "only {} pushes seen", owner.len());
    assert!(clashes.is_empty(), "content shared: {clashes:#?}");
    reg.server.shutdown().await;
}

/// Per-check verdicts do not depend on how many scenarios run at once: the corpus run one
/// scenario at a time and all at once, for several seeds, against a registry with a defect
/// (image indexes refused: failures, and checks not verified behind them), gives the same
/// outcome for every check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_check_verdicts_are_the_same_at_any_parallelism() {
    same_verdicts_alone_and_at_once(regverify::server::defects::Defect::IndexRefused, true).await;
}

/// The same on a registry whose blob deletion reaches every repository: a scenario's cleanup
/// must not take content from under scenarios running beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_check_verdicts_are_the_same_at_any_parallelism_when_deletion_is_global() {
    same_verdicts_alone_and_at_once(regverify::server::defects::Defect::BlobDeleteGlobal, false)
        .await;
}

/// `blocks`: the defect stops scenarios early, so some checks are not verified.
async fn same_verdicts_alone_and_at_once(defect: regverify::server::defects::Defect, blocks: bool) {
    use regverify::runner::exec::{self, Outcome};
    use std::collections::BTreeMap;
    let reg = start(
        Config {
            defect: Some(defect),
            ..Config::default()
        },
        false,
    )
    .await;
    let specs = specs();
    let in_profile: Vec<usize> = (0..specs.scenarios.len())
        .filter(|&i| specs.in_profile(&specs.scenarios[i], "all"))
        .collect();
    let verdicts = |results: Vec<ScenarioResult>| -> BTreeMap<(String, String), Outcome> {
        results
            .into_iter()
            .flat_map(|r| {
                let name = r.name.clone();
                r.checks.into_iter().map(move |c| {
                    (
                        (name.clone(), format!("{} {}", c.source, c.requirement)),
                        c.outcome,
                    )
                })
            })
            .collect()
    };
    for seed in [1, 2, 3] {
        let mut ctx = common::context(&reg.url, ClientConfig::default(), true);
        ctx.seed = seed;
        let ctx = std::sync::Arc::new(ctx);
        let mut one_at_a_time = vec![];
        for &i in &in_profile {
            one_at_a_time.push(exec::run(&ctx, &specs.scenarios[i]).await);
        }
        let tasks: Vec<_> = in_profile
            .iter()
            .map(|&i| {
                let (specs, ctx) = (specs.clone(), ctx.clone());
                tokio::spawn(async move { exec::run(&ctx, &specs.scenarios[i]).await })
            })
            .collect();
        let mut all_at_once = vec![];
        for t in tasks {
            all_at_once.push(t.await.unwrap());
        }
        let (a, b) = (verdicts(one_at_a_time), verdicts(all_at_once));
        assert!(
            a.values().any(|o| *o == Outcome::Fail),
            "seed {seed}: the defect shows"
        );
        assert!(
            !blocks || a.values().any(|o| *o == Outcome::NotVerified),
            "seed {seed}"
        );
        let differ: Vec<_> = a
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k:?}: {v:?} alone, {:?} at once", b.get(k)))
            .collect();
        assert!(
            differ.is_empty() && a.len() == b.len(),
            "seed {seed}: {differ:#?}"
        );
    }
    reg.server.shutdown().await;
}
