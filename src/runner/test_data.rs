//! The test data the scenarios say is of a given length is of that length: a step named
//! "push with a 129-character tag" sends a tag of 129 characters, or the boundary it claims
//! to probe is not the one it probes.

use super::corpus::Corpus;
use super::loader;
use super::plan::{Step, StepKind};

/// Every `N-character <noun>` a step name announces, with the step.
fn announced(step: &Step) -> Vec<(usize, String)> {
    let words: Vec<&str> = step.name.split_whitespace().collect();
    words
        .windows(2)
        .filter_map(|w| {
            let n = w[0].strip_suffix("-character")?.parse().ok()?;
            Some((n, w[1].to_string()))
        })
        .collect()
}

/// The value a step sends as `noun`, when the suite knows where to find it.
fn sent(step: &Step, noun: &str) -> Option<String> {
    let StepKind::Request(r) = &step.kind else {
        return None;
    };
    match noun {
        // the reference of a manifest URL, `/v2/<name>/manifests/<reference>`
        "tag" => r
            .request
            .url
            .rsplit_once("/manifests/")
            .map(|(_, t)| t.to_string()),
        _ => None,
    }
}

fn all_steps<'s>(steps: &'s [Step], out: &mut Vec<&'s Step>) {
    for s in steps {
        out.push(s);
        if let StepKind::Concurrently(inner) = &s.kind {
            all_steps(inner, out);
        }
    }
}

#[test]
fn every_n_character_value_the_scenarios_send_has_n_characters() {
    let specs = loader::load_corpus(&Corpus::embedded()).expect("the embedded corpus loads");
    let mut measured = 0;
    for scenario in &specs.scenarios {
        let mut steps = vec![];
        all_steps(&scenario.steps, &mut steps);
        all_steps(&scenario.cleanup, &mut steps);
        for step in steps {
            for (n, noun) in announced(step) {
                let value = sent(step, &noun).unwrap_or_else(|| {
                    panic!(
                        "{}: no rule here finds the {n}-character {noun} of step {:?}",
                        step.source, step.name
                    )
                });
                assert!(
                    !value.contains('{'),
                    "{}: the {noun} is templated; measure what it renders to",
                    step.source
                );
                assert_eq!(
                    value.chars().count(),
                    n,
                    "{}: step {:?} sends {value:?}",
                    step.source,
                    step.name
                );
                measured += 1;
            }
        }
    }
    // the tag-length scenario's two boundaries at least
    assert!(measured >= 2, "only {measured} announced lengths found");
}
