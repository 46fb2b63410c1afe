//! Lists: end-8a/8b (tags), end-12a/12b (referrers), and distribution's catalog.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::App;
use super::error::{AppError, Result};
use super::request::{Query, parse_digest};
use super::storage::Page;
use crate::oci::{ErrorCode, media};

/// `n`: absent → no limit; a non-negative integer otherwise, else 400 `UNSUPPORTED`. The
/// OCI table, the one a code "MUST be one of", has no code for a bad `n`;
/// distribution's `PAGINATION_NUMBER_INVALID` is not in it, and distribution describes
/// `UNSUPPORTED` as an operation unsupported for "an invalid set of parameters".
fn page_size(query: &Query) -> Result<Option<usize>> {
    match query.get("n") {
        None => Ok(None),
        Some(n) => n.parse::<usize>().map(Some).map_err(|_| {
            AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::Unsupported,
                "n must be a non-negative integer",
            )
            .detail(json!({ "n": n }))
        }),
    }
}

/// What a list request asks for: up to `n` names after `last`.
struct PageRequest {
    last: Option<String>,
    n: Option<usize>,
}

fn page_request(query: &Query) -> Result<PageRequest> {
    let n = page_size(query)?;
    let last = query.get("last").map(str::to_string);
    Ok(PageRequest { last, n })
}

/// The `Link` to the page after `page`, when more names follow.
fn next_link(page: &Page, n: Option<usize>, path: &str) -> Option<String> {
    let n = n?;
    let last = page.names.last().filter(|_| page.more)?;
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("n", &n.to_string())
        .append_pair("last", last)
        .finish();
    Some(format!("<{path}?{q}>; rel=\"next\""))
}

fn json_response(body: Value, content_type: &'static str, link: Option<String>) -> Response {
    let mut res = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response();
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LINK, l);
    }
    res
}

pub async fn tags(app: &App, repo: &str, query: &Query) -> Result<Response> {
    let PageRequest { last, n } = page_request(query)?;
    let r = repo.to_string();
    let page = app
        .blocking(move |s| s.tags_page(&r, last.as_deref(), n))
        .await?;
    let Some(page) = page else {
        return Err(
            AppError::code(StatusCode::NOT_FOUND, ErrorCode::NameUnknown)
                .detail(json!({ "name": repo })),
        );
    };
    let link = next_link(&page, n, &format!("/v2/{repo}/tags/list"));
    Ok(json_response(
        json!({ "name": repo, "tags": page.names }),
        media::JSON,
        link,
    ))
}

pub async fn catalog(app: &App, query: &Query) -> Result<Response> {
    let PageRequest { last, n } = page_request(query)?;
    let page = app
        .blocking(move |s| s.repositories_page(last.as_deref(), n))
        .await?;
    let link = next_link(&page, n, "/v2/_catalog");
    Ok(json_response(
        json!({ "repositories": page.names }),
        media::JSON,
        link,
    ))
}

pub async fn referrers(app: &App, repo: &str, digest: &str, query: &Query) -> Result<Response> {
    let subject = parse_digest(digest)?;
    let (r, d) = (repo.to_string(), subject.clone());
    // An unknown repository or subject simply has no referrers: never 404.
    let mut all = app.blocking(move |s| s.referrers(&r, &d)).await?;
    // several artifactType values at once keep the referrers of any of them
    let filter: Vec<&str> = query.all("artifactType").collect();
    if !filter.is_empty() {
        all.retain(|d| {
            d.get("artifactType")
                .and_then(Value::as_str)
                .is_some_and(|t| filter.contains(&t))
        });
    }
    all.sort_by(|a, b| {
        a["digest"]
            .as_str()
            .unwrap_or("")
            .cmp(b["digest"].as_str().unwrap_or(""))
    });
    // Pages are cut by digest; `last` is the last digest of the previous page.
    if let Some(last) = query.get("last") {
        all.retain(|d| d["digest"].as_str().unwrap_or("") > last);
    }
    // a page holds at most the count, and at most the byte budget (always one descriptor)
    let mut size = 0;
    let mut bytes = 0;
    for d in all.iter().take(app.config.referrers_page_size.max(1)) {
        bytes += d.to_string().len();
        if size > 0 && bytes > app.config.referrers_page_bytes {
            break;
        }
        size += 1;
    }
    let link = (all.len() > size).then(|| {
        // the cursor is the last digest of this page
        let last = all[size - 1]["digest"].as_str().unwrap_or("").to_string();
        let mut q = form_urlencoded::Serializer::new(String::new());
        for at in &filter {
            q.append_pair("artifactType", at);
        }
        q.append_pair("last", &last);
        format!(
            "</v2/{repo}/referrers/{subject}?{}>; rel=\"next\"",
            q.finish()
        )
    });
    all.truncate(size);
    let mut res = json_response(
        json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": all }),
        media::OCI_INDEX,
        link,
    );
    if !filter.is_empty() {
        res.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(res)
}
