//! Captures: values of an answer kept for later steps, typed (a status is a number).

use reqwest::Url;
use serde_json::Value;

use super::scenario::Runner;
use super::{Stop, fail};
use crate::runner::client::{Response, parse_challenge};
use crate::runner::jsonpath::json_path;
use crate::runner::plan::{CaptureFrom, ChallengePart, RequestStep};

impl Runner<'_> {
    pub(super) fn capture(
        &mut self,
        rs: &RequestStep,
        url: &Url,
        res: &Response,
    ) -> Result<(), Stop> {
        for c in &rs.capture {
            // a capture that finds nothing breaks the requirement it names (or the step's)
            let step_req = Some(c.requirement.as_str());
            let v = match &c.from {
                CaptureFrom::Header {
                    name,
                    resolve,
                    replace,
                } => {
                    // a field sent on several lines is one list (RFC 9110 §5.3)
                    let lines = res.header_all(name);
                    let joined = (!lines.is_empty()).then(|| lines.join(", "));
                    let Some(raw) = joined.as_deref() else {
                        if c.optional {
                            self.vars
                                .insert(c.name.clone(), Value::String(String::new()));
                            continue;
                        }
                        return Err(fail(
                            step_req,
                            &format!("header {name}"),
                            "present (later steps use it)",
                            "missing",
                            &c.source,
                        ));
                    };
                    let value = if *resolve {
                        let joined = url.join(raw).map_err(|e| {
                            fail(
                                step_req,
                                &format!("header {name}"),
                                "a URL reference",
                                format!("{raw:?} ({e})"),
                                &c.source,
                            )
                        })?;
                        joined.to_string()
                    } else {
                        raw.to_string()
                    };
                    // where the registry sends the client is the registry's to say; the
                    // origin is taken as it came, before a `replace:` rewrites it
                    if name.eq_ignore_ascii_case("location") {
                        self.reach.named_by_registry(&value);
                    }
                    let Some((from, to)) = replace else {
                        self.vars.insert(c.name.clone(), Value::String(value));
                        continue;
                    };
                    let (from, to) = (self.render(from)?, self.render(to)?);
                    match value.contains(&from) {
                        true => Value::String(value.replacen(&from, &to, 1)),
                        // the value is not of the form the replacement needs
                        false if c.optional => Value::String(String::new()),
                        false => {
                            return Err(fail(
                                step_req,
                                &format!("header {name}"),
                                format!("a value holding {from:?} (later steps use it)"),
                                value,
                                &c.source,
                            ));
                        }
                    }
                }
                CaptureFrom::Challenge(part) => {
                    let ch = res
                        .header("www-authenticate")
                        .map(parse_challenge)
                        .unwrap_or_default();
                    let v = match part {
                        ChallengePart::Scheme => ch.scheme.clone(),
                        p => ch.params.get(p.as_str()).cloned().unwrap_or_default(),
                    };
                    if v.is_empty() && !c.optional {
                        return Err(fail(
                            step_req,
                            "header WWW-Authenticate",
                            format!("a challenge with a {}", part.as_str()),
                            res.header("www-authenticate")
                                .unwrap_or("missing")
                                .to_string(),
                            &c.source,
                        ));
                    }
                    if *part == ChallengePart::Realm {
                        self.reach.named_by_registry(&v);
                    }
                    Value::String(v)
                }
                CaptureFrom::Json(paths) => {
                    let body: Value = match serde_json::from_slice(&res.body) {
                        Ok(v) => v,
                        Err(_) if c.optional => Value::Null,
                        Err(e) => {
                            return Err(fail(
                                step_req,
                                "body",
                                format!("JSON holding {}", paths.join(" or ")),
                                format!("not JSON: {e}"),
                                &c.source,
                            ));
                        }
                    };
                    // the first of these paths that is present (paths are templates, as in
                    // expectations: `manifests[digest={x.digest}]`)
                    let mut rendered = vec![];
                    for p in paths {
                        rendered.push(self.render(p)?);
                    }
                    let found = rendered
                        .iter()
                        .find_map(|p| json_path(&body, p).filter(|x| !x.is_null()).cloned());
                    match found {
                        Some(x) => x,
                        None if c.optional => Value::Null,
                        None => {
                            return Err(fail(
                                step_req,
                                &format!("json {}", paths.join("|")),
                                "present (later steps use it)",
                                "missing",
                                &c.source,
                            ));
                        }
                    }
                }
                CaptureFrom::Status => Value::from(res.status),
            };
            self.vars.insert(c.name.clone(), v);
        }
        Ok(())
    }
}
