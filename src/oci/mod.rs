//! The shared vocabulary of the distribution API: digests, names, references, media types,
//! error codes, the endpoint table and manifest parsing. The server and the runner both speak
//! it; nothing else is shared between them.

pub mod api;
pub mod digest;
pub mod errors;
pub(crate) mod manifest;
pub(crate) mod media;
pub(crate) mod name;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use errors::ErrorCode;
