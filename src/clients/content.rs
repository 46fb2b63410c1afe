//! The image a workflow pushes or pulls: a config and one layer (a real tar in a real gzip
//! stream, so clients that look inside accept it), unique to each run so that no client
//! cache answers for the registry, written as an OCI image layout or pushed over HTTP.

use std::path::Path;

use serde_json::json;

use crate::oci::{Algorithm, Digest};

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The name the layer's one file has, and the title clients that write files give it.
pub const FILE_NAME: &str = "hello.txt";

/// One blob.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        Blob {
            digest: Digest::of(Algorithm::Sha256, &bytes),
            bytes,
        }
    }
}

/// A config, a layer and the manifest naming them.
#[derive(Clone, Debug)]
pub struct Image {
    pub config: Blob,
    pub layer: Blob,
    pub manifest: Blob,
    /// The content of the layer's one file ([`FILE_NAME`]), for clients that unpack it.
    pub file: Vec<u8>,
    /// The layer uncompressed (the tar its config's diff id names), for clients that
    /// recompress it.
    pub tar: Vec<u8>,
}

impl Image {
    /// An image whose file says `text` (several kilobytes, so chunked clients chunk).
    pub fn new(text: &str) -> Image {
        let file: Vec<u8> = text.bytes().cycle().take(5000).collect();
        let tar = tar_one(FILE_NAME, &file);
        let diff_id = Digest::of(Algorithm::Sha256, &tar);
        let layer = Blob::new(gzip_stored(&tar));
        let config = Blob::new(
            serde_json::to_vec(&json!({
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
            }))
            .expect("JSON"),
        );
        let manifest = Blob::new(
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": CONFIG_TYPE, "digest": config.digest.to_string(), "size": config.bytes.len()},
                "layers": [{
                    "mediaType": LAYER_TYPE,
                    "digest": layer.digest.to_string(),
                    "size": layer.bytes.len(),
                    "annotations": {"org.opencontainers.image.title": FILE_NAME},
                }],
            }))
            .expect("JSON"),
        );
        Image {
            config,
            layer,
            manifest,
            file,
            tar,
        }
    }

    /// The blobs, config first.
    pub fn blobs(&self) -> [&Blob; 2] {
        [&self.config, &self.layer]
    }

    /// Writes an OCI image layout holding the image under `tag`.
    pub fn write_layout(&self, dir: &Path, tag: &str) -> std::io::Result<()> {
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs)?;
        for b in [&self.config, &self.layer, &self.manifest] {
            std::fs::write(blobs.join(b.digest.hex()), &b.bytes)?;
        }
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let index = json!({
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [{
                "mediaType": MANIFEST_TYPE,
                "digest": self.manifest.digest.to_string(),
                "size": self.manifest.bytes.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        });
        std::fs::write(
            dir.join("index.json"),
            serde_json::to_vec(&index).expect("JSON"),
        )
    }
}

/// Whether some file under `dir` holds exactly `bytes`.
pub fn holds_file(dir: &Path, bytes: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| match e.file_type() {
        Ok(t) if t.is_dir() => holds_file(&e.path(), bytes),
        Ok(t) if t.is_file() => {
            e.metadata().is_ok_and(|m| m.len() == bytes.len() as u64)
                && std::fs::read(e.path()).is_ok_and(|b| b == bytes)
        }
        _ => false,
    })
}

/// A tar archive of one regular file.
fn tar_one(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], v: u64| {
        let s = format!("{:0width$o}\0", v, width = field.len() - 1);
        field.copy_from_slice(s.as_bytes());
    };
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // the checksum is computed with its own field as blanks
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    // two empty blocks end the archive
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// A gzip stream of `data` in stored (uncompressed) deflate blocks: valid gzip with no
/// compressor needed.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(65535).peekable();
    if data.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_of_the_check_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn the_layer_is_a_gzip_of_a_tar_that_python_reads() {
        let img = Image::new("abc");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("layer.tgz");
        std::fs::write(&p, &img.layer.bytes).unwrap();
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys,tarfile; t=tarfile.open(sys.argv[1]); m=t.getmembers(); \
                 print(m[0].name, len(t.extractfile(m[0]).read()))",
            ])
            .arg(&p)
            .output()
            .expect("python3");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "hello.txt 5000"
        );
    }
}
