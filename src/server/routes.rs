//! The dispatcher: path → [`Target`], method → [`Endpoint`] (both from the endpoint table in
//! `oci::api`, as are the methods a 405 lists), then the handler. Also the headers every
//! response carries and the request log line (a middleware around everything else).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{AppError, Result};
use super::request::Query;
use super::{App, Ctx, blobs, listing, manifests, uploads};
use crate::oci::api::{self, Endpoint, Target};
use crate::oci::{ErrorCode, name};

pub(crate) async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let mut ctx = Ctx {
        request_id: app.next_request_id(),
        repo: None,
        subject: None,
        endpoint: None,
    };
    let mut res = match route(&app, &mut ctx, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    res.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    // for the log line, written once every layer has had its say
    res.extensions_mut().insert(Logged {
        request_id: ctx.request_id,
        subject: ctx.subject,
    });
    res
}

/// What the dispatcher learnt of a request that the log line reports.
#[derive(Clone)]
struct Logged {
    request_id: u64,
    subject: Option<String>,
}

/// The outermost middleware: one log line per request, with the answer as it is sent (a
/// defect's rewrite included).
pub(crate) async fn log(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut res = next.run(req).await;
    let logged = res.extensions_mut().remove::<Logged>();
    use axum::body::HttpBody as _;
    let bytes = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .or_else(|| res.body().size_hint().exact().map(|n| n.to_string()))
        .unwrap_or_else(|| "-".into());
    tracing::info!(
        request_id = logged.as_ref().map_or(0, |l| l.request_id),
        subject = logged
            .as_ref()
            .and_then(|l| l.subject.as_deref())
            .unwrap_or("-"),
        %method,
        path,
        status = res.status().as_u16(),
        bytes,
        ms = format!("{:.1}", start.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    res
}

fn is_write(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

async fn route(app: &App, ctx: &mut Ctx, mut req: Request) -> Result<Response> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if let Some(auth) = &app.auth
        && path == "/token"
        && auth.mode == super::auth::Mode::Token
    {
        return auth.token_endpoint(req).await;
    }
    let Some(target) = Target::parse(&path) else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::Unsupported,
            "no such endpoint",
        )
        .detail(serde_json::json!({ "path": path })));
    };
    let Some(endpoint) = api::route_for(target.resource(), method.as_str()).map(|r| r.endpoint)
    else {
        return Err(AppError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unsupported,
            format!("{method} is not allowed here"),
        )
        .header(header::ALLOW, api::allowed(target.resource())));
    };
    ctx.endpoint = Some(endpoint);
    if let Some(n) = target.name() {
        if !name::valid_name(n) && app.config.checks(super::defects::Check::NameGrammar) {
            return Err(
                AppError::code(StatusCode::BAD_REQUEST, ErrorCode::NameInvalid)
                    .detail(serde_json::json!({ "name": n })),
            );
        }
        ctx.repo = Some(n.to_string());
    }
    if let Some(auth) = &app.auth {
        match auth
            .authorize(&mut req, endpoint, target.name(), app.config.defect)
            .await
        {
            Ok(subject) => ctx.subject = subject,
            Err(e) => {
                super::drain(req.into_body(), super::DRAIN_LIMIT).await;
                return Err(e);
            }
        }
    }
    if app.config.read_only && is_write(&method) {
        return Err(AppError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unsupported,
            "this registry is read-only",
        ));
    }
    let query = Query::parse(req.uri().query());
    let head = method == Method::HEAD;
    let repo = ctx.repo.clone().unwrap_or_default();
    match (endpoint, target) {
        (Endpoint::Base, _) => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response()),
        (Endpoint::Catalog, _) => listing::catalog(app, &query).await,
        (Endpoint::BlobGet, Target::Blob { digest, .. }) => {
            blobs::get(app, &repo, digest, req.headers(), head).await
        }
        (Endpoint::BlobDelete, Target::Blob { digest, .. }) => {
            blobs::delete(app, &repo, digest).await
        }
        (Endpoint::UploadStart, _) => uploads::start(app, &repo, &query, req).await,
        (Endpoint::UploadChunk, Target::Upload { id, .. }) => {
            let id = id.to_string();
            uploads::chunk(app, &repo, &id, req).await
        }
        (Endpoint::UploadClose, Target::Upload { id, .. }) => {
            let id = id.to_string();
            uploads::close(app, &repo, &id, &query, req).await
        }
        (Endpoint::UploadStatus, Target::Upload { id, .. }) => {
            uploads::status(app, &repo, id).await
        }
        (Endpoint::UploadCancel, Target::Upload { id, .. }) => {
            uploads::cancel(app, &repo, id, req.extensions()).await
        }
        (Endpoint::ManifestGet, Target::Manifest { reference, .. }) => {
            manifests::get(app, &repo, reference, head).await
        }
        (Endpoint::ManifestPut, Target::Manifest { reference, .. }) => {
            let reference = reference.to_string();
            manifests::put(app, &repo, &reference, &query, req).await
        }
        (Endpoint::ManifestDelete, Target::Manifest { reference, .. }) => {
            manifests::delete(app, &repo, reference).await
        }
        (Endpoint::TagsList, _) => listing::tags(app, &repo, &query).await,
        (Endpoint::Referrers, Target::Referrers { digest, .. }) => {
            listing::referrers(app, &repo, digest, &query).await
        }
        (e, t) => Err(AppError::internal(format!(
            "endpoint {e:?} dispatched with target {t:?}"
        ))),
    }
}
