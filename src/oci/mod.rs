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

/// A random version-4 UUID: the shape of upload ids the spec describes, made by the server
/// for its sessions and by the runner for sessions that were never opened.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS provides randomness");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = digest::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
