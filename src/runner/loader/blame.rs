//! Blame by operation: every expectation of a request names the requirement that governs
//! *that* request, so a registry that breaks one rule fails that rule alone. A requirement
//! lists the endpoints it is about (`endpoints:`, the spec's ids from the endpoint table);
//! an expectation naming one that does not list the request's endpoint is refused, with its
//! place. A requirement without `endpoints:` is judged on every answer (the error envelope,
//! framing) and may be named anywhere.

use std::collections::HashMap;

use super::check::{Checker, Scope};
use crate::oci::api::{Resource, Target, route_for};
use crate::runner::plan::{Method, Source};
use crate::runner::raw;

/// The resource a request's URL designates: a path of the API written out, or a variable
/// captured from a `Location` whose resource is known (`points_to`). Anything else (an
/// absolute URL, a URL built from parts) is known only at run time.
pub(super) fn resource_of(url: &str, points_to: &HashMap<String, Resource>) -> Option<Resource> {
    if let Some(var) = url
        .strip_prefix('{')
        .and_then(|u| u.strip_suffix('}'))
        .filter(|v| !v.contains(['{', '}']))
    {
        return points_to.get(var).copied();
    }
    if !url.starts_with("/v2/") {
        return None;
    }
    let path = url.split('?').next().unwrap_or(url);
    Some(Target::parse(path)?.resource())
}

/// What the `Location` of an answer to `method` on `resource` designates: the session an
/// upload opened or goes on with, the blob a closing PUT made, the manifest a PUT stored.
/// A POST carrying a blob (`digest`) or asking a mount (`mount`) names the blob when it was
/// done (201) and a session when it was not (202): which one, only the answer tells.
pub(super) fn location_points_to(
    method: Method,
    resource: Resource,
    query: &[&str],
) -> Option<Resource> {
    match (resource, method) {
        (Resource::Uploads, Method::POST)
            if query.iter().any(|k| matches!(*k, "digest" | "mount")) =>
        {
            None
        }
        (Resource::Uploads, Method::POST) => Some(Resource::Upload),
        (Resource::Upload, Method::PATCH | Method::GET) => Some(Resource::Upload),
        (Resource::Upload, Method::PUT) => Some(Resource::Blob),
        (Resource::Manifest, Method::PUT) => Some(Resource::Manifest),
        _ => None,
    }
}

impl Checker<'_, '_> {
    pub(super) fn blame(
        &mut self,
        src: &Source,
        label: &str,
        r: &raw::Request,
        expect: &[raw::Expect],
        scope: &Scope<'_>,
    ) {
        let Some(route) =
            resource_of(&r.url, &scope.points_to).and_then(|res| route_for(res, r.method.as_str()))
        else {
            return;
        };
        for e in expect {
            let Some(id) = &e.req else { continue };
            let Some(q) = self.specs.requirements.get(&id.value) else {
                continue;
            };
            if q.endpoints.is_empty()
                || q.endpoints
                    .iter()
                    .any(|end| route.spec_ids.contains(&end.as_str()))
            {
                continue;
            }
            let at = self.file.source(id);
            let at = if at.to_string().is_empty() {
                src.clone()
            } else {
                at
            };
            self.err(
                &at,
                format!(
                    "{label}: {} is about {}, not {} {} ({}, {})",
                    id.value,
                    q.endpoints.join(", "),
                    r.method.as_str(),
                    r.url,
                    route.spec_ids[0],
                    route.summary
                ),
                Some(format!(
                    "name the requirement that governs this request, or add {} to the endpoints of {} if it really spans them",
                    route.spec_ids[0], id.value
                )),
            );
        }
    }
}
