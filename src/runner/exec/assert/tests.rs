use super::envelope_problems;
use crate::oci::errors::CodeTable;
use crate::runner::evidence::Evidence;

fn form(body: &str) -> Vec<Evidence> {
    form_in(CodeTable::Oci, body)
}

fn form_in(table: CodeTable, body: &str) -> Vec<Evidence> {
    envelope_problems(400, body.as_bytes(), table).form
}

#[test]
fn warnings_may_share_a_line() {
    let one = |v: &str| super::warning_problems(&[v.to_string()]);
    assert!(one(r#"299 - "a", 299 - "b, with a comma""#).is_empty());
    assert!(one(r#"299 - "a \" quoted", 299 - "b""#).is_empty());
    assert_eq!(one(r#"299 - "a", 199 - "b""#).len(), 1);
    assert_eq!(
        one(r#"299 - "a" "Sat, 01 Jan 2000 00:00:00 GMT""#).len(),
        1,
        "a date is refused"
    );
}

#[test]
fn a_message_is_judged_on_its_own_and_may_be_left_out() {
    let e = envelope_problems(
        400,
        br#"{"errors":[{"code":"DENIED","message":7}]}"#,
        CodeTable::Oci,
    );
    assert!(e.shape.is_empty() && e.form.is_empty(), "{e:?}");
    assert_eq!(e.message.len(), 1, "{e:?}");
    for body in [
        r#"{"errors":[{"code":"DENIED"}]}"#,
        r#"{"errors":[{"code":"DENIED","message":""}]}"#,
    ] {
        let e = envelope_problems(400, body.as_bytes(), CodeTable::Oci);
        assert!(e.message.is_empty() && e.shape.is_empty(), "{body}: {e:?}");
    }
}

#[test]
fn codes_outside_the_table_break_the_form() {
    for code in ["BAD_REQUEST", "METHOD_UNKNOWN", "NOT_FOUND"] {
        let p = form(&format!(r#"{{"errors":[{{"code":"{code}"}}]}}"#));
        assert_eq!(p.len(), 1, "{code}: {p:?}");
        assert!(p[0].contains("is not in the OCI spec's table"), "{p:?}");
    }
}

#[test]
fn distribution_codes_keep_the_form_under_distribution_table_only() {
    for code in ["PAGINATION_NUMBER_INVALID", "RANGE_INVALID"] {
        let body = format!(r#"{{"errors":[{{"code":"{code}"}}]}}"#);
        assert_eq!(form(&body).len(), 1, "{code} under the OCI table");
        assert!(form_in(CodeTable::Distribution, &body).is_empty(), "{code}");
    }
    let bad = r#"{"errors":[{"code":"BAD_REQUEST"}]}"#;
    assert_eq!(form_in(CodeTable::Distribution, bad).len(), 1);
}

#[test]
fn an_envelope_of_any_length_gets_a_bounded_account() {
    let entries = vec![r#"{"code":"NOPE"}"#; 10_000].join(",");
    let p = form(&format!(r#"{{"errors":[{entries}]}}"#));
    assert_eq!(p.len(), super::LISTED + 1, "{p:?}");
    assert!(p[super::LISTED].contains("9980 more"), "{p:?}");
    // a huge body that is no envelope is shown cut, with its size and digest
    let body = format!(r#"{{"junk":"{}"}}"#, "a".repeat(1 << 20));
    let shape = envelope_problems(404, body.as_bytes(), CodeTable::Oci).shape;
    let digest = crate::oci::Digest::sha256(body.as_bytes());
    assert!(shape[0].len() < 1024, "{}", shape[0].len());
    assert!(
        shape[0].ends_with(&format!("({} bytes, {digest})", body.len())),
        "{}",
        shape[0]
    );
}

#[test]
fn codes_of_the_table_and_legacy_docker_codes_keep_it() {
    for code in [
        "BLOB_UNKNOWN",
        "TOOMANYREQUESTS",
        "TAG_INVALID",
        "MANIFEST_UNVERIFIED",
    ] {
        let p = form(&format!(r#"{{"errors":[{{"code":"{code}"}}]}}"#));
        assert!(p.is_empty(), "{code}: {p:?}");
    }
    // the form is judged on 4xx answers only
    assert!(
        envelope_problems(500, br#"{"errors":[{"code":"UNKNOWN"}]}"#, CodeTable::Oci)
            .form
            .is_empty()
    );
}
