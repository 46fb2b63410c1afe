//! Content a scenario uses: random bytes from the run's seed, fixtures, JSON, and manifests
//! and indexes built from other content. Resolved lazily (a manifest may embed a captured
//! value) and cached per scenario run.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::fixtures::Fixtures;
use super::model::{ContentSpec, ImageSpec, IndexSpec, ManifestFormat};
use super::template;
use crate::oci::{Algorithm, Digest, media};

/// The annotation that pads a manifest to the size a scenario asks (`pad_to`).
const PADDING: &str = "org.regverify.padding";

/// A deterministic generator (SplitMix64): same seed, same bytes, on every platform.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// FNV-1a, to derive per-content seeds from names.
pub fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// Content that cannot be made: a broken reference the loader could not see (a template
/// whose variable is missing at run time), a cycle, an unreadable fixture.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("content {0:?} is part of a cycle")]
    Cycle(String),
    #[error("no content named {0:?}")]
    Unknown(String),
    #[error(transparent)]
    Template(#[from] template::UnknownVariable),
    #[error("fixture {path}: {source}")]
    Fixture {
        path: String,
        source: super::fixtures::FixtureError,
    },
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The announced chunk minimum is no number of bytes.
    #[error("content {name}: the chunk minimum {got:?} is not a number of bytes")]
    Minimum { name: String, got: String },
    /// The announced chunk minimum asks for more than the runner makes in memory.
    #[error(
        "content {name}: {count} chunks of the announced minimum {min} bytes exceed the {MAX_CONTENT_BYTES} bytes the runner makes"
    )]
    TooLarge { name: String, count: u32, min: u64 },
}

/// The most bytes one content may hold: a spec file's `random:` or `pad_to:`, and the pieces
/// a registry's announced chunk minimum asks for. 64 MiB stays a quarter of the client's
/// 256 MiB body cap, so what is pushed can be read back.
pub const MAX_CONTENT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Resolved {
    pub bytes: Bytes,
    /// For manifests: their media type.
    pub media_type: Option<String>,
    pub digest: Digest,
    /// For pieces: the length of one piece.
    pub piece: Option<u64>,
}

impl Resolved {
    fn new(bytes: Bytes, media_type: Option<String>) -> Resolved {
        let digest = Digest::sha256(&bytes);
        Resolved {
            bytes,
            media_type,
            digest,
            piece: None,
        }
    }

    /// The `{name.field}` variables of a content.
    pub fn field(&self, field: &str) -> Option<String> {
        Some(match field {
            "digest" => self.digest.to_string(),
            "hex" => self.digest.hex().to_string(),
            "size" => self.bytes.len().to_string(),
            "last" => self.bytes.len().saturating_sub(1).to_string(),
            "sha512" => Digest::of(Algorithm::Sha512, &self.bytes).to_string(),
            "media_type" => self.media_type.clone()?,
            "piece" => self.piece?.to_string(),
            _ => {
                // `at.K`: where piece K starts; `end.K`: the last byte before it
                let piece = self.piece?;
                let (kind, k) = field.split_once('.')?;
                let at = k.parse::<u64>().ok()?.checked_mul(piece)?;
                match kind {
                    "at" => at.to_string(),
                    "end" => at.checked_sub(1)?.to_string(),
                    _ => return None,
                }
            }
        })
    }
}

pub const FIELDS: &[&str] = &["digest", "hex", "size", "last", "sha512", "media_type"];

#[derive(Clone)]
pub struct ContentStore<'a> {
    specs: &'a BTreeMap<String, ContentSpec>,
    fixtures: Fixtures,
    seed: u64,
    scenario: String,
    cache: HashMap<String, Resolved>,
}

type Lookup<'l> = &'l dyn Fn(&str) -> Option<String>;

