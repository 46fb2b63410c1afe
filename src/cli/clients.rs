//! `regverify clients`: registry clients judged against the embedded reference. A client is
//! a ready-made set of templates (`--client skopeo`) or the templates given (`--name N
//! --push T --pull T …`); each is run by `regverify::clients` and reported per client and
//! per workflow.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use regverify::clients::report::{self, ClientReport};
use regverify::clients::template::{Template, TemplateError};
use regverify::clients::{ClientSpec, Condition, PushCheck, Workflow, run_workflow};
use regverify::runner::corpus::Corpus;
use regverify::server::variations::Variation;

use super::error::{CliError, Outcome};

/// Why `clients` cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    #[error("unknown client {0} (ready-made: {list})", list = READY_MADE.iter().map(|c| c.name).collect::<Vec<_>>().join(", "))]
    UnknownClient(String),
    #[error("--{workflow}: {source}")]
    Template {
        workflow: &'static str,
        source: TemplateError,
    },
    #[error(
        "no client: give --client NAME, or --name NAME with --push/--pull/--list-tags/--attach"
    )]
    NoClient,
    #[error("--{0} given without --name")]
    Unnamed(&'static str),
    #[error("{0}")]
    Run(String),
    #[error("the requirement catalogue does not load")]
    Catalogue,
}

#[derive(Args, Debug, Default)]
pub struct ClientsArgs {
    /// A ready-made client (repeatable): skopeo, buildah, oras, oras-py, dxf.
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,
    /// Name of the client the templates below describe.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Command pushing the image of {layout} (an OCI layout, tagged {tag}) to
    /// {registry}/{repo}:{tag}.
    #[arg(long, value_name = "TEMPLATE")]
    pub push: Option<String>,
    /// What the push must leave: the layout's bytes, or (for clients pushing from their own
    /// storage, recompressed) a valid image with the layout's uncompressed layer content.
    #[arg(long, value_enum, value_name = "CHECK", default_value = "bytes")]
    pub push_check: PushCheck,
    /// Command pulling {registry}/{repo}:{tag} into the empty directory {dir}; one pulling
    /// by {digest} (the manifest's) is also run under a manifest not matching its digest.
    #[arg(long, value_name = "TEMPLATE")]
    pub pull: Option<String>,
    /// Command printing the tags of {registry}/{repo}.
    #[arg(long = "list-tags", value_name = "TEMPLATE")]
    pub list_tags: Option<String>,
    /// Command attaching the file note.txt (in {dir}, where commands run) to
    /// {registry}/{repo}:{tag} as a referrer.
    #[arg(long, value_name = "TEMPLATE")]
    pub attach: Option<String>,
    /// Only these variations (repeatable; default: every one).
    #[arg(long = "variation", value_name = "NAME")]
    pub variations: Vec<String>,
    /// Run no variation (the plain reference and the defects only).
    #[arg(long, conflicts_with = "variations")]
    pub no_variations: bool,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the results as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the results as one self-contained HTML page to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// A ready-made client: its templates per workflow, and what its push must leave.
pub struct ReadyMade {
    pub name: &'static str,
    pub workflows: &'static [(Workflow, &'static str)],
    pub push_check: PushCheck,
}

/// Templates of clients commonly found. Every command runs in {dir}.
pub const READY_MADE: &[ReadyMade] = &[
    ReadyMade {
        name: "skopeo",
        workflows: &[
            (
                Workflow::Push,
                "skopeo --insecure-policy copy --dest-tls-verify=false oci:{layout}:{tag} docker://{registry}/{repo}:{tag}",
            ),
            (
                Workflow::Pull,
                "skopeo --insecure-policy copy --src-tls-verify=false docker://{registry}/{repo}:{tag} oci:{dir}:{tag}",
            ),
            (
                Workflow::ListTags,
                "skopeo list-tags --tls-verify=false docker://{registry}/{repo}",
            ),
        ],
        push_check: PushCheck::Bytes,
    },
    // buildah pushes only from its own storage (here a fresh one under {dir}, vfs so that no
    // mount is needed), naming an image taken from a layout "localhost" + the layout's path;
    // it recompresses the layer, so its push leaves the layout's content, not its bytes. Its
    // pull unpacks the layer into that storage, where the layer's file then lies.
    ReadyMade {
        name: "buildah",
        workflows: &[
            (
                Workflow::Push,
                "buildah --root {dir}/storage --runroot {dir}/run --storage-driver vfs pull -q oci:{layout}:{tag} && buildah --root {dir}/storage --runroot {dir}/run --storage-driver vfs push --tls-verify=false localhost{layout}:latest docker://{registry}/{repo}:{tag}",
            ),
            (
                Workflow::Pull,
                "buildah --root {dir}/storage --runroot {dir}/run --storage-driver vfs pull -q --tls-verify=false docker://{registry}/{repo}:{tag}",
            ),
        ],
        push_check: PushCheck::LayerContent,
    },
    ReadyMade {
        name: "oras",
        workflows: &[
            (
                Workflow::Push,
                "oras cp --from-oci-layout --plain-http {layout}:{tag} {registry}/{repo}:{tag}",
            ),
            (
                Workflow::Pull,
                "oras pull --plain-http -o {dir} {registry}/{repo}:{tag}",
            ),
            (
                Workflow::ListTags,
                "oras repo tags --plain-http {registry}/{repo}",
            ),
            (
                Workflow::Attach,
                "oras attach --plain-http --artifact-type application/vnd.example.note {registry}/{repo}:{tag} note.txt",
            ),
        ],
        push_check: PushCheck::Bytes,
    },
    // PyPI's oras (the Python SDK), by its API: it pushes files, not an image layout
    ReadyMade {
        name: "oras-py",
        workflows: &[
            (
                Workflow::Pull,
                r#"python3 -c "import sys, oras.client as o; h, r, t, d = sys.argv[1:]; o.OrasClient(hostname=h, insecure=True).pull(target=h + '/' + r + ':' + t, outdir=d)" {registry} {repo} {tag} {dir}"#,
            ),
            (
                Workflow::ListTags,
                r#"python3 -c "import sys, oras.client as o; h, r = sys.argv[1:]; print(chr(10).join(o.OrasClient(hostname=h, insecure=True).get_tags(h + '/' + r)))" {registry} {repo}"#,
            ),
        ],
        push_check: PushCheck::Bytes,
    },
    ReadyMade {
        name: "dxf",
        workflows: &[(
            Workflow::ListTags,
            "env DXF_HOST={registry} DXF_INSECURE=1 dxf list-aliases {repo}",
        )],
        push_check: PushCheck::Bytes,
    },
];

