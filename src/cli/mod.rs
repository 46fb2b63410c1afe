//! The command line's pieces beside `main.rs`: the exit-code mapping, `serve`, `gc` and
//! `explain`, `trace`, `--version`, completions and the man page, the embedded reference
//! `run` and `matrix` start, the release gates (`diff`, `baseline`, `matrix`), the
//! `--profile` help, `clients`.

pub mod clients;
pub mod docs;
pub mod error;
pub mod explain;
pub mod explore;
pub mod gates;
pub mod gc;
pub mod profiles;
pub mod progress;
pub mod reference;
pub mod serve;
pub mod trace;
