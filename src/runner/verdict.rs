//! Requirement verdicts aggregated from scenario results.

use std::collections::BTreeMap;

use super::exec::{ScenarioResult, Verdict};
use super::loader::Specs;

/// Requirement → verdict: failed if any scenario failed on it; passed if a scenario listing
/// it passed (or failed on another requirement after checking this one is not claimed).
pub fn requirement_verdicts(
    specs: &Specs,
    results: &[ScenarioResult],
) -> BTreeMap<String, Verdict> {
    let mut out: BTreeMap<String, Verdict> = BTreeMap::new();
    let rank = |v: Verdict| match v {
        Verdict::Fail => 3,
        Verdict::Error => 2,
        Verdict::Pass => 1,
        Verdict::Skip => 0,
    };
    let mut set = |id: &str, v: Verdict| {
        let e = out.entry(id.to_string()).or_insert(v);
        if rank(v) > rank(*e) {
            *e = v;
        }
    };
    for r in results {
        match r.verdict {
            Verdict::Fail => {
                if let Some(req) = r.finding.as_ref().and_then(|f| f.requirement.as_deref()) {
                    set(req, Verdict::Fail);
                }
                for q in &r.requirements {
                    set(q, Verdict::Skip);
                }
            }
            v => {
                for q in &r.requirements {
                    set(q, v);
                }
            }
        }
    }
    out.retain(|k, _| specs.requirements.contains_key(k));
    out
}
