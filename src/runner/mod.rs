//! The runner: scenarios kept as data under `specs/`, checked into a plan, replayed against
//! a registry.

pub mod baseline;
pub mod client;
pub mod compare;
pub mod content;
pub mod corpus;
pub mod coverage;
pub mod error;
pub mod evidence;
pub mod exec;
pub mod expect;
pub mod explain;
pub mod explore;
pub mod fixtures;
pub mod foreign;
pub mod harness;
pub(crate) mod jsonpath;
pub(crate) mod link;
pub mod loader;
pub mod matrix;
pub mod model;
pub mod overlay;
pub mod plan;
pub mod predicate;
pub(crate) mod raw;
pub mod redact;
pub mod report;
pub mod results;
pub mod sanitize;
pub(crate) mod template;
#[cfg(test)]
mod test_data;
pub mod trace;
pub mod verdict;
