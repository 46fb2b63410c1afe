//! regverify: a conformance verification suite for container registries.
//!
//! - [`oci`]: the shared vocabulary of the distribution API.
//! - [`server`]: the reference registry (`regverify serve`).

pub mod oci;
pub mod runner;
pub mod server;
