//! `regverify clients`: registry clients judged against the reference registry.
//!
//! A client is given as command templates, one per workflow ([`Workflow`]). Each workflow
//! runs against a fresh reference that records every request: plainly (it must succeed and
//! round-trip the content byte for byte), under every variation (the spec allows them, so it
//! must still succeed) and under each corrupting defect bearing on it (it must fail). The
//! client's duties (`party: client` requirements) are judged on the recorded requests and on
//! the client's results ([`judge`]).
//!
//! Like the CLI, this module uses both the server and the runner's vocabulary; neither of
//! them knows it.

pub mod content;
pub mod html;
pub mod judge;
pub mod matrix;
pub mod registry;
pub mod report;
pub mod statement;
pub mod template;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::Config;
use crate::server::defects::Defect;
use crate::server::recorder::Exchange;
use crate::server::variations::{VARIATIONS, Variation, Variations};
use content::Image;
use registry::Registry;
use template::{Placeholder, Template};

/// What a client is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workflow {
    /// Push the image of `{layout}` (tagged `{tag}`) to `{registry}/{repo}:{tag}`.
    Push,
    /// Pull `{registry}/{repo}:{tag}`, or `{registry}/{repo}@{digest}`, into `{dir}` (the
    /// layer, or the file it holds).
    Pull,
    /// Print the tags of `{registry}/{repo}`.
    ListTags,
    /// Attach the file `{dir}/note.txt` to `{registry}/{repo}:{tag}` as a referrer.
    Attach,
}

impl Workflow {
    pub const ALL: [Workflow; 4] = [
        Workflow::Push,
        Workflow::Pull,
        Workflow::ListTags,
        Workflow::Attach,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Workflow::Push => "push",
            Workflow::Pull => "pull",
            Workflow::ListTags => "list-tags",
            Workflow::Attach => "attach",
        }
    }
    /// The defects that corrupt what this workflow receives: a client must fail under them.
    /// A manifest whose bytes no longer match its digest is one only for a pull by digest
    /// (`by_digest`): pulling by tag, the client has no digest to check the manifest against.
    pub fn corrupting_defects(self, by_digest: bool) -> Vec<Defect> {
        match self {
            Workflow::Pull => {
                let mut d = vec![Defect::BlobCorrupted, Defect::BlobShortBody];
                if by_digest {
                    d.push(Defect::ManifestReformatted);
                }
                d
            }
            Workflow::Push | Workflow::ListTags | Workflow::Attach => Vec::new(),
        }
    }
}

/// The registry a workflow runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The reference as it is.
    Plain,
    /// With a freedom the spec gives registries: the client must still succeed.
    Variation(Variation),
    /// With a defect corrupting what the client receives: the client must fail.
    Defect(Defect),
    /// Blob GETs answered first with a `307` to where the blob is served (spec main lets a
    /// registry redirect any request): the client must follow and succeed.
    BlobRedirects,
}

impl Condition {
    pub fn name(self) -> String {
        match self {
            Condition::Plain => "plain".into(),
            Condition::Variation(v) => format!("variation {}", v.name()),
            Condition::Defect(d) => format!("defect {}", d.info().name),
            Condition::BlobRedirects => "blob redirects".into(),
        }
    }
    /// Whether the client must succeed (else it must fail).
    pub fn must_succeed(self) -> bool {
        !matches!(self, Condition::Defect(_))
    }
    fn config(self) -> Config {
        let mut c = Config::default();
        match self {
            Condition::Plain | Condition::BlobRedirects => {}
            Condition::Variation(v) => c.variations = Variations::from([v]),
            Condition::Defect(d) => c.defect = Some(d),
        }
        c
    }
    /// Every condition a workflow, run as `t`, runs under (blob redirects for pull, the one
    /// workflow that reads blobs).
    pub fn all_for(w: Workflow, t: &Template) -> Vec<Condition> {
        std::iter::once(Condition::Plain)
            .chain(VARIATIONS.iter().map(|v| Condition::Variation(v.variation)))
            .chain((w == Workflow::Pull).then_some(Condition::BlobRedirects))
            .chain(
                w.corrupting_defects(t.uses(Placeholder::Digest))
                    .into_iter()
                    .map(Condition::Defect),
            )
            .collect()
    }
}

/// What a push must leave in the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PushCheck {
    /// The layout's manifest and blobs, byte for byte (clients that copy what they are given).
    #[default]
    Bytes,
    /// A valid image whose config names the layout's layers by their uncompressed digests and
    /// whose layers, uncompressed, are the layout's tar bytes (clients that push from their
    /// own storage, recompressing layers and rewriting the manifest, as buildah does).
    LayerContent,
}

/// A client as given: its name, a template per workflow it supports, and what its push must
/// leave.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub name: String,
    pub workflows: Vec<(Workflow, Template)>,
    pub push_check: PushCheck,
}

/// How long one command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Output kept of a command, per stream.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// What became of one command.
#[derive(Clone, Debug)]
pub struct Ran {
    /// The exit code; none when it was killed (timeout) or could not start.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Why the command did not run to its end, if it did not.
    pub trouble: Option<String>,
}

impl Ran {
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `args` (program first) without a shell, with a timeout.
pub fn run_command(args: &[String], cwd: &Path) -> Ran {
    let failed = |trouble: String| Ran {
        code: None,
        stdout: String::new(),
        stderr: String::new(),
        trouble: Some(trouble),
    };
    let Some((program, rest)) = args.split_first() else {
        return failed("empty command".into());
    };
    let child = Command::new(program)
        .args(rest)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return failed(format!("{program}: {e}")),
    };
    // the pipes are drained on threads so a talkative client never blocks on a full pipe
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    if buf.len() < OUTPUT_LIMIT {
                        buf.extend_from_slice(&chunk[..n.min(OUTPUT_LIMIT - buf.len())]);
                    }
                }
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let start = Instant::now();
    let (code, trouble) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status.code(), None),
            Ok(None) if start.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break (None, Some(format!("killed after {COMMAND_TIMEOUT:?}")));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break (None, Some(e.to_string())),
        }
    };
    Ran {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        trouble,
    }
}

