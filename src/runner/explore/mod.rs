//! Model-based exploration (`regverify explore`): seeded random sequences of registry
//! operations in a few repositories, each answer judged against a model of what the registry
//! must hold; a discrepancy is shrunk to a short sequence and written as a scenario that
//! `regverify run --specs DIR` replays.
//!
//! Pieces, one job each: [`ops`] (operations and their generator), [`exec`] (sending one),
//! [`model`] (what the registry must hold), [`oracle`] and [`lists`] (judging answers),
//! [`linear`] (concurrent rounds: some order must explain them), [`shrink`] and
//! [`scenario`] (the replayable result).

pub(crate) mod exec;
mod linear;
mod lists;
pub(crate) mod model;
mod op;
pub(crate) mod ops;
pub(crate) mod oracle;
pub mod scenario;
mod shrink;

use std::time::{Duration, Instant};

use reqwest::Url;

use crate::runner::client::{Client, TransportError};
use exec::Target;
use linear::State;
use ops::{Generator, Offered, Op};
use oracle::{Learned, Switch};

/// What to explore, and for how long.
#[derive(Clone, Debug)]
pub struct Settings {
    pub seed: u64,
    /// Stop after this many operations…
    pub ops: u64,
    /// …or after this long, whichever comes first.
    pub duration: Option<Duration>,
    /// Operations run at once (rounds of this many).
    pub clients: usize,
    /// The repositories' namespace: `NS/s<seed>-<run>/r<i>`.
    pub namespace: String,
    /// Replays of a concurrent sequence: while shrinking, a candidate counts when it shows in
    /// one of them; the result says in how many of them it showed.
    pub tries: usize,
    /// Whether to shrink a discrepancy found.
    pub shrink: bool,
    /// Time spent shrinking at most; the shortest sequence so far is kept when it runs out.
    pub shrink_budget: Duration,
    /// Requirements whose discrepancies are known: counted and stepped over when a read shows
    /// one (the model is then still right), instead of ending the run.
    pub tolerate: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            seed: 1,
            ops: 1000,
            duration: None,
            clients: 1,
            namespace: "explore".into(),
            tries: 5,
            shrink: true,
            shrink_budget: Duration::from_secs(120),
            tolerate: vec![],
        }
    }
}

/// An answer no model state explains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discrepancy {
    /// The requirement broken (an id of `specs/requirements/`).
    pub requirement: &'static str,
    pub message: String,
}

impl From<oracle::Discrepancy> for Discrepancy {
    fn from(d: oracle::Discrepancy) -> Discrepancy {
        Discrepancy {
            requirement: d.requirement,
            message: d.message,
        }
    }
}

/// A discrepancy and the shortest sequence found that shows it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub discrepancy: Discrepancy,
    /// Operations run before it showed.
    pub after_ops: u64,
    /// The sequence that shows it, shrunk when asked: rounds of operations run at once.
    pub(crate) rounds: Vec<Vec<Op>>,
    /// For a concurrent sequence: how many of how many replays showed it.
    pub reproduced: Option<(usize, usize)>,
}

impl Finding {
    /// The operations of the sequence, one line each (`‖` joins those run at once).
    pub fn steps(&self) -> Vec<String> {
        self.rounds
            .iter()
            .map(|r| r.iter().map(Op::describe).collect::<Vec<_>>().join("  ‖  "))
            .collect()
    }
    pub fn op_count(&self) -> usize {
        self.rounds.iter().map(Vec::len).sum()
    }
    pub fn concurrent(&self) -> bool {
        self.rounds.iter().any(|r| r.len() > 1)
    }
}

/// What an exploration did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub ops: u64,
    pub elapsed: Duration,
    pub finding: Option<Finding>,
    /// The behaviours left open by the spec, as the registry showed them.
    pub behaviours: Vec<(&'static str, &'static str)>,
    /// Known discrepancies stepped over: how often each showed, and the first.
    pub tolerated: Vec<(Discrepancy, u64)>,
}

impl Outcome {
    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("the registry could not be reached: {0}")]
    Transport(#[from] TransportError),
}

/// Progress: operations done and the time taken.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, Duration) + Send);

