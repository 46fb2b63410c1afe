//! Linearizability over the model: the operations of one round run at once, so any order of
//! them may explain the answers. Every state some order reaches is kept (a few, deduplicated),
//! and a round no order explains from any kept state is a discrepancy. One client makes
//! rounds of one operation, where this is plain sequential checking. What the spec leaves
//! to the registry is learned only from rounds of one operation.

use super::exec::Answer;
use super::model::Model;
use super::ops::Op;
use super::oracle::{Discrepancy, Learned, judge};

/// States kept at most: concurrent writes that leave their order open multiply them.
const MAX_STATES: usize = 256;

/// A state the registry may be in, and what it showed of the open behaviours on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct State {
    pub model: Model,
    pub learned: Learned,
}

/// Every order of `0..k`.
fn permutations(k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![vec![]];
    }
    let mut out = vec![];
    for p in permutations(k - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, k - 1);
            out.push(q);
        }
    }
    out
}

/// What a round left: the states it may have reached, and, when no order explained it
/// without stepping over a known discrepancy, the first one stepped over.
pub(crate) struct Advanced {
    pub states: Vec<State>,
    pub tolerated: Option<Discrepancy>,
}

/// The states after a round, or the discrepancy of the order closest to explaining it (the
/// one that got furthest, in the first state). A read whose answer breaks a requirement of
/// `tolerate` is stepped over (a read changes nothing the model holds, so the model stays
/// right), whatever else its round does.
pub(crate) fn advance(
    states: &[State],
    round: &[(Op, Vec<Answer>)],
    prefix: &str,
    tolerate: &[String],
) -> Result<Advanced, Discrepancy> {
    let mut next: Vec<State> = vec![];
    let mut best: Option<(usize, Discrepancy)> = None;
    let mut strict = false;
    let mut tolerated = None;
    // what the spec leaves open is learned only from an answer outside a race: inside one,
    // each answer is judged by what was known before the round, and teaches nothing
    let racing = round.len() > 1;
    for state in states {
        for order in permutations(round.len()) {
            let mut s = state.clone();
            let mut failed = None;
            let mut stepped_over = None;
            for (depth, &i) in order.iter().enumerate() {
                let (op, answers) = &round[i];
                let mut learned = s.learned;
                match judge(&s.model, op, answers, &mut learned, prefix) {
                    Ok(m) => {
                        s.model = m;
                        if !racing {
                            s.learned = learned;
                        }
                    }
                    Err(d) if !op.writes() && tolerate.iter().any(|t| t == d.requirement) => {
                        stepped_over.get_or_insert(d);
                    }
                    Err(d) => {
                        failed = Some((depth, d));
                        break;
                    }
                }
            }
            match failed {
                None => {
                    match stepped_over {
                        None => strict = true,
                        Some(d) => {
                            tolerated.get_or_insert(d);
                        }
                    }
                    if !next.contains(&s) {
                        next.push(s);
                    }
                }
                Some((depth, d)) => {
                    if best.as_ref().is_none_or(|(b, _)| depth > *b) {
                        best = Some((depth, d));
                    }
                }
            }
        }
    }
    if next.is_empty() {
        return Err(best.map(|(_, d)| d).unwrap_or(Discrepancy {
            requirement: "tags.list",
            message: "no state to start from".into(),
        }));
    }
    next.truncate(MAX_STATES);
    Ok(Advanced {
        states: next,
        tolerated: if strict { None } else { tolerated },
    })
}

#[cfg(test)]
mod tests {
    use super::permutations;

    #[test]
    fn every_order_once() {
        let p = permutations(3);
        assert_eq!(p.len(), 6);
        let mut q = p.clone();
        q.sort();
        q.dedup();
        assert_eq!(q.len(), 6);
    }
}
