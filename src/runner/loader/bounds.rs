//! Numbers in spec files that make the runner allocate or repeat, bounded when the files
//! load. A spec file may come from a proposal under review: `random: 100000000000` would
//! otherwise pass `--check` and abort the run on allocation. Each bound sits well above
//! what the embedded scenarios use, so a proposal has room, and well below what hurts a
//! CI machine.

use super::check::Checker;
use crate::runner::plan::Source;

/// A number of a spec file the runner acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bound {
    /// `random:` bytes and an image's `pad_to:`, made in memory. The largest embedded
    /// content is a 12 MB manifest (past the 4 MiB manifest limit); 64 MiB leaves five
    /// times that and stays a quarter of the client's 256 MiB body cap, so what is pushed
    /// can be read back, and a few scenarios at once hold a few such contents.
    ContentBytes,
    /// `repeat:`, requests one after another. The embedded scenarios repeat at most 60.
    Repeat,
    /// `push: {parallel: N}`, uploads at once, each a connection. The embedded use 8.
    Parallel,
    /// `chunks: {count: N}`, one request each. The embedded use at most 4.
    Chunks,
    /// `paginate: {max_pages: N}`, pages walked and their entries kept. The default is
    /// 1000.
    Pages,
}

impl Bound {
    pub const fn limit(self) -> u64 {
        match self {
            Bound::ContentBytes => crate::runner::content::MAX_CONTENT_BYTES,
            Bound::Repeat => 1_000,
            Bound::Parallel => 64,
            Bound::Chunks => 1_000,
            Bound::Pages => 10_000,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Bound::ContentBytes => "bytes of content",
            Bound::Repeat => "repetitions",
            Bound::Parallel => "parallel pushes",
            Bound::Chunks => "chunks",
            Bound::Pages => "pages",
        }
    }
}

impl Checker<'_, '_> {
    /// Reports `n` at `at` when it exceeds `bound`; `field` names it as written.
    pub(super) fn bounded(&mut self, at: &Source, field: &str, bound: Bound, n: u64) {
        if n > bound.limit() {
            self.err(
                at,
                format!(
                    "{field}: {n} is more than the {} {} a spec file may ask for",
                    bound.limit(),
                    bound.what()
                ),
                Some("the runner holds or sends this much; the bound keeps a run within a CI machine".into()),
            );
        }
    }
}
