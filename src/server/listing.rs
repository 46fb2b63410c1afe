//! Lists: end-8a/8b (tags), end-12a/12b (referrers), and distribution's catalog.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::App;
use super::error::{AppError, Result};
use super::request::{Query, parse_digest};
use crate::oci::{ErrorCode, media};

/// Lexical order as the spec describes it (case-insensitive), bytes breaking ties so the
/// order is total.
fn lexical(a: &String, b: &String) -> std::cmp::Ordering {
    a.to_lowercase()
        .cmp(&b.to_lowercase())
        .then_with(|| a.cmp(b))
}

/// `n`: absent → no limit; a non-negative integer otherwise, else 400.
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

/// One page of a sorted list after `last`, and the `Link` to the next page if any remains.
fn paginate(
    mut items: Vec<String>,
    query: &Query,
    path: &str,
) -> Result<(Vec<String>, Option<String>)> {
    items.sort_by(lexical);
    let n = page_size(query)?;
    if let Some(last) = query.get("last") {
        let last = last.to_string();
        items.retain(|t| lexical(t, &last).is_gt());
    }
    let Some(n) = n else {
        return Ok((items, None));
    };
    if n == 0 {
        return Ok((vec![], None));
    }
    let more = items.len() > n;
    items.truncate(n);
    let link = more.then(|| {
        let last = items.last().expect("n > 0 and more items");
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &n.to_string())
            .append_pair("last", last)
            .finish();
        format!("<{path}?{q}>; rel=\"next\"")
    });
    Ok((items, link))
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
    let r = repo.to_string();
    let tags = app.blocking(move |s| s.tags(&r)).await?;
    let Some(tags) = tags else {
        return Err(
            AppError::code(StatusCode::NOT_FOUND, ErrorCode::NameUnknown)
                .detail(json!({ "name": repo })),
        );
    };
    let (page, link) = paginate(tags, query, &format!("/v2/{repo}/tags/list"))?;
    Ok(json_response(
        json!({ "name": repo, "tags": page }),
        media::JSON,
        link,
    ))
}

pub async fn catalog(app: &App, query: &Query) -> Result<Response> {
    let repos = app.blocking(|s| s.repositories()).await?;
    let (page, link) = paginate(repos, query, "/v2/_catalog")?;
    Ok(json_response(
        json!({ "repositories": page }),
        media::JSON,
        link,
    ))
}

pub async fn referrers(app: &App, repo: &str, digest: &str, query: &Query) -> Result<Response> {
    let subject = parse_digest(digest)?;
    let (r, d) = (repo.to_string(), subject.clone());
    // An unknown repository or subject simply has no referrers: never 404.
    let mut all = app.blocking(move |s| s.referrers(&r, &d)).await?;
    let filter = query.get("artifactType");
    if let Some(at) = filter {
        all.retain(|d| d.get("artifactType").and_then(Value::as_str) == Some(at));
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
    let size = app.config.referrers_page_size.max(1);
    let link = (all.len() > size).then(|| {
        // the cursor is the last digest of this page
        let last = all[size - 1]["digest"].as_str().unwrap_or("").to_string();
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(at) = filter {
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
    if filter.is_some() {
        res.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(res)
}
