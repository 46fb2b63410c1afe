//! The runner: scenarios kept as data under `specs/`, replayed against a registry.

pub mod client;
pub mod content;
pub mod corpus;
pub mod coverage;
pub mod exec;
pub mod expect;
pub mod harness;
pub mod loader;
pub mod model;
pub mod report;
pub mod template;
