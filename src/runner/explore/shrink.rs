//! Shrinking a failing sequence: cheap wholesale cuts first (the reads before the last round,
//! the repositories the last round does not touch), then delta debugging over its rounds and
//! over the operations of each concurrent round, then concurrent rounds sent one operation
//! after another, then simpler forms of each operation, keeping every change that still shows
//! the same broken requirement on a replay in fresh repositories.
//!
//! Hand-rolled rather than a property-testing crate's shrinker: a candidate is judged by
//! replaying it against a live registry (and, when concurrent, several times, since a race
//! shows only now and then), which a strategy-driven shrinker over generated values does not
//! model; the sequence itself is the only thing to shrink.

use std::time::Instant;

use reqwest::Url;

use super::ops::{Op, REPOS, Upload};
use super::{Finding, Settings, replay};
use crate::runner::client::{Client, TransportError};

struct Shrinker<'a> {
    /// The discrepancy the latest failing candidate showed.
    latest: std::sync::Mutex<Option<super::Discrepancy>>,
    client: &'a Client,
    base: &'a Url,
    settings: &'a Settings,
    requirement: &'static str,
    deadline: Instant,
}

impl Shrinker<'_> {
    /// How many of `tries` replays of `rounds` show the requirement broken (stopping at the
    /// first unless `all`).
    async fn shows(
        &self,
        rounds: &[Vec<Op>],
        tries: usize,
        all: bool,
    ) -> Result<usize, TransportError> {
        let concurrent = rounds.iter().any(|r| r.len() > 1);
        let mut hits = 0;
        for _ in 0..if concurrent { tries.max(1) } else { 1 } {
            let found = replay(self.client, self.base, self.settings, rounds).await?;
            if let Some((_, d)) = found.filter(|(_, d)| d.requirement == self.requirement) {
                *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
                hits += 1;
                if !all {
                    break;
                }
            }
        }
        Ok(hits)
    }

    async fn fails(&self, rounds: &[Vec<Op>]) -> Result<bool, TransportError> {
        if Instant::now() > self.deadline || rounds.is_empty() {
            return Ok(false);
        }
        // a concurrent candidate counts when it shows once in the settings' tries
        Ok(self.shows(rounds, self.settings.tries, false).await? > 0)
    }

    /// ddmin over whole rounds: drop chunks, halving their size when none can go.
    async fn rounds(&self, mut rounds: Vec<Vec<Op>>) -> Result<Vec<Vec<Op>>, TransportError> {
        let mut parts = 2usize;
        while rounds.len() >= 2 {
            let chunk = rounds.len().div_ceil(parts);
            let mut dropped = false;
            let mut start = 0;
            while start < rounds.len() {
                let end = (start + chunk).min(rounds.len());
                let mut candidate = rounds[..start].to_vec();
                candidate.extend_from_slice(&rounds[end..]);
                if self.fails(&candidate).await? {
                    rounds = candidate;
                    dropped = true;
                    break;
                }
                start = end;
            }
            if dropped {
                parts = (parts - 1).max(2);
            } else if parts >= rounds.len() {
                break;
            } else {
                parts = (parts * 2).min(rounds.len());
            }
        }
        Ok(rounds)
    }

    /// Drops operations from concurrent rounds, one at a time; a round left with one runs
    /// alone.
    async fn within(&self, mut rounds: Vec<Vec<Op>>) -> Result<Vec<Vec<Op>>, TransportError> {
        for r in 0..rounds.len() {
            let mut i = 0;
            while rounds[r].len() > 1 && i < rounds[r].len() {
                let mut candidate = rounds.clone();
                candidate[r].remove(i);
                if self.fails(&candidate).await? {
                    rounds = candidate;
                } else {
                    i += 1;
                }
            }
        }
        Ok(rounds)
    }

    /// Keeps only the operations on one repository the last round touches, when that alone
    /// still shows it: one candidate per repository, each cutting about two thirds.
    async fn one_repository(&self, rounds: Vec<Vec<Op>>) -> Result<Vec<Vec<Op>>, TransportError> {
        let Some(last) = rounds.last() else {
            return Ok(rounds);
        };
        for repo in (0..REPOS).filter(|r| last.iter().any(|op| op.touches(*r))) {
            let candidate: Vec<Vec<Op>> = rounds
                .iter()
                .map(|round| {
                    round
                        .iter()
                        .filter(|op| !matches!(op, Op::Catalog { .. }) && op.touches(repo))
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .filter(|round| !round.is_empty())
                .collect();
            if ops(&candidate) < ops(&rounds) && self.fails(&candidate).await? {
                return Ok(candidate);
            }
        }
        Ok(rounds)
    }

    /// Sends a concurrent round's operations one after another, in its order and then the
    /// reverse, when that still shows it: what fails in sequence is no race, and reads
    /// plainer as steps.
    async fn in_sequence(&self, mut rounds: Vec<Vec<Op>>) -> Result<Vec<Vec<Op>>, TransportError> {
        let mut r = 0;
        while r < rounds.len() {
            if rounds[r].len() < 2 {
                r += 1;
                continue;
            }
            let forward: Vec<Vec<Op>> = rounds[r].iter().map(|op| vec![op.clone()]).collect();
            let backward: Vec<Vec<Op>> = forward.iter().rev().cloned().collect();
            let width = forward.len();
            let mut kept = false;
            for order in [forward, backward] {
                let mut candidate = rounds[..r].to_vec();
                candidate.extend(order);
                candidate.extend_from_slice(&rounds[r + 1..]);
                if self.fails(&candidate).await? {
                    rounds = candidate;
                    kept = true;
                    break;
                }
            }
            r += if kept { width } else { 1 };
        }
        Ok(rounds)
    }

    /// Replaces operations by simpler forms (one page, a plain upload, a GET).
    async fn simplify(&self, mut rounds: Vec<Vec<Op>>) -> Result<Vec<Vec<Op>>, TransportError> {
        for r in 0..rounds.len() {
            for i in 0..rounds[r].len() {
                for simpler in simpler(&rounds[r][i]) {
                    let mut candidate = rounds.clone();
                    candidate[r][i] = simpler;
                    if self.fails(&candidate).await? {
                        rounds = candidate;
                        break;
                    }
                }
            }
        }
        Ok(rounds)
    }
}

/// Simpler forms of an operation, simplest first.
fn simpler(op: &Op) -> Vec<Op> {
    let mut out = vec![];
    match op {
        Op::PushBlob { upload, .. } if *upload != Upload::Monolithic => {
            let mut o = op.clone();
            if let Op::PushBlob { upload, .. } = &mut o {
                *upload = Upload::Monolithic;
            }
            out.push(o);
        }
        Op::ListTags { repo, n, last } => {
            if n.is_some() {
                out.push(Op::ListTags {
                    repo: *repo,
                    n: None,
                    last: last.clone(),
                });
            }
            if last.is_some() && n.is_some() {
                out.push(Op::ListTags {
                    repo: *repo,
                    n: *n,
                    last: None,
                });
            }
        }
        Op::GetBlob {
            repo,
            digest,
            head,
            range,
        } if *head || range.is_some() => out.push(Op::GetBlob {
            repo: *repo,
            digest: digest.clone(),
            head: false,
            range: None,
        }),
        Op::GetManifest {
            repo,
            reference,
            head: true,
        } => out.push(Op::GetManifest {
            repo: *repo,
            reference: reference.clone(),
            head: false,
        }),
        _ => {}
    }
    out
}

fn ops(rounds: &[Vec<Op>]) -> usize {
    rounds.iter().map(Vec::len).sum()
}

/// What to shrink: the requirement the finding broke, when a replay shows it again; else,
/// when the replays show another discrepancy first (a race that did not show while
/// exploring, but does now, earlier in the sequence), that one, with the sequence cut after
/// the round that showed it. `None` when no replay shows anything.
async fn target(
    client: &Client,
    base: &Url,
    settings: &Settings,
    finding: &Finding,
) -> Result<Option<(super::Discrepancy, Vec<Vec<Op>>)>, TransportError> {
    let tries = if finding.concurrent() {
        settings.tries.max(1)
    } else {
        1
    };
    let mut other = None;
    for _ in 0..tries {
        match replay(client, base, settings, &finding.rounds).await? {
            Some((_, d)) if d.requirement == finding.discrepancy.requirement => {
                return Ok(Some((d, finding.rounds.clone())));
            }
            Some((round, d)) => {
                other.get_or_insert((d, finding.rounds[..=round].to_vec()));
            }
            None => {}
        }
    }
    Ok(other)
}

/// Shrinks `finding`'s sequence in place, and counts how often a concurrent result shows.
pub(crate) async fn shrink(
    client: &Client,
    base: &Url,
    settings: &Settings,
    finding: &mut Finding,
) -> Result<(), TransportError> {
    let deadline = Instant::now() + settings.shrink_budget;
    let Some((shown, original)) = target(client, base, settings, finding).await? else {
        // a sequence that shows nothing again is reported as found, unshrunk
        return Ok(());
    };
    let requirement = shown.requirement;
    if requirement != finding.discrepancy.requirement {
        finding.discrepancy = shown;
        finding.rounds = original.clone();
    }
    let s = Shrinker {
        latest: std::sync::Mutex::new(None),
        client,
        base,
        settings,
        requirement,
        deadline,
    };
    // reads before the last round change nothing: dropping them all at once is cheap
    let (last, before) = original.split_last().expect("a finding has a round");
    let mut writes: Vec<Vec<Op>> = before
        .iter()
        .map(|r| {
            r.iter()
                .filter(|op| op.writes())
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|r| !r.is_empty())
        .collect();
    writes.push(last.clone());
    let start = if writes.len() < original.len() && s.fails(&writes).await? {
        writes
    } else {
        original
    };
    let rounds = s.one_repository(start).await?;
    let rounds = s.rounds(rounds).await?;
    let rounds = s.within(rounds).await?;
    let rounds = s.rounds(rounds).await?;
    let rounds = s.in_sequence(rounds).await?;
    let rounds = s.simplify(rounds).await?;
    // the message of the shrunk sequence itself (confirming it shows again)
    *s.latest.lock().unwrap_or_else(|p| p.into_inner()) = None;
    s.fails(&rounds).await?;
    if let Some(d) = s.latest.lock().unwrap_or_else(|p| p.into_inner()).take() {
        finding.discrepancy = d;
    }
    if rounds.iter().any(|r| r.len() > 1) {
        let tries = settings.tries.max(1);
        finding.reproduced = Some((s.shows(&rounds, tries, true).await?, tries));
    }
    finding.rounds = rounds;
    Ok(())
}
