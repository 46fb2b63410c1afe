//! A request step checked and planned: its query, headers and body, its expectations, the
//! captures later steps use and the answers that mean an optional feature is absent.

use super::bounds::Bound;
use super::check::{Checker, Scope};
use crate::runner::foreign::{self, ForeignUrls};
use crate::runner::plan::{self, Source};
use crate::runner::raw;
use crate::runner::template;

impl Checker<'_, '_> {
    pub(super) fn request_step(
        &mut self,
        src: &Source,
        label: &str,
        st: &raw::Step,
        r: &raw::Request,
        scope: &mut Scope<'_>,
    ) -> plan::RequestStep {
        if self.foreign_urls == ForeignUrls::Refused && foreign::leaves_registry(&r.url) {
            let url = &r.url;
            let message =
                format!("{label}: url {url:?} leads to another host than the registry under test");
            let hint = "name the registry by a path (/v2/…) or {registry}; a scenario reaches \
                        other hosts only with --allow-foreign-urls";
            self.err(src, message, Some(hint.into()));
        }
        let mut strings: Vec<&str> = vec![&r.url];
        let mut query = vec![];
        for (k, v) in &r.query {
            for x in v.clone().into_vec() {
                query.push((k.clone(), x));
            }
        }
        strings.extend(query.iter().map(|(_, v)| v.as_str()));
        strings.extend(r.headers.values().map(String::as_str));
        let body = match &r.body {
            None => None,
            Some(raw::Body::Content(c)) => {
                self.content_known(src, label, c, scope);
                Some(plan::Body::Content(c.clone()))
            }
            Some(raw::Body::Slice(sl)) => {
                self.content_known(src, label, &sl.content, scope);
                strings.extend(sl.templates());
                Some(plan::Body::Slice(sl.clone()))
            }
            Some(raw::Body::Text(t)) => {
                strings.push(t);
                Some(plan::Body::Text(t.clone()))
            }
            Some(raw::Body::Json(v)) => {
                template::json_strings(v, &mut strings);
                Some(plan::Body::Json(v.clone()))
            }
            Some(raw::Body::Fixture(f)) => {
                if let Err(e) = (self.fixture)(f) {
                    self.err(src, format!("{label}: fixture {f}: {e}"), None);
                }
                Some(plan::Body::Fixture(f.clone()))
            }
        };
        if let Some(c) = &r.chunks {
            scope.defined.insert("chunk.start".into());
            scope.defined.insert("chunk.end".into());
            self.content_known(src, label, &c.content, scope);
            self.bounded(
                src,
                &format!("{label}: chunks.count"),
                Bound::Chunks,
                c.count.into(),
            );
            if c.count == 0 {
                self.err(
                    src,
                    format!("{label}: chunks.count must be at least 1"),
                    None,
                );
            }
            self.vars_known(src, label, [c.location.as_str()], scope);
            if r.body.is_some() {
                self.err(
                    src,
                    format!("{label}: chunks and body exclude each other"),
                    None,
                );
            }
        }
        self.placeholders(src, label, &strings, scope);
        let mut skip_if = vec![];
        for sk in st
            .skip_if
            .clone()
            .map(raw::OneOrMany::into_vec)
            .unwrap_or_default()
        {
            let codes = self.codes(src, label, &sk.code);
            skip_if.push(plan::SkipIf {
                status: sk.status,
                codes,
                reason: sk.reason,
            });
        }
        let raw_expect = st
            .expect
            .clone()
            .map(raw::OneOrMany::into_vec)
            .unwrap_or_default();
        self.blame(src, label, r, &raw_expect, scope);
        let expect: Vec<plan::Expectation> = raw_expect
            .iter()
            .map(|e| self.expectation(src, label, e, scope, false))
            .collect();
        let mut capture = vec![];
        for (name, c) in &st.capture {
            let at = self.file.source(c);
            let c = &c.value;
            let from = match (&c.header, &c.json, c.status, &c.challenge) {
                (Some(h), None, false, None) => {
                    let replace = c.replace.as_ref().map(|r| (r.from.clone(), r.to.clone()));
                    if let Some((from, to)) = &replace {
                        self.placeholders(&at, label, &[from.as_str(), to.as_str()], scope);
                    }
                    plan::CaptureFrom::Header {
                        name: h.clone(),
                        resolve: c.resolve,
                        replace,
                    }
                }
                (None, Some(p), false, None) => {
                    plan::CaptureFrom::Json(p.split('|').map(|x| x.trim().to_string()).collect())
                }
                (None, None, true, None) => plan::CaptureFrom::Status,
                (None, None, false, Some(part)) => match plan::ChallengePart::parse(part) {
                    Some(p) => plan::CaptureFrom::Challenge(p),
                    None => {
                        self.err(
                            &at,
                            format!("{label}: capture {name}: no challenge part {part:?}"),
                            Some("scheme, realm, service or scope".into()),
                        );
                        continue;
                    }
                },
                _ => {
                    self.err(
                        &at,
                        format!("{label}: capture {name} needs exactly one of header, json, status, challenge"),
                        None,
                    );
                    continue;
                }
            };
            if (c.resolve || c.replace.is_some()) && c.header.is_none() {
                self.err(
                    &at,
                    format!("{label}: resolve and replace are for header captures"),
                    None,
                );
            }
            let requirement = match (&c.req, expect.first()) {
                (Some(r), _) => {
                    if !self.specs.requirements.contains_key(&r.value) {
                        let rat = self.file.source(r);
                        self.err(
                            &rat,
                            format!("{label}: unknown requirement id {}", r.value),
                            None,
                        );
                    }
                    r.value.clone()
                }
                (None, Some(e)) => e.requirement.clone(),
                // a status is always there: nothing to blame
                (None, None) if c.optional || matches!(from, plan::CaptureFrom::Status) => {
                    String::new()
                }
                (None, None) => {
                    self.err(
                        &at,
                        format!(
                            "{label}: capture {name} in a step without expectations has no req:"
                        ),
                        Some("name the requirement a missing value breaks".into()),
                    );
                    String::new()
                }
            };
            capture.push(plan::Capture {
                name: name.clone(),
                from,
                optional: c.optional,
                requirement,
                source: at,
            });
        }
        let target = super::blame::resource_of(&r.url, &scope.points_to);
        let keys: Vec<&str> = r.query.keys().map(String::as_str).collect();
        for c in &capture {
            scope.defined.insert(c.name.clone());
            scope.made_by.insert(c.name.clone(), scope.current);
            let location = matches!(&c.from, plan::CaptureFrom::Header { name, .. } if name.eq_ignore_ascii_case("location"));
            match target.and_then(|t| super::blame::location_points_to(r.method, t, &keys)) {
                Some(points) if location => {
                    scope.points_to.insert(c.name.clone(), points);
                }
                _ => {
                    scope.points_to.remove(&c.name);
                }
            }
        }
        if let Some(p) = &r.paginate {
            let field = format!("{label}: paginate.max_pages");
            self.bounded(src, &field, Bound::Pages, p.max_pages.into());
            // a page that breaks the walk is blamed on what the step checks
            if expect.is_empty() {
                self.err(
                    src,
                    format!("{label}: paginate needs an expectation naming the requirement the pages serve"),
                    None,
                );
            }
            scope.defined.insert(p.into.clone());
            scope.made_by.insert(p.into.clone(), scope.current);
        }
        if let Some(c) = &r.chunks {
            scope.made_by.insert(c.location.clone(), scope.current);
            scope
                .points_to
                .insert(c.location.clone(), crate::oci::api::Resource::Upload);
        }
        plan::RequestStep {
            request: plan::Request {
                method: r.method,
                url: r.url.clone(),
                query,
                headers: r.headers.clone().into_iter().collect(),
                body,
                chunks: r.chunks.clone(),
                paginate: r.paginate.clone(),
                anonymous: r.anonymous,
                basic: r.basic,
            },
            expect,
            capture,
            skip_if,
        }
    }
}