/// Runs `commands` one after the other while they succeed; what became of them all: the
/// last one's exit, every output in order.
pub fn run_commands(commands: &[Vec<String>], cwd: &Path) -> Ran {
    let mut all = Ran {
        code: None,
        stdout: String::new(),
        stderr: String::new(),
        trouble: Some("no command".into()),
    };
    for args in commands {
        let ran = run_command(args, cwd);
        all.stdout.push_str(&ran.stdout);
        all.stderr.push_str(&ran.stderr);
        all.code = ran.code;
        all.trouble = ran.trouble;
        if !all.succeeded() {
            break;
        }
    }
    all
}

/// One workflow under one condition, as it went.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub workflow: Workflow,
    pub condition: Condition,
    pub ran: Ran,
    /// Whether the result is what the workflow should give (the content round-tripped, the
    /// tags listed, the referrer found); none when the client failed.
    pub result: Option<Result<(), String>>,
    pub exchanges: Vec<Exchange>,
}

impl Outcome {
    /// Whether the client behaved as the condition requires.
    pub fn as_required(&self) -> bool {
        if self.condition.must_succeed() {
            self.ran.succeeded() && matches!(self.result, Some(Ok(())))
        } else {
            !self.ran.succeeded()
        }
    }
}

/// The repository and tags every workflow uses.
pub const REPO: &str = "clients/test";
pub const TAG: &str = "v1";
/// The other tags `list-tags` must print.
pub const MORE_TAGS: [&str; 2] = ["v2", "latest"];
/// The file `attach` attaches.
pub const NOTE_FILE: &str = "note.txt";

/// Runs `template` as `workflow` under `condition`; a push is checked as `push_check` says.
pub fn run_workflow(
    workflow: Workflow,
    template: &Template,
    condition: Condition,
    push_check: PushCheck,
    nonce: u64,
) -> Result<Outcome, String> {
    let registry = Registry::start(condition.config(), condition == Condition::BlobRedirects)
        .map_err(|e| format!("starting the reference: {e}"))?;
    let work = work_dir(nonce)?;
    let layout = work.path().join("layout");
    let dir = work.path().join("dir");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let image = Image::new(&format!("hello from run {nonce}\n"));
    match workflow {
        Workflow::Push => image
            .write_layout(&layout, TAG)
            .map_err(|e| format!("writing the layout: {e}"))?,
        Workflow::Pull | Workflow::ListTags | Workflow::Attach => {
            let mut tags = vec![TAG.to_string()];
            if workflow == Workflow::ListTags {
                tags.extend(MORE_TAGS.iter().map(|t| t.to_string()));
            }
            registry.push_image(REPO, &image, &tags)?;
        }
    }
    if workflow == Workflow::Attach {
        std::fs::write(dir.join(NOTE_FILE), format!("a note of run {nonce}\n"))
            .map_err(|e| e.to_string())?;
    }
    // what the seeding sent is not the client's
    registry.take();
    let values = BTreeMap::from([
        (Placeholder::Registry, registry.host.clone()),
        (Placeholder::Repo, REPO.to_string()),
        (Placeholder::Tag, TAG.to_string()),
        (Placeholder::Layout, layout.display().to_string()),
        (Placeholder::Dir, dir.display().to_string()),
        (Placeholder::Digest, image.manifest.digest.to_string()),
    ]);
    // commands run in {dir}, so a file to attach is named by its own name
    let ran = run_commands(&template.fill(&values), &dir);
    let exchanges = registry.take();
    let result = ran.succeeded().then(|| match (workflow, push_check) {
        (Workflow::Push, PushCheck::Bytes) => registry.holds_image(REPO, TAG, &image),
        (Workflow::Push, PushCheck::LayerContent) => {
            registry.holds_layer_content(REPO, TAG, &image)
        }
        (Workflow::Pull, _) => {
            // clients that unpack layers write the layer's file instead of the layer
            if content::holds_file(&dir, &image.layer.bytes)
                || content::holds_file(&dir, &image.file)
            {
                Ok(())
            } else {
                Err("no file under {dir} holds the layer, or its file, as pushed".into())
            }
        }
        (Workflow::ListTags, _) => {
            let missing: Vec<&str> = std::iter::once(TAG)
                .chain(MORE_TAGS)
                .filter(|t| !ran.stdout.split(|c: char| !is_tag_char(c)).any(|w| w == *t))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("tags not printed: {}", missing.join(" ")))
            }
        }
        (Workflow::Attach, _) => {
            if registry.referrers(REPO, &image.manifest.digest).is_empty() {
                Err("no referrer of the image is listed, by the API or the tag schema".into())
            } else {
                Ok(())
            }
        }
    });
    Ok(Outcome {
        workflow,
        condition,
        ran,
        result,
        exchanges,
    })
}

/// A fresh directory for one run whose path is lowercase: buildah names an image taken from
/// a layout after the layout's path, and refuses a name with capitals (which random temporary
/// names have). Removed when dropped.
fn work_dir(nonce: u64) -> Result<tempfile::TempDir, String> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let name = format!("regverify-clients-{}-{nonce}-{since:x}", std::process::id());
    // (the temporary directory's own path is kept as it is: TMPDIR with capitals fails buildah)
    tempfile::Builder::new()
        .prefix(&name)
        .rand_bytes(0)
        .tempdir()
        .map_err(|e| format!("making a work directory: {e}"))
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}
