//! The reference a workflow runs against: the real server in memory, recording, with the
//! run's defect or variation, on a runtime of its own; and the few plain HTTP requests that
//! put content in before the client runs and read the result back after it.

use std::sync::Arc;

use serde_json::Value;

use super::content::{Blob, INDEX_TYPE, Image, MANIFEST_TYPE};
use crate::oci::{Algorithm, Digest};
use crate::server::recorder::{Exchange, Recorder};
use crate::server::{self, App, Config, storage};

/// Docker's image manifest, which clients such as buildah may push.
const DOCKER_MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A running reference; stopped when dropped.
pub struct Registry {
    rt: tokio::runtime::Runtime,
    server: Option<server::Server>,
    recorder: Arc<Recorder>,
    http: reqwest::Client,
    /// `host:port`.
    pub host: String,
}

impl Registry {
    /// `redirect_blobs`: blob GETs are answered first with a redirect.
    pub fn start(mut config: Config, redirect_blobs: bool) -> std::io::Result<Registry> {
        let recorder = if redirect_blobs {
            Recorder::redirecting()
        } else {
            Recorder::new()
        };
        config.recorder = Some(recorder.clone());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("clients-reference")
            .build()?;
        let app = App::new(config, Arc::new(storage::MemStorage::new()));
        let server = rt.block_on(server::spawn(app, ([127, 0, 0, 1], 0).into()))?;
        let host = server.addr.to_string();
        // plain HTTP only, but reqwest wants a TLS provider chosen before any client is built
        crate::runner::client::install_crypto();
        let http = reqwest::Client::builder()
            // reading the result back follows the redirects a variation answers blob GETs with
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Registry {
            rt,
            server: Some(server),
            recorder,
            http,
            host,
        })
    }

    /// The exchanges recorded since the last call.
    pub fn take(&self) -> Vec<Exchange> {
        self.recorder.take()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    /// Pushes a blob: POST for a session, PUT of the whole blob to its location (the way
    /// every variation takes).
    pub fn push_blob(&self, repo: &str, blob: &Blob) -> Result<(), String> {
        self.rt.block_on(async {
            let r = self
                .http
                .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let loc = r
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| format!("upload POST answered {} without Location", r.status()))?;
            let base = reqwest::Url::parse(&self.url("/")).map_err(|e| e.to_string())?;
            let mut url = base.join(loc).map_err(|e| e.to_string())?;
            url.query_pairs_mut()
                .append_pair("digest", &blob.digest.to_string());
            let r = self
                .http
                .put(url)
                .header("content-type", "application/octet-stream")
                .body(blob.bytes.clone())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status() != 201 {
                return Err(format!("closing PUT answered {}", r.status()));
            }
            Ok(())
        })
    }

    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Result<(), String> {
        self.rt.block_on(async {
            let r = self
                .http
                .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
                .header("content-type", media_type)
                .body(body.to_vec())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status() != 201 {
                return Err(format!("manifest PUT answered {}", r.status()));
            }
            Ok(())
        })
    }

    /// Pushes `image` and tags it with each of `tags`.
    pub fn push_image(&self, repo: &str, image: &Image, tags: &[String]) -> Result<(), String> {
        for b in image.blobs() {
            self.push_blob(repo, b)?;
        }
        for t in tags {
            self.push_manifest(repo, t, MANIFEST_TYPE, &image.manifest.bytes)?;
        }
        Ok(())
    }

    /// The body of a GET, if it answered 200.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.rt.block_on(async {
            let r = self
                .http
                .get(self.url(path))
                .header(
                    "accept",
                    format!("{MANIFEST_TYPE}, {INDEX_TYPE}, {DOCKER_MANIFEST_TYPE}"),
                )
                .send()
                .await
                .ok()?;
            if r.status() != 200 {
                return None;
            }
            r.bytes().await.ok().map(|b| b.to_vec())
        })
    }

    /// Whether the registry holds `image` under `repo:tag` exactly as it was made.
    pub fn holds_image(&self, repo: &str, tag: &str, image: &Image) -> Result<(), String> {
        match self.get(&format!("/v2/{repo}/manifests/{tag}")) {
            Some(b) if b == image.manifest.bytes => {}
            Some(_) => return Err(format!("{repo}:{tag} holds another manifest")),
            None => return Err(format!("{repo}:{tag} is not there")),
        }
        for b in image.blobs() {
            if self
                .get(&format!("/v2/{repo}/blobs/{}", b.digest))
                .as_deref()
                != Some(&b.bytes[..])
            {
                return Err(format!("blob {} is not there as pushed", b.digest));
            }
        }
        Ok(())
    }

    /// Whether `repo:tag` holds a valid image carrying `image`'s layer content, however the
    /// client recompressed it: an image manifest (OCI or Docker's) whose config is there and
    /// names, as its diff ids, the digests of `image`'s uncompressed layers, and whose layers
    /// are there and uncompress to exactly `image`'s tar bytes.
    pub fn holds_layer_content(&self, repo: &str, tag: &str, image: &Image) -> Result<(), String> {
        let body = self
            .get(&format!("/v2/{repo}/manifests/{tag}"))
            .ok_or_else(|| format!("{repo}:{tag} is not there"))?;
        let manifest: Value =
            serde_json::from_slice(&body).map_err(|e| format!("{repo}:{tag} is not JSON: {e}"))?;
        let descriptor = |v: &Value| -> Option<(String, String)> {
            Some((
                v.get("mediaType")?.as_str()?.to_string(),
                v.get("digest")?.as_str()?.to_string(),
            ))
        };
        let (_, config_digest) = manifest
            .get("config")
            .and_then(descriptor)
            .ok_or_else(|| format!("{repo}:{tag} is not an image manifest (no config)"))?;
        let layers: Vec<(String, String)> = manifest
            .get("layers")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(descriptor).collect())
            .unwrap_or_default();
        let config: Value = self
            .get(&format!("/v2/{repo}/blobs/{config_digest}"))
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| format!("config {config_digest} is not there as JSON"))?;
        let want_diff_id = Digest::of(Algorithm::Sha256, &image.tar).to_string();
        let diff_ids = config
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .map(|d| d.iter().filter_map(Value::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        if diff_ids != [want_diff_id.as_str()] {
            return Err(format!(
                "the config's diff ids are {diff_ids:?}, not [{want_diff_id}]"
            ));
        }
        let [(media_type, digest)] = &layers[..] else {
            return Err(format!("{} layers, not 1", layers.len()));
        };
        let blob = self
            .get(&format!("/v2/{repo}/blobs/{digest}"))
            .ok_or_else(|| format!("layer {digest} is not there"))?;
        let tar = uncompress(media_type, &blob).map_err(|e| format!("layer {digest}: {e}"))?;
        if tar != image.tar {
            return Err(format!(
                "layer {digest} uncompressed is not the layout's layer uncompressed"
            ));
        }
        Ok(())
    }

    /// The manifests naming `subject` (digest) as their subject, through the referrers API
    /// or, where it is absent, the referrers tag schema.
    pub fn referrers(&self, repo: &str, subject: &crate::oci::Digest) -> Vec<String> {
        let listed = |body: Option<Vec<u8>>| -> Vec<String> {
            body.and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v.get("manifests").and_then(Value::as_array).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|m| m.get("digest").and_then(Value::as_str).map(String::from))
                .collect()
        };
        let api = listed(self.get(&format!("/v2/{repo}/referrers/{subject}")));
        if !api.is_empty() {
            return api;
        }
        let tag = format!("{}-{}", subject.algorithm(), subject.hex());
        listed(self.get(&format!("/v2/{repo}/manifests/{tag}")))
    }
}

/// A layer's tar bytes, by the compression its media type names (OCI's and Docker's).
fn uncompress(media_type: &str, blob: &[u8]) -> Result<Vec<u8>, String> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar" => Ok(blob.to_vec()),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(blob), &mut out)
                .map_err(|e| format!("not gzip: {e}"))?;
            Ok(out)
        }
        other => Err(format!(
            "media type {other} is not one this check uncompresses"
        )),
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}