fn parse(workflow: Workflow, source: &str) -> Result<(Workflow, Template), ClientsError> {
    Template::parse(source)
        .map(|t| (workflow, t))
        .map_err(|source| ClientsError::Template {
            workflow: workflow.name(),
            source,
        })
}

/// The clients the arguments name.
fn clients(a: &ClientsArgs) -> Result<Vec<ClientSpec>, ClientsError> {
    let mut out = Vec::new();
    for name in &a.clients {
        let r = READY_MADE
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| ClientsError::UnknownClient(name.clone()))?;
        out.push(ClientSpec {
            name: r.name.to_string(),
            workflows: r
                .workflows
                .iter()
                .map(|(w, t)| parse(*w, t))
                .collect::<Result<_, _>>()?,
            push_check: r.push_check,
        });
    }
    let given = [
        (Workflow::Push, &a.push),
        (Workflow::Pull, &a.pull),
        (Workflow::ListTags, &a.list_tags),
        (Workflow::Attach, &a.attach),
    ];
    let templates: Vec<(Workflow, Template)> = given
        .iter()
        .filter_map(|(w, t)| t.as_deref().map(|t| parse(*w, t)))
        .collect::<Result<_, _>>()?;
    match (&a.name, templates.first()) {
        (Some(name), _) => out.push(ClientSpec {
            name: name.clone(),
            workflows: templates,
            push_check: a.push_check,
        }),
        (None, Some((w, _))) => return Err(ClientsError::Unnamed(w.name())),
        (None, None) => {}
    }
    if out.is_empty() {
        return Err(ClientsError::NoClient);
    }
    Ok(out)
}

fn conditions(a: &ClientsArgs, w: Workflow, t: &Template) -> Result<Vec<Condition>, CliError> {
    let mut wanted = Vec::new();
    for v in &a.variations {
        wanted.push(Variation::parse(v).ok_or_else(|| CliError::UnknownVariation(v.clone()))?);
    }
    Ok(Condition::all_for(w, t)
        .into_iter()
        .filter(|c| match c {
            Condition::Variation(v) => {
                !a.no_variations && (wanted.is_empty() || wanted.contains(v))
            }
            _ => true,
        })
        .collect())
}

/// A report format: the reports written as one file.
type Writer = fn(&[ClientReport]) -> String;

pub fn clients_command(a: ClientsArgs) -> Result<ExitCode, CliError> {
    let specs = clients(&a)?;
    let catalogue = regverify::runner::loader::load_corpus(&Corpus::embedded())
        .map_err(|_| ClientsError::Catalogue)?
        .requirements;
    let mut reports = Vec::new();
    let mut nonce = 0u64;
    for spec in &specs {
        let mut outcomes = Vec::new();
        for (w, t) in &spec.workflows {
            for c in conditions(&a, *w, t)? {
                nonce += 1;
                eprintln!(
                    "{}: {} / {}",
                    regverify::runner::sanitize::line(&spec.name),
                    w.name(),
                    c.name()
                );
                outcomes.push(
                    run_workflow(*w, t, c, spec.push_check, nonce).map_err(ClientsError::Run)?,
                );
            }
        }
        let r = ClientReport::new(&spec.name, &outcomes, &catalogue);
        print!("{}", r.text());
        reports.push(r);
    }
    if reports.len() > 1 {
        print!("\n{}", regverify::clients::matrix::matrix_text(&reports));
    }
    if let Some(path) = &a.json {
        let body =
            serde_json::json!({ "tool": "regverify", "command": "clients", "clients": reports });
        std::fs::write(path, serde_json::to_vec_pretty(&body).expect("JSON")).map_err(
            |source| CliError::Write {
                path: path.clone(),
                source,
            },
        )?;
    }
    let writers: [(&Option<PathBuf>, Writer); 3] = [
        (&a.junit, report::junit),
        (&a.markdown, report::markdown),
        (&a.html, regverify::clients::html::html),
    ];
    for (path, write) in writers {
        if let Some(path) = path {
            std::fs::write(path, write(&reports)).map_err(|source| CliError::Write {
                path: path.clone(),
                source,
            })?;
        }
    }
    Ok(if reports.iter().all(ClientReport::clean) {
        Outcome::Ok
    } else {
        Outcome::Findings
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ready_made_template_parses() {
        for r in READY_MADE {
            for (w, t) in r.workflows {
                assert!(parse(*w, t).is_ok(), "{} {}", r.name, w.name());
            }
        }
    }
}
