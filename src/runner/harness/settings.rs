//! Settings of a run: flags over the OCI conformance suite's environment variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use reqwest::Url;

use crate::runner::client::{ClientConfig, Credentials, DEFAULT_MAX_BODY, display_url};
use crate::runner::corpus::SpecsMode;
use crate::runner::error::RunError;
use crate::runner::loader::Specs;
use crate::runner::model::{Category, Workflow};

/// How the client reaches a registry: the same flags for `run`, `matrix` and `explore`.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Seconds allowed for each request, body included.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// PEM file of extra CA certificates to trust.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Largest response body read (`64MiB`, `500kB`, bytes); a larger one is an error.
    /// Each scenario running at once may hold one, so bodies take at most this times
    /// --test-threads.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = parse_size)]
    pub max_body: u64,
}

impl Default for ConnectionArgs {
    fn default() -> ConnectionArgs {
        ConnectionArgs {
            timeout: 30,
            insecure: false,
            ca_file: None,
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// A size as `--max-body` takes it: bytes, or with a unit (`64MiB`, `1GiB`, `500kB`).
fn parse_size(s: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = s.trim().parse()?;
    match size.as_u64() {
        0 => Err("a size of at least one byte".into()),
        n => Ok(n),
    }
}

impl ConnectionArgs {
    /// The client settings these flags ask for, with the credentials given for the
    /// registry at `registry` (its origin alone receives them).
    #[allow(
        clippy::needless_update,
        reason = "settings the client gains later keep their defaults"
    )]
    pub fn client_config(&self, registry: &Url, credentials: Option<Credentials>) -> ClientConfig {
        ClientConfig {
            registry: Some(registry.clone()),
            timeout: Duration::from_secs(self.timeout.max(1)),
            max_body: self.max_body,
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            credentials,
            ..ClientConfig::default()
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Registry to verify (e.g. http://localhost:5000). Without it, the embedded reference
    /// registry is started on a temporary directory (by the CLI). [env: OCI_ROOT_URL, or OCI_REGISTRY + OCI_TLS]
    pub url: Option<String>,
    /// Only scenarios whose name contains this (as libtest filters tests).
    pub filter: Option<String>,
    /// Repository namespace; each scenario works in `<namespace>/<scenario>-<run>`.
    /// [env: OCI_NAMESPACE or OCI_REPO1; default: regverify]
    #[arg(long)]
    pub namespace: Option<String>,
    /// Namespace of the second repository (mount sources). [env: OCI_CROSSMOUNT_NAMESPACE or OCI_REPO2]
    #[arg(long)]
    pub crossmount_namespace: Option<String>,
    /// Seed of generated content (printed at the start, to replay a run).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Profile to certify against: oci-1.0, oci-1.1 (the default), oci-next, distribution,
    /// all, read-only (specs/profiles.yaml describes each).
    #[arg(long)]
    pub profile: Option<String>,
    /// Only these workflows (repeatable). [env: OCI_TEST_PULL, OCI_TEST_PUSH,
    /// OCI_TEST_CONTENT_DISCOVERY, OCI_TEST_CONTENT_MANAGEMENT]
    #[arg(long = "workflow", value_enum)]
    pub workflows: Vec<Workflow>,
    /// A category the registry claims conformance with (repeatable): push,
    /// content-discovery, content-management. Its MUSTs count in full even where its API
    /// answers as absent; an unclaimed category that is absent is one SHOULD failure. Pull is
    /// always claimed. [env: OCI_TEST_PUSH, OCI_TEST_CONTENT_DISCOVERY,
    /// OCI_TEST_CONTENT_MANAGEMENT]
    #[arg(long = "claim", value_enum, value_name = "CATEGORY")]
    pub claims: Vec<Category>,
    /// Print every exchange of every scenario. [env: OCI_DEBUG]
    #[arg(long)]
    pub debug: bool,
    /// Check the spec files and exit, without a registry.
    #[arg(long)]
    pub check: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// Match the filter exactly.
    #[arg(long)]
    pub exact: bool,
    /// Skip scenarios whose name contains this (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 8)]
    pub test_threads: usize,
    /// Keep what the scenarios pushed (by default each deletes its content when it ends,
    /// where the registry allows deletion).
    #[arg(long)]
    pub no_cleanup: bool,
    /// One line per scenario instead of one character.
    #[arg(long)]
    pub verbose: bool,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the machine-readable results (JSON) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write a short Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write junit.xml, results.json and report.html into this directory.
    /// [env: OCI_REPORT_DIR or OCI_RESULTS_DIR]
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Baseline of known deviations: the run passes when its failures match it exactly.
    #[arg(long = "expect")]
    pub expect: Option<PathBuf>,
    /// Directory of spec files laid over those built into the binary: its requirements and
    /// profiles (by id), aliases, and scenario files (by name) add to or replace the embedded
    /// ones. `--check` prints what it changes.
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// How --specs combines with the embedded spec files: `overlay`, or `replace` (the
    /// directory is the whole corpus, e.g. an edited copy of `specs/` with entries removed).
    #[arg(long, value_enum, value_name = "MODE", default_value = "overlay")]
    pub specs_mode: SpecsMode,
    /// Directory of fixtures to use instead of those built into the binary.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Let scenarios send requests to hosts other than the registry under test (by
    /// default a URL of another host is refused when the spec files load, and at the step).
    #[arg(long)]
    pub allow_foreign_urls: bool,
}

pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_true(name: &str) -> bool {
    env(name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Resolved settings of a run.
pub(crate) struct Settings {
    pub url: Option<Url>,
    pub credentials: Option<Credentials>,
    pub namespace: String,
    pub crossmount: Option<String>,
    pub seed: u64,
    pub profile: String,
    pub workflows: Option<Vec<Workflow>>,
    /// Categories claimed, besides Pull.
    pub claims: Vec<Category>,
    pub debug: bool,
}

pub(crate) fn settings(args: &RunArgs, specs: &Specs) -> Result<Settings, RunError> {
    let raw_url = raw_url(args);
    let mut credentials = env("OCI_USERNAME").map(|u| Credentials {
        username: u,
        password: env("OCI_PASSWORD").unwrap_or_default(),
    });
    if let Some(c) = &credentials {
        crate::runner::redact::keep_secret(&c.password);
    }
    let url = match raw_url {
        None => None,
        Some(u) => {
            // never echoed with its password, even when it does not parse
            let mut url = Url::parse(&u).map_err(|e| RunError::Url {
                url: crate::runner::redact::userinfo_cut(&u),
                reason: e.to_string(),
            })?;
            if let Some(c) = take_credentials(&mut url) {
                credentials = Some(c);
            }
            if !matches!(url.scheme(), "http" | "https") {
                return Err(RunError::Url {
                    url: display_url(&url),
                    reason: "only http and https".into(),
                });
            }
            Some(url)
        }
    };
    let namespace = args
        .namespace
        .clone()
        .or_else(|| env("OCI_NAMESPACE"))
        .or_else(|| env("OCI_REPO1"))
        .unwrap_or_else(|| "regverify".into());
    if !crate::oci::name::valid_name(&namespace) {
        return Err(RunError::Namespace(namespace));
    }
    let crossmount = args
        .crossmount_namespace
        .clone()
        .or_else(|| env("OCI_CROSSMOUNT_NAMESPACE"))
        .or_else(|| env("OCI_REPO2"));
    let seed = match args.seed {
        Some(s) => s,
        None => {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).map_err(|e| RunError::Random(e.to_string()))?;
            u64::from_le_bytes(b) % 1_000_000_000
        }
    };
    let profile = match &args.profile {
        Some(p) => p.clone(),
        None => specs.default_profile().unwrap_or("oci-1.1").to_string(),
    };
    if !specs.profiles.contains_key(&profile) {
        return Err(RunError::Profile {
            known: specs
                .profiles
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            profile,
        });
    }
    let mut workflows: Vec<Workflow> = args.workflows.clone();
    // the OCI suite's variables both select a category's workflow and claim the category,
    // as testing a category there is claiming it
    let suite_vars = [
        ("OCI_TEST_PULL", Workflow::Pull, Category::Pull),
        ("OCI_TEST_PUSH", Workflow::Push, Category::Push),
        (
            "OCI_TEST_CONTENT_DISCOVERY",
            Workflow::Discovery,
            Category::ContentDiscovery,
        ),
        (
            "OCI_TEST_CONTENT_MANAGEMENT",
            Workflow::Management,
            Category::ContentManagement,
        ),
    ];
    if workflows.is_empty() {
        for (var, w, _) in suite_vars {
            if env_true(var) {
                workflows.push(w);
            }
        }
    }
    let mut claims: Vec<Category> = args.claims.clone();
    for (var, _, c) in suite_vars {
        if env_true(var) && !claims.contains(&c) {
            claims.push(c);
        }
    }
    Ok(Settings {
        url,
        credentials,
        namespace,
        crossmount,
        seed,
        profile,
        workflows: (!workflows.is_empty()).then_some(workflows),
        claims,
        debug: args.debug || env_true("OCI_DEBUG"),
    })
}

/// The credentials in `url`'s user-info, percent-decoded (`us%40er` is the user `us@er`),
/// taken out of it. The password is remembered as a secret no output may show.
pub fn take_credentials(url: &mut Url) -> Option<Credentials> {
    if url.username().is_empty() {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let c = Credentials {
        username: decode(url.username()),
        password: decode(url.password().unwrap_or("")),
    };
    crate::runner::redact::keep_secret(&c.password);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(c)
}

impl RunArgs {
    /// `run FILTER` without a URL: a first positional that is no URL is the filter. One that
    /// looks like a host (`localhost:5000`) is refused with the URL it probably meant: taken
    /// as a filter it would select nothing (see [`super::positional`]).
    pub fn normalize(&mut self) -> Result<(), RunError> {
        if let Some(u) = &self.url
            && !u.contains("://")
        {
            super::positional::refuse_bare_host(u)?;
            if self.filter.is_none() {
                self.filter = self.url.take();
            }
        }
        Ok(())
    }

    /// Whether this run needs a registry of its own: no URL given by flag or environment,
    /// and a run that talks to a registry (not `--check` or `--list`). The CLI then starts
    /// the embedded reference and passes its URL to [`super::run`].
    pub fn wants_embedded_registry(&self) -> bool {
        let mut args = self.clone();
        // arguments that do not normalize are refused by the run itself, before any registry
        if args.normalize().is_err() {
            return false;
        }
        !args.check && !args.list && raw_url(&args).is_none()
    }
}

/// The registry URL as given, credentials included.
fn raw_url(args: &RunArgs) -> Option<String> {
    args.url
        .clone()
        .or_else(|| env("OCI_ROOT_URL"))
        .or_else(|| {
            env("OCI_REGISTRY").map(|host| {
                let scheme = if env("OCI_TLS").is_some_and(|v| v == "false" || v == "0") {
                    "http"
                } else if env_true("OCI_TLS") || env("OCI_TLS").is_none() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{host}")
            })
        })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        connection: ConnectionArgs,
    }

    fn max_body(args: &[&str]) -> Result<u64, clap::Error> {
        let all = std::iter::once("x").chain(args.iter().copied());
        Flags::try_parse_from(all).map(|f| {
            let registry = Url::parse("http://registry.test/").unwrap();
            f.connection.client_config(&registry, None).max_body
        })
    }

    #[test]
    fn max_body_takes_sizes_with_units() {
        assert_eq!(max_body(&[]).unwrap(), DEFAULT_MAX_BODY);
        assert_eq!(max_body(&[]).unwrap(), ConnectionArgs::default().max_body);
        assert_eq!(max_body(&["--max-body", "64MiB"]).unwrap(), 64 << 20);
        assert_eq!(max_body(&["--max-body", "1 GiB"]).unwrap(), 1 << 30);
        assert_eq!(max_body(&["--max-body", "500kB"]).unwrap(), 500_000);
        assert_eq!(max_body(&["--max-body", "4096"]).unwrap(), 4096);
        for bad in ["0", "lots", "-1MiB"] {
            assert!(max_body(&["--max-body", bad]).is_err(), "{bad}");
        }
    }
}
