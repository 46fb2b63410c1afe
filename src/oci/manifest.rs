//! Manifest and index parsing: just what the registry must check and what the referrers API
//! derives, kept on `serde_json::Value` so unknown fields survive untouched.

use serde_json::{Map, Value};

use super::digest::Digest;
use super::media::{self, ManifestKind};

/// A descriptor (`mediaType`, `digest`, `size`, …) as found in a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    /// Non-empty `urls`: the content may live elsewhere (non-distributable layers).
    pub external: bool,
}

/// What a registry needs to know about a pushed manifest.
#[derive(Clone, Debug)]
pub struct ParsedManifest {
    pub media_type: String,
    pub kind: ManifestKind,
    pub config: Option<Descriptor>,
    /// Layers of an image manifest; manifests of an index.
    pub children: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub artifact_type: Option<String>,
    pub annotations: Option<Map<String, Value>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
    #[error("no media type: neither a Content-Type header nor a mediaType field")]
    NoMediaType,
    #[error("unsupported manifest media type {0:?}")]
    UnknownMediaType(String),
    #[error("mediaType field {field:?} differs from Content-Type {header:?}")]
    MediaTypeMismatch { field: String, header: String },
    #[error("schemaVersion must be 2")]
    SchemaVersion,
    #[error("{0}")]
    Field(String),
}

fn field_err(s: impl Into<String>) -> ManifestError {
    ManifestError::Field(s.into())
}

pub fn parse_descriptor(v: &Value, at: &str) -> Result<Descriptor, ManifestError> {
    let o = v
        .as_object()
        .ok_or_else(|| field_err(format!("{at}: descriptor must be an object")))?;
    let media_type = o
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| field_err(format!("{at}: mediaType missing or not a string")))?
        .to_string();
    let digest = o
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| field_err(format!("{at}: digest missing or not a string")))?
        .parse::<Digest>()
        .map_err(|e| field_err(format!("{at}: {e}")))?;
    let size = o
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| field_err(format!("{at}: size missing or not a non-negative integer")))?;
    let external = o
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|u| !u.is_empty());
    Ok(Descriptor {
        media_type,
        digest,
        size,
        external,
    })
}

/// Parses a manifest body. `content_type` is the request's Content-Type essence, if any.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<ParsedManifest, ManifestError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ManifestError::NotJson(e.to_string()))?;
    let o = v
        .as_object()
        .ok_or_else(|| ManifestError::NotJson("top level is not an object".into()))?;
    let field_mt = o.get("mediaType").and_then(Value::as_str);
    let header = content_type.filter(|c| !c.is_empty());
    let media_type = match (field_mt, header) {
        (Some(f), Some(h)) if f != h => {
            return Err(ManifestError::MediaTypeMismatch {
                field: f.into(),
                header: h.into(),
            });
        }
        (_, Some(h)) => h.to_string(),
        (Some(f), None) => f.to_string(),
        (None, None) => return Err(ManifestError::NoMediaType),
    };
    let kind = media::manifest_kind(&media_type)
        .ok_or_else(|| ManifestError::UnknownMediaType(media_type.clone()))?;
    if o.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(ManifestError::SchemaVersion);
    }
    let list = |key: &str, required: bool| -> Result<Vec<Descriptor>, ManifestError> {
        match o.get(key) {
            None if !required => Ok(vec![]),
            None => Err(field_err(format!("{key} missing"))),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, d)| parse_descriptor(d, &format!("{key}[{i}]")))
                .collect(),
            Some(_) => Err(field_err(format!("{key} must be an array"))),
        }
    };
    let (config, children) = match kind {
        ManifestKind::Image => {
            let config = parse_descriptor(
                o.get("config").ok_or_else(|| field_err("config missing"))?,
                "config",
            )?;
            // The image spec allows an empty layers array; Docker schema 2 requires the key.
            (Some(config), list("layers", true)?)
        }
        ManifestKind::Index => (None, list("manifests", true)?),
    };
    let subject = o
        .get("subject")
        .map(|s| parse_descriptor(s, "subject"))
        .transpose()?;
    let artifact_type = match o.get("artifactType") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(field_err("artifactType must be a string")),
    };
    let annotations = match o.get("annotations") {
        None => None,
        Some(Value::Object(m)) if m.values().all(Value::is_string) => Some(m.clone()),
        Some(_) => return Err(field_err("annotations must map strings to strings")),
    };
    Ok(ParsedManifest {
        media_type,
        kind,
        config,
        children,
        subject,
        artifact_type,
        annotations,
    })
}

impl ParsedManifest {
    /// The `artifactType` a referrers response gives this manifest: its own `artifactType`,
    /// else (image manifests only) the config's media type; an index without one gets none.
    pub fn referrer_artifact_type(&self) -> Option<String> {
        match (&self.artifact_type, self.kind) {
            (Some(a), _) if !a.is_empty() => Some(a.clone()),
            (_, ManifestKind::Image) => self.config.as_ref().map(|c| c.media_type.clone()),
            (_, ManifestKind::Index) => None,
        }
    }

    /// The descriptor of this manifest as it appears in a referrers index.
    pub fn referrer_descriptor(&self, digest: &Digest, size: u64) -> Value {
        let mut d = Map::new();
        d.insert("mediaType".into(), Value::String(self.media_type.clone()));
        d.insert("digest".into(), Value::String(digest.to_string()));
        d.insert("size".into(), Value::from(size));
        if let Some(a) = self.referrer_artifact_type() {
            d.insert("artifactType".into(), Value::String(a));
        }
        if let Some(a) = &self.annotations {
            d.insert("annotations".into(), Value::Object(a.clone()));
        }
        Value::Object(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> String {
        let d = Digest::sha256(b"{}");
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.example.config","digest":"{d}","size":2}},"layers":[]{extra}}}"#,
            media::OCI_MANIFEST
        )
    }

    #[test]
    fn artifact_type_derivation() {
        let m = parse(manifest("").as_bytes(), None).unwrap();
        assert_eq!(
            m.referrer_artifact_type().as_deref(),
            Some("application/vnd.example.config")
        );
        let m = parse(manifest(r#","artifactType":"x/y""#).as_bytes(), None).unwrap();
        assert_eq!(m.referrer_artifact_type().as_deref(), Some("x/y"));
        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[]}}"#,
            media::OCI_INDEX
        );
        assert_eq!(
            parse(idx.as_bytes(), None)
                .unwrap()
                .referrer_artifact_type(),
            None
        );
    }

    #[test]
    fn rejects() {
        assert!(matches!(parse(b"[", None), Err(ManifestError::NotJson(_))));
        assert!(matches!(
            parse(manifest("").as_bytes(), Some(media::OCI_INDEX)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        assert!(matches!(
            parse(br#"{"schemaVersion":2}"#, None),
            Err(ManifestError::NoMediaType)
        ));
        let bad = manifest("").replace(r#""size":2"#, r#""size":-1"#);
        assert!(matches!(
            parse(bad.as_bytes(), None),
            Err(ManifestError::Field(_))
        ));
    }
}
