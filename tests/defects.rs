//! Proven failable: the reference with each deliberate defect, against every scenario. The
//! suite must fail on exactly the requirements the defect names, with no errors; the clean
//! reference passing everything is proven in `suite.rs`.

mod common;

use std::collections::BTreeSet;

use common::{run_profile, specs, start};
use regverify::runner::client::ClientConfig;
use regverify::runner::exec::Verdict;
use regverify::server::Config;
use regverify::server::defects::{DEFECTS, Defect};

async fn failures_with(defect: Defect) -> (BTreeSet<String>, Vec<String>) {
    let reg = start(
        Config {
            defect: Some(defect),
            ..Config::default()
        },
        false,
    )
    .await;
    // every certification profile (read-only needs seeded content: see suite.rs)
    let results = run_profile(&reg.url, "all", ClientConfig::default()).await;
    let (mut failed, mut errors) = (BTreeSet::new(), vec![]);
    for r in results {
        match r.verdict {
            Verdict::Fail => {
                failed.insert(r.finding.unwrap().requirement.unwrap_or_default());
            }
            Verdict::Error => errors.push(format!("{}: {}", r.name, r.finding.unwrap().message)),
            _ => {}
        }
    }
    reg.server.shutdown().await;
    (failed, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_defect_fails_exactly_the_requirements_it_names() {
    let specs = specs();
    let mut problems = vec![];
    for (defect, id, _, breaks) in DEFECTS {
        if id.starts_with("auth-") || id.starts_with("token") || id.starts_with("scope") {
            continue; // need authentication: tests/auth.rs
        }
        for r in *breaks {
            let r = r.trim_start_matches('?');
            assert!(
                r == "*" || specs.requirements.contains_key(r),
                "{id}: unknown requirement {r}"
            );
        }
        let (failed, errors) = failures_with(*defect).await;
        let named: BTreeSet<String> = breaks
            .iter()
            .filter(|s| !s.starts_with('?'))
            .map(|s| s.to_string())
            .collect();
        let maybe: BTreeSet<String> = breaks
            .iter()
            .filter_map(|s| s.strip_prefix('?'))
            .map(String::from)
            .collect();
        let unexplained: Vec<_> = failed
            .difference(&named)
            .filter(|f| !maybe.contains(*f))
            .collect();
        let missed: Vec<_> = named.difference(&failed).collect();
        if !unexplained.is_empty() || !missed.is_empty() || !errors.is_empty() {
            problems.push(format!(
                "{id}: named {named:?}\n    failed {failed:?}\n    errors {errors:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_testable_must_has_a_defect() {
    let specs = specs();
    let covered: BTreeSet<&str> = DEFECTS.iter().flat_map(|d| d.3.iter().copied()).collect();
    let missing: Vec<&str> = specs
        .requirements
        .values()
        .filter(|r| r.untestable.is_none() && r.level.class() == "MUST")
        .map(|r| r.id.as_str())
        .filter(|id| !covered.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "testable MUSTs without a defect: {missing:?}"
    );
}