impl<'a> ContentStore<'a> {
    pub fn new(
        specs: &'a BTreeMap<String, ContentSpec>,
        fixtures: Fixtures,
        seed: u64,
        scenario: &str,
    ) -> ContentStore<'a> {
        ContentStore {
            specs,
            fixtures,
            seed,
            scenario: scenario.to_string(),
            cache: HashMap::new(),
        }
    }

    /// Resolves every content named by a `{content.field}` placeholder of `strings`, so that
    /// [`ContentStore::lookup`] can answer them.
    pub fn prepare(
        &mut self,
        strings: &[&str],
        vars: Lookup<'_>,
        depth: u32,
    ) -> Result<(), ContentError> {
        for s in strings {
            for p in template::placeholders(s) {
                if let Some((c, _)) = p.split_once('.')
                    && self.specs.contains_key(c)
                {
                    self.resolve_depth(c, vars, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// Variables: fields of resolved content first, then `vars`.
    pub fn lookup<'b>(&'b self, vars: Lookup<'b>) -> impl Fn(&str) -> Option<String> + 'b {
        move |n: &str| {
            if let Some((c, f)) = n.split_once('.') {
                let keyed = format!("{c}#{}", vars("i").unwrap_or_default());
                if let Some(r) = self.cache.get(&keyed).or_else(|| self.cache.get(c)) {
                    return r.field(f);
                }
            }
            vars(n)
        }
    }

    /// Resolves `name` (and, first, everything it is built from).
    pub fn resolve(&mut self, name: &str, vars: Lookup<'_>) -> Result<Resolved, ContentError> {
        self.resolve_depth(name, vars, 0)
    }

    fn resolve_depth(
        &mut self,
        name: &str,
        vars: Lookup<'_>,
        depth: u32,
    ) -> Result<Resolved, ContentError> {
        // Content that depends on the repeat counter is made anew for each `{i}`.
        let key = match self.specs.get(name) {
            Some(spec) if uses_counter(spec) => {
                format!("{name}#{}", vars("i").unwrap_or_default())
            }
            _ => name.to_string(),
        };
        if let Some(r) = self.cache.get(&key) {
            return Ok(r.clone());
        }
        let r = self.build(name, vars, depth)?;
        self.cache.insert(key, r.clone());
        Ok(r)
    }

    fn build(
        &mut self,
        name: &str,
        vars: Lookup<'_>,
        depth: u32,
    ) -> Result<Resolved, ContentError> {
        if depth > 16 {
            return Err(ContentError::Cycle(name.to_string()));
        }
        let spec = self
            .specs
            .get(name)
            .ok_or_else(|| ContentError::Unknown(name.to_string()))?
            .clone();
        let r = match spec {
            ContentSpec::Random(size) => {
                let mut rng = SplitMix::new(self.seed ^ fnv(&[&self.scenario, name]));
                let mut buf = vec![0u8; size as usize];
                rng.fill(&mut buf);
                Resolved::new(Bytes::from(buf), None)
            }
            ContentSpec::Pieces(p) => {
                let min = match &p.min {
                    None => 0,
                    Some(t) => {
                        let lookup = self.lookup(vars);
                        let got = template::render(t, &lookup)?;
                        let got = got.trim();
                        match got {
                            "" => 0,
                            _ => got.parse::<u64>().map_err(|_| ContentError::Minimum {
                                name: name.to_string(),
                                got: got.to_string(),
                            })?,
                        }
                    }
                };
                let piece = p.size.max(min);
                // the final piece is the one the minimum does not bind
                let total = piece
                    .checked_mul(u64::from(p.count.saturating_sub(1)))
                    .and_then(|t| t.checked_add(p.last.unwrap_or(piece)))
                    .filter(|t| *t <= MAX_CONTENT_BYTES)
                    .ok_or_else(|| ContentError::TooLarge {
                        name: name.to_string(),
                        count: p.count,
                        min,
                    })?;
                let mut rng = SplitMix::new(self.seed ^ fnv(&[&self.scenario, name]));
                let mut buf = vec![0u8; total as usize];
                rng.fill(&mut buf);
                let mut r = Resolved::new(Bytes::from(buf), None);
                r.piece = Some(piece);
                r
            }
            ContentSpec::Text(t) => {
                self.prepare(&[t.as_str()], vars, depth)?;
                let lookup = self.lookup(vars);
                Resolved::new(Bytes::from(template::render(&t, &lookup)?), None)
            }
            ContentSpec::Json(v) => {
                let mut strings = vec![];
                template::json_strings(&v, &mut strings);
                self.prepare(&strings, vars, depth)?;
                let lookup = self.lookup(vars);
                let v = template::render_json(&v, &lookup)?;
                Resolved::new(Bytes::from(serde_json::to_vec(&v)?), None)
            }
            ContentSpec::Fixture(path) => {
                let b = self
                    .fixtures
                    .read(&path)
                    .map_err(|source| ContentError::Fixture {
                        path: path.clone(),
                        source,
                    })?;
                let mt = serde_json::from_slice::<Value>(&b)
                    .ok()
                    .and_then(|v| v.get("mediaType").and_then(Value::as_str).map(String::from));
                Resolved::new(b, mt)
            }
            ContentSpec::Image(spec) => self.image(&spec, vars, depth)?,
            ContentSpec::Index(spec) => self.index(&spec, vars, depth)?,
        };
        Ok(r)
    }

    fn descriptor(
        &mut self,
        name: &str,
        media_type: Option<&str>,
        vars: Lookup<'_>,
        depth: u32,
    ) -> Result<Value, ContentError> {
        let r = self.resolve_depth(name, vars, depth + 1)?;
        let mt = media_type
            .map(String::from)
            .or(r.media_type.clone())
            .unwrap_or_else(|| media::OCTET_STREAM.to_string());
        Ok(json!({ "mediaType": mt, "digest": r.digest.to_string(), "size": r.bytes.len() }))
    }

    fn image(
        &mut self,
        spec: &ImageSpec,
        vars: Lookup<'_>,
        depth: u32,
    ) -> Result<Resolved, ContentError> {
        let (mt, cfg_mt, layer_mt) = match spec.format {
            ManifestFormat::Oci => (
                media::OCI_MANIFEST,
                media::OCI_CONFIG,
                media::OCI_LAYER_TAR_GZIP,
            ),
            ManifestFormat::Docker => (
                media::DOCKER_MANIFEST,
                media::DOCKER_CONFIG,
                media::DOCKER_LAYER,
            ),
        };
        let cfg_mt = spec.config_media_type.as_deref().unwrap_or(cfg_mt);
        let layer_mt = spec.layer_media_type.as_deref().unwrap_or(layer_mt);
        let mut m = Map::new();
        m.insert("schemaVersion".into(), json!(2));
        if !spec.omit_media_type {
            m.insert("mediaType".into(), json!(mt));
        }
        if let Some(a) = &spec.artifact_type {
            m.insert("artifactType".into(), json!(template::render(a, vars)?));
        }
        m.insert(
            "config".into(),
            self.descriptor(&spec.config, Some(cfg_mt), vars, depth)?,
        );
        let layers = spec
            .layers
            .iter()
            .map(|l| self.descriptor(l, Some(layer_mt), vars, depth))
            .collect::<Result<Vec<_>, _>>()?;
        m.insert("layers".into(), Value::Array(layers));
        if let Some(s) = &spec.subject {
            m.insert("subject".into(), self.descriptor(s, None, vars, depth)?);
        }
        let mut ann = annotations(&spec.annotations, vars)?;
        let mut pad = 0;
        if let Some(target) = spec.pad_to {
            let base = serde_json::to_vec(&Value::Object(m.clone()))?.len() as u64;
            let overhead = 64;
            pad = target.saturating_sub(base + overhead) as usize;
            // the padding is spliced in once serialised: having the serialiser scan
            // megabytes of `x` for characters to escape costs more than the rest of a run
            ann.insert(PADDING.into(), json!(""));
        }
        if !ann.is_empty() {
            m.insert("annotations".into(), Value::Object(ann));
        }
        let mut bytes = serde_json::to_vec(&Value::Object(m))?;
        if pad > 0 {
            // the key is ours and unique; inside another string it would be escaped
            let marker = format!("\"{PADDING}\":\"\"");
            let at = bytes
                .windows(marker.len())
                .position(|w| w == marker.as_bytes())
                .expect("the padding annotation is in the manifest")
                + marker.len()
                - 1;
            // copies and a fill, not a byte-at-a-time splice
            let mut padded = Vec::with_capacity(bytes.len() + pad);
            padded.extend_from_slice(&bytes[..at]);
            padded.extend_from_slice(&vec![b'x'; pad]);
            padded.extend_from_slice(&bytes[at..]);
            bytes = padded;
        }
        Ok(Resolved::new(Bytes::from(bytes), Some(mt.to_string())))
    }

    fn index(
        &mut self,
        spec: &IndexSpec,
        vars: Lookup<'_>,
        depth: u32,
    ) -> Result<Resolved, ContentError> {
        let mt = match spec.format {
            ManifestFormat::Oci => media::OCI_INDEX,
            ManifestFormat::Docker => media::DOCKER_MANIFEST_LIST,
        };
        let mut m = Map::new();
        m.insert("schemaVersion".into(), json!(2));
        m.insert("mediaType".into(), json!(mt));
        if let Some(a) = &spec.artifact_type {
            m.insert("artifactType".into(), json!(template::render(a, vars)?));
        }
        let mut manifests = vec![];
        for (i, name) in spec.manifests.iter().enumerate() {
            let mut d = self.descriptor(name, None, vars, depth)?;
            // distinct platforms, as indexes of images usually carry
            if !spec.without_platform.contains(name) {
                let arch = ["amd64", "arm64", "riscv64", "s390x"][i % 4];
                d["platform"] = json!({ "architecture": arch, "os": "linux" });
            }
            manifests.push(d);
        }
        m.insert("manifests".into(), Value::Array(manifests));
        if let Some(s) = &spec.subject {
            m.insert("subject".into(), self.descriptor(s, None, vars, depth)?);
        }
        let ann = annotations(&spec.annotations, vars)?;
        if !ann.is_empty() {
            m.insert("annotations".into(), Value::Object(ann));
        }
        let bytes = serde_json::to_vec(&Value::Object(m))?;
        Ok(Resolved::new(Bytes::from(bytes), Some(mt.to_string())))
    }
}

fn annotations(
    a: &BTreeMap<String, String>,
    vars: Lookup<'_>,
) -> Result<Map<String, Value>, ContentError> {
    a.iter()
        .map(|(k, v)| Ok((k.clone(), Value::String(template::render(v, vars)?))))
        .collect()
}

fn uses_counter(spec: &ContentSpec) -> bool {
    let has = |s: &str| template::placeholders(s).contains(&"i");
    match spec {
        ContentSpec::Text(t) => has(t),
        ContentSpec::Json(v) => {
            let mut strings = vec![];
            template::json_strings(v, &mut strings);
            strings.into_iter().any(has)
        }
        ContentSpec::Image(i) => {
            i.annotations.values().any(|v| has(v)) || i.artifact_type.as_deref().is_some_and(has)
        }
        ContentSpec::Index(i) => {
            i.annotations.values().any(|v| has(v)) || i.artifact_type.as_deref().is_some_and(has)
        }
        _ => false,
    }
}

/// The names a content spec is built from (for static checks).
pub fn dependencies(spec: &ContentSpec) -> Vec<&str> {
    match spec {
        ContentSpec::Image(i) => std::iter::once(i.config.as_str())
            .chain(i.layers.iter().map(String::as_str))
            .chain(i.subject.as_deref())
            .collect(),
        ContentSpec::Index(i) => i
            .manifests
            .iter()
            .map(String::as_str)
            .chain(i.subject.as_deref())
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_entries_get_a_platform_but_those_listed_without() {
        let specs: BTreeMap<String, ContentSpec> = serde_json::from_value(json!({
            "config": {"json": {}},
            "a": {"image": {"config": "config"}},
            "b": {"image": {"config": "config", "annotations": {"x": "b"}}},
            "index": {"index": {"manifests": ["a", "b"], "without_platform": ["b"]}},
        }))
        .unwrap();
        let mut store = ContentStore::new(&specs, Fixtures::Files(Default::default()), 1, "s");
        let index = store.resolve("index", &|_| None).unwrap();
        let v: Value = serde_json::from_slice(&index.bytes).unwrap();
        let entries = v["manifests"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["platform"]["architecture"], "amd64");
        assert!(entries[1].get("platform").is_none(), "{v}");
    }

    #[test]
    fn seeded_bytes_are_reproducible() {
        let mut a = SplitMix::new(42);
        let mut b = SplitMix::new(42);
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        assert_ne!(fnv(&["a", "b"]), fnv(&["ab"]));
    }

    #[test]
    fn pieces_grow_to_the_announced_chunk_minimum() {
        let specs: BTreeMap<String, ContentSpec> = serde_json::from_value(json!({
            "layer": {"pieces": {"count": 3, "size": 2000, "min": "{chunk_min}"}},
        }))
        .unwrap();
        let pieces = |min: &str| {
            let mut store = ContentStore::new(&specs, Fixtures::Files(Default::default()), 1, "s");
            let min = min.to_string();
            store.resolve("layer", &move |n| (n == "chunk_min").then(|| min.clone()))
        };
        // nothing announced: the pieces keep their size
        let r = pieces("").unwrap();
        assert_eq!(r.bytes.len(), 6000);
        assert_eq!(r.field("at.2").as_deref(), Some("4000"));
        assert_eq!(r.field("end.1").as_deref(), Some("1999"));
        // a larger minimum makes every piece that long
        let r = pieces("5000").unwrap();
        assert_eq!(r.bytes.len(), 15000);
        assert_eq!(r.field("piece").as_deref(), Some("5000"));
        assert_eq!(r.field("at.1").as_deref(), Some("5000"));
        assert_eq!(r.field("end.3").as_deref(), Some("14999"));
        // a smaller one changes nothing
        assert_eq!(pieces("100").unwrap().bytes.len(), 6000);
        // a short final piece stays short whatever the minimum
        let short: BTreeMap<String, ContentSpec> = serde_json::from_value(json!({
            "layer": {"pieces": {"count": 2, "size": 4000, "min": "{chunk_min}", "last": 100}},
        }))
        .unwrap();
        let mut store = ContentStore::new(&short, Fixtures::Files(Default::default()), 1, "s");
        let r = store
            .resolve("layer", &|n| {
                (n == "chunk_min").then(|| "65536".to_string())
            })
            .unwrap();
        assert_eq!(r.bytes.len(), 65536 + 100);
        assert_eq!(r.field("at.1").as_deref(), Some("65536"));
        assert!(matches!(pieces("lots"), Err(ContentError::Minimum { .. })));
        assert!(matches!(
            pieces(&MAX_CONTENT_BYTES.to_string()),
            Err(ContentError::TooLarge { .. })
        ));
    }
}