fn run_stamp() -> String {
    let mut b = [0u8; 3];
    // names only need to differ between runs; a failing source leaves the same stamp
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn offered(learned: &Learned) -> Offered {
    Offered {
        sha512: learned.sha512 != Switch::Off,
        single_post: learned.single_post != Switch::Off,
    }
}

fn behaviours(l: &Learned) -> Vec<(&'static str, &'static str)> {
    let word = |s: Switch| match s {
        Switch::Unknown => "not seen",
        Switch::On => "yes",
        Switch::Off => "no",
    };
    vec![
        ("tag deletion", word(l.tag_delete)),
        ("manifest deletion", word(l.manifest_delete)),
        ("blob deletion", word(l.blob_delete)),
        ("referrers API", word(l.referrers)),
        ("catalog", word(l.catalog)),
        ("sha512 blobs", word(l.sha512)),
        ("single-POST push", word(l.single_post)),
    ]
}

/// Sends one round (its operations at once) and returns their answers.
async fn send_round(
    client: &Client,
    target: &Target,
    round: &[Op],
) -> Result<Vec<(Op, Vec<exec::Answer>)>, TransportError> {
    let answers =
        futures_util::future::join_all(round.iter().map(|op| exec::run(client, target, op))).await;
    round
        .iter()
        .cloned()
        .zip(answers)
        .map(|(op, a)| a.map(|a| (op, a)))
        .collect()
}

/// Replays `rounds` in fresh repositories; the first discrepancy not tolerated, if any, with
/// the index of the round that showed it.
pub(crate) async fn replay(
    client: &Client,
    base: &Url,
    settings: &Settings,
    rounds: &[Vec<Op>],
) -> Result<Option<(usize, Discrepancy)>, TransportError> {
    let target = Target {
        base: base.clone(),
        prefix: format!("{}/replay-{}", settings.namespace, run_stamp()),
    };
    let mut states = vec![State {
        model: Default::default(),
        learned: Default::default(),
    }];
    for (i, round) in rounds.iter().enumerate() {
        let answered = send_round(client, &target, round).await?;
        match linear::advance(&states, &answered, &target.prefix, &settings.tolerate) {
            Ok(next) => states = next.states,
            Err(d) => return Ok(Some((i, d.into()))),
        }
    }
    Ok(None)
}

/// Explores `base` as `settings` say; `progress` hears of every round.
pub async fn explore(
    client: &Client,
    base: &Url,
    settings: &Settings,
    progress: Progress<'_>,
) -> Result<Outcome, ExploreError> {
    let target = Target {
        base: base.clone(),
        prefix: format!("{}/s{}-{}", settings.namespace, settings.seed, run_stamp()),
    };
    let clients = settings.clients.max(1);
    let mut generator = Generator::new(settings.seed);
    let mut states = vec![State {
        model: Default::default(),
        learned: Default::default(),
    }];
    let mut history: Vec<Vec<Op>> = vec![];
    let start = Instant::now();
    let mut done = 0u64;
    let mut finding = None;
    let mut tolerated: Vec<(Discrepancy, u64)> = vec![];
    while done < settings.ops && settings.duration.is_none_or(|d| start.elapsed() < d) {
        let n = clients.min((settings.ops - done) as usize);
        let offer = offered(&states[0].learned);
        let mut round: Vec<Op> = (0..n)
            .map(|_| generator.next(&states[0].model, offer))
            .collect();
        ops::settle_walks(&mut round);
        let answered = send_round(client, &target, &round).await?;
        done += n as u64;
        history.push(round);
        progress(done, start.elapsed());
        match linear::advance(&states, &answered, &target.prefix, &settings.tolerate) {
            Ok(next) => {
                states = next.states;
                if let Some(d) = next.tolerated {
                    let d = Discrepancy::from(d);
                    match tolerated
                        .iter_mut()
                        .find(|(k, _)| k.requirement == d.requirement)
                    {
                        Some((_, n)) => *n += 1,
                        None => tolerated.push((d, 1)),
                    }
                }
            }
            Err(d) => {
                finding = Some(Finding {
                    discrepancy: d.into(),
                    after_ops: done,
                    rounds: history.clone(),
                    reproduced: None,
                });
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    if let Some(f) = finding.as_mut()
        && settings.shrink
    {
        shrink::shrink(client, base, settings, f).await?;
    }
    Ok(Outcome {
        ops: done,
        elapsed,
        finding,
        behaviours: behaviours(&states[0].learned),
        tolerated,
    })
}
