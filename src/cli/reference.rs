//! The embedded reference registry `run` verifies when it is given no URL (and `matrix`
//! starts for `--reference`, `--defect`, `--variation`): the real server on real storage in
//! a temporary directory, on its own runtime, stopped when dropped.

use std::sync::Arc;

use regverify::server::{self, App, Config, storage};
use reqwest::Url;

/// Why the embedded reference could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("storage: {0}")]
    Storage(#[source] std::io::Error),
    #[error("runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("listen: {0}")]
    Listen(#[source] std::io::Error),
}

/// Where a reference keeps what it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Files in a temporary directory, written durably as `serve` writes them.
    TempDir,
    /// Memory: nothing to flush to disk, so references running side by side (`matrix`)
    /// never queue on one disk's flushes. The storage trait holds both to one test suite.
    Memory,
}

pub struct Reference {
    rt: tokio::runtime::Runtime,
    server: Option<server::Server>,
    url: Url,
    // removed after the server stops
    _dir: Option<tempfile::TempDir>,
}

impl Reference {
    pub fn start() -> Result<Reference, ReferenceError> {
        Reference::with_config(Config::default(), Store::TempDir)
    }

    /// The reference with these settings (a defect or variations, for `matrix`).
    pub fn with_config(config: Config, store: Store) -> Result<Reference, ReferenceError> {
        let (storage, dir): (Arc<dyn storage::Storage>, _) = match store {
            Store::TempDir => {
                let dir = tempfile::tempdir().map_err(ReferenceError::TempDir)?;
                let fs = storage::FsStorage::open(dir.path()).map_err(ReferenceError::Storage)?;
                (Arc::new(fs), Some(dir))
            }
            Store::Memory => (Arc::new(storage::MemStorage::new()), None),
        };
        // its own runtime: the runner's requests and the server's answers never wait on
        // each other's threads
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("reference")
            .build()
            .map_err(ReferenceError::Runtime)?;
        let app = App::new(config, storage);
        let server = rt
            .block_on(server::spawn(app, ([127, 0, 0, 1], 0).into()))
            .map_err(ReferenceError::Listen)?;
        let url = Url::parse(&format!("{}/", server.url())).expect("the server's own URL");
        Ok(Reference {
            rt,
            server: Some(server),
            url,
            _dir: dir,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}
