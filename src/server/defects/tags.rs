//! Defects in what a tag points at that need memory or timing, so neither a storage decoration
//! nor a one-request rewrite can make them: a tag that outlives the manifest deleted under it,
//! and a tag write that lands after a delete of its manifest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt as _;

use super::{Defect, Seen};
use crate::oci::Digest;
use crate::oci::api::{Endpoint, Target};
use crate::server::App;
use crate::server::request::Query;

/// How long a tag write waits after its manifest is stored under `tag-delete-race`: long
/// enough that a delete sent meanwhile by another client lands in between, short enough to
/// keep a run of the scenarios quick.
const RACE_WINDOW: Duration = Duration::from_millis(40);

/// How long a manifest delete waits before its work under `tag-delete-race`. Sent at the
/// same moment as a push by tag, a delete is often read first (it has no body) and would
/// find nothing yet to break; waiting half the window puts it inside the window whichever
/// of the two the server reads first, so a race sent at once shows nearly every time.
const DELETE_LAG: Duration = Duration::from_millis(20);

/// What the tag defects remember between requests.
#[derive(Default)]
pub(crate) struct Memory {
    /// `tag-survives-manifest-delete`: (repository, tag) → the manifest it pointed at when that
    /// manifest was deleted by digest.
    ghosts: Mutex<HashMap<(String, String), Ghost>>,
}

#[derive(Clone)]
struct Ghost {
    digest: Digest,
    media_type: String,
    body: Bytes,
}

impl Memory {
    fn ghosts(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Ghost>> {
        self.ghosts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the layer must finish once the handler has answered.
pub(super) enum After {
    Nothing,
    /// `tag-delete-race`: the manifest went in by digest; the tag follows, late and unchecked.
    WriteTag {
        repo: String,
        tag: String,
    },
}

/// The request to hand on (and what to do after it), or the answer that replaces the handler's.
pub(super) async fn before(
    app: &App,
    defect: Defect,
    seen: &Seen<'_>,
    req: Request,
) -> Result<(Request, After), Response> {
    let Some(Target::Manifest { name, reference }) = seen.target else {
        return Ok((req, After::Nothing));
    };
    let by_digest = reference.parse::<Digest>().is_ok();
    match (defect, seen.endpoint) {
        (Defect::TagSurvivesManifestDelete, Some(Endpoint::ManifestDelete))
            if app.config.delete_enabled =>
        {
            if by_digest {
                remember_tags_of(app, name, reference).await;
            } else if forget(app, name, reference) && !tag_stored(app, name, reference).await {
                // the surviving tag is deleted as any tag is
                return Err(accepted());
            }
        }
        (Defect::TagSurvivesManifestDelete, Some(Endpoint::ManifestPut)) => {
            // a tag pushed again points where it is pushed
            if !by_digest {
                forget(app, name, reference);
            }
            for t in Query::parse(Some(seen.query)).all("tag") {
                forget(app, name, t);
            }
        }
        (Defect::TagSurvivesManifestDelete, Some(Endpoint::ManifestGet)) if !by_digest => {
            let ghost = app
                .defect_memory
                .ghosts()
                .get(&(name.to_string(), reference.to_string()))
                .cloned();
            if let Some(g) = ghost
                && !tag_stored(app, name, reference).await
            {
                return Err(serve(g, *seen.method == Method::HEAD));
            }
        }
        (Defect::TagDeleteRace, Some(Endpoint::ManifestPut)) if !by_digest => {
            return Ok(push_by_digest(app, name, reference, req).await);
        }
        (Defect::TagDeleteRace, Some(Endpoint::ManifestDelete)) if by_digest => {
            tokio::time::sleep(DELETE_LAG).await;
        }
        _ => {}
    }
    Ok((req, After::Nothing))
}

/// The tag [`before`] left to write once the handler answered `res`: (repository, tag,
/// digest).
pub(super) fn left_to_write(after: After, res: &Response) -> Option<(String, String, Digest)> {
    let After::WriteTag { repo, tag } = after else {
        return None;
    };
    if res.status() != StatusCode::CREATED {
        return None;
    }
    let digest = res
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok())?;
    Some((repo, tag, digest))
}

/// Writes the tag, late: the manifest was there when stored, and is not looked at again.
pub(super) async fn write_late(app: &App, (repo, tag, digest): (String, String, Digest)) {
    tokio::time::sleep(RACE_WINDOW).await;
    let _ = app.blocking(move |s| s.tag_put(&repo, &tag, &digest)).await;
}

/// Turns a push by tag into a push by the body's digest, its tag written afterwards outside
/// the repository's write lock.
async fn push_by_digest(app: &App, repo: &str, tag: &str, req: Request) -> (Request, After) {
    let limit = app.config.max_manifest_bytes;
    if !super::requests::within_limit(app, req.headers()) {
        // the handler refuses what is too large, reading it first (a body left unread
        // would break the client's write)
        return (req, After::Nothing);
    }
    let (mut parts, body) = req.into_parts();
    let Ok(body) = http_body_util::Limited::new(body, limit).collect().await else {
        // too large or cut short: the handler refuses it as it would any
        return (Request::from_parts(parts, Body::empty()), After::Nothing);
    };
    let body = body.to_bytes();
    let digest = Digest::sha256(&body);
    let path = format!("/v2/{repo}/manifests/{digest}");
    let uri = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    match uri.parse() {
        Ok(u) => parts.uri = u,
        Err(_) => return (Request::from_parts(parts, Body::from(body)), After::Nothing),
    }
    let after = After::WriteTag {
        repo: repo.to_string(),
        tag: tag.to_string(),
    };
    (Request::from_parts(parts, Body::from(body)), after)
}

async fn remember_tags_of(app: &App, repo: &str, reference: &str) {
    let Ok(digest) = reference.parse::<Digest>() else {
        return;
    };
    let (r, d) = (repo.to_string(), digest.clone());
    let found = app
        .blocking(move |s| {
            let Some((media_type, body)) = s.manifest_get(&r, &d)? else {
                return Ok(None);
            };
            Ok(Some((s.tags_pointing_at(&r, &d)?, media_type, body)))
        })
        .await;
    if let Ok(Some((tags, media_type, body))) = found {
        let mut ghosts = app.defect_memory.ghosts();
        for t in tags {
            let ghost = Ghost {
                digest: digest.clone(),
                media_type: media_type.clone(),
                body: body.clone(),
            };
            ghosts.insert((repo.to_string(), t), ghost);
        }
    }
}

/// Drops the surviving tag `tag`; whether there was one.
fn forget(app: &App, repo: &str, tag: &str) -> bool {
    app.defect_memory
        .ghosts()
        .remove(&(repo.to_string(), tag.to_string()))
        .is_some()
}

async fn tag_stored(app: &App, repo: &str, tag: &str) -> bool {
    let (r, t) = (repo.to_string(), tag.to_string());
    matches!(app.blocking(move |s| s.tag_get(&r, &t)).await, Ok(Some(_)))
}

fn serve(g: Ghost, head: bool) -> Response {
    let body = if head {
        Body::empty()
    } else {
        Body::from(g.body.clone())
    };
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    if let Ok(v) = g.media_type.parse() {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, g.body.len().into());
    if let Ok(v) = g.digest.to_string().parse() {
        h.insert("docker-content-digest", v);
    }
    if let Ok(v) = format!("\"{}\"", g.digest).parse() {
        h.insert(header::ETAG, v);
    }
    res
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, [(header::CONTENT_LENGTH, "0")]).into_response()
}
