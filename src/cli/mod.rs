//! Pieces of the command line beside the argument structs in `main.rs`: the exit-code
//! mapping, the embedded reference `run` starts, the `--profile` help.

pub mod error;
pub mod profiles;
pub mod reference;
