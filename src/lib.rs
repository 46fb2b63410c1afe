//! regverify: a conformance verification suite for container registries.
//!
//! - [`oci`]: the shared vocabulary of the distribution API.
//! - [`server`]: the reference registry (`regverify serve`).
//! - [`clients`]: registry clients judged against the reference (`regverify clients`); it
//!   uses both the server and the runner, which never use each other.

pub mod clients;
pub mod oci;
pub mod runner;
pub mod server;
