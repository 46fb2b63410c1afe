//! The runner: scenarios kept as data under `specs/`, checked into a plan, replayed against
//! a registry.

pub mod client;
pub mod content;
pub mod corpus;
pub mod coverage;
pub mod error;
pub mod exec;
pub mod expect;
pub mod explore;
pub mod fixtures;
pub mod harness;
pub(crate) mod jsonpath;
pub(crate) mod link;
pub mod loader;
pub mod model;
pub mod plan;
pub mod predicate;
pub(crate) mod raw;
pub mod report;
pub(crate) mod template;
pub mod verdict;
