use super::*;
use serde_json::json;

fn user() -> Value {
    json!({
        "userName": "Alice@Example.com",
        "externalId": "00u1AbC",
        "displayName": "Alice Liddell",
        "active": true,
        "name": { "givenName": "Alice", "familyName": "Liddell" },
        "emails": [
            { "value": "alice@example.com", "type": "work", "primary": true },
            { "value": "alice@home.example", "type": "home" }
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "R&D" },
        "meta": { "lastModified": "2026-11-30T10:00:00Z" }
    })
}

fn yes(f: &str) -> bool {
    Filter::parse(f).unwrap().matches(&user(), ResourceKind::User)
}

#[test]
fn user_name_eq_is_case_insensitive_and_external_id_is_not() {
    assert!(yes(r#"userName eq "alice@example.com""#));
    assert!(yes(r#"USERNAME EQ "ALICE@EXAMPLE.COM""#));
    assert!(yes(r#"externalId eq "00u1AbC""#));
    assert!(!yes(r#"externalId eq "00u1abc""#));
    assert!(!yes(r#"userName eq "bob@example.com""#));
}

#[test]
fn logical_operators_bind_not_then_and_then_or() {
    assert!(yes(r#"userName eq "x" or displayName eq "Alice Liddell""#));
    assert!(!yes(r#"userName eq "x" and displayName eq "Alice Liddell""#));
    // and binds tighter: false or (true and true)
    assert!(yes(r#"userName eq "x" or active eq true and displayName sw "Alice""#));
    assert!(!yes(r#"(userName eq "x" or active eq true) and displayName sw "Bob""#));
    assert!(yes(r#"not (userName eq "x")"#));
}

#[test]
fn operators_on_strings_sub_attributes_extensions_and_presence() {
    assert!(yes(r#"displayName co "lid""#));
    assert!(yes(r#"displayName ew "LIDDELL""#));
    assert!(yes(r#"name.givenName eq "alice""#));
    assert!(yes(r#"emails.value eq "alice@home.example""#));
    assert!(yes(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#));
    assert!(!yes("title pr"));
    assert!(yes("emails pr"));
    assert!(yes(r#"meta.lastModified gt "2026-11-01T00:00:00Z""#));
    assert!(!yes(r#"meta.lastModified lt "2026-11-01T00:00:00Z""#));
    assert!(yes(r#"userName ne "bob""#));
    assert!(yes(r#"active eq "True""#), "Entra ID writes booleans as strings");
}

#[test]
fn value_paths_match_within_one_element() {
    assert!(yes(r#"emails[type eq "work" and value co "example.com"]"#));
    assert!(!yes(r#"emails[type eq "home" and primary eq true]"#));
}

#[test]
fn the_equality_fast_path_is_recognised() {
    let f = Filter::parse(r#"userName eq "a@b.c""#).unwrap();
    let (p, v) = f.as_equality().unwrap();
    assert_eq!((p.attr.as_str(), v), ("userName", "a@b.c"));
    assert!(Filter::parse(r#"userName eq "a" and active eq true"#).unwrap().as_equality().is_none());
}

#[test]
fn bad_filters_say_what_is_wrong() {
    for (f, says) in [
        ("", "empty"),
        (r#"userName eq"#, "needs a value"),
        (r#"userName is "x""#, "not an operator"),
        (r#"userName eq alice"#, "quote strings"),
        (r#"userName eq "x" displayName eq "y""#, "left over"),
        (r#"(userName eq "x""#, "`)`"),
        (r#"userName eq "unterminated"#, "closing quote"),
        (r#"1abc eq "x""#, "attribute path"),
    ] {
        let e = Filter::parse(f).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
        assert!(e.detail.contains(says), "{f}: {}", e.detail);
    }
}

#[test]
fn a_bare_schema_urn_is_a_path_to_the_extension() {
    let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User").unwrap();
    assert_eq!(p.attr, "");
    let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
    assert_eq!((p.attr.as_str(), p.sub.as_deref()), ("manager", Some("value")));
}
