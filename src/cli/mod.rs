//! The command line's pieces beside `main.rs`: the exit-code mapping, `serve` and `gc`, the
//! embedded reference `run` starts, the `--profile` help.

pub mod error;
pub mod explore;
pub mod gc;
pub mod profiles;
pub mod reference;
pub mod serve;
