use super::*;
use crate::resource::read;
use serde_json::json;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn alice() -> Map<String, Value> {
    read(
        ResourceKind::User,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "alice@example.com",
            "active": true,
            "name": { "givenName": "Alice", "familyName": "Liddell" },
            "emails": [{ "value": "alice@example.com", "type": "work", "primary": true }],
        }),
    )
    .unwrap()
}

fn patch(doc: &mut Map<String, Value>, kind: ResourceKind, ops: Value) -> Result<()> {
    let ops = parse_request(&json!({ "schemas": [crate::schema::PATCH_URN], "Operations": ops }))?;
    apply(kind, doc, &ops)
}

#[test]
fn entra_id_capitalised_op_and_string_boolean() {
    let mut u = alice();
    patch(&mut u, ResourceKind::User, json!([{ "op": "Replace", "path": "active", "value": "False" }])).unwrap();
    assert_eq!(u["active"], json!(false));
}

#[test]
fn okta_deactivation_without_path() {
    let mut u = alice();
    patch(&mut u, ResourceKind::User, json!([{ "op": "replace", "value": { "active": false } }])).unwrap();
    assert_eq!(u["active"], json!(false));
}

#[test]
fn path_less_replace_takes_paths_as_keys_and_extension_objects() {
    let mut u = alice();
    patch(
        &mut u,
        ResourceKind::User,
        json!([{ "op": "replace", "value": { "name.givenName": "Alicia", "displayName": "A. L.", ENT: { "department": "R&D" } } }]),
    )
    .unwrap();
    assert_eq!(u["name"]["givenName"], "Alicia");
    assert_eq!(u["name"]["familyName"], "Liddell");
    assert_eq!(u["displayName"], "A. L.");
    assert_eq!(u[ENT]["department"], "R&D");
}

#[test]
fn filtered_paths_with_sub_attributes() {
    let mut u = alice();
    patch(&mut u, ResourceKind::User, json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice@new.example" }])).unwrap();
    assert_eq!(u["emails"], json!([{ "value": "alice@new.example", "type": "work", "primary": true }]));
    // Entra ID adds the home address this way on a user without one.
    patch(&mut u, ResourceKind::User, json!([{ "op": "Add", "path": "emails[type eq \"home\"].value", "value": "a@home.example" }])).unwrap();
    assert_eq!(u["emails"][1], json!({ "type": "home", "value": "a@home.example" }));
    patch(&mut u, ResourceKind::User, json!([{ "op": "remove", "path": "emails[type eq \"work\"]" }])).unwrap();
    assert_eq!(u["emails"], json!([{ "type": "home", "value": "a@home.example" }]));
    patch(&mut u, ResourceKind::User, json!([{ "op": "remove", "path": "emails[type eq \"home\"].type" }])).unwrap();
    assert_eq!(u["emails"], json!([{ "value": "a@home.example" }]));
}

#[test]
fn extension_attribute_paths() {
    let mut u = alice();
    patch(&mut u, ResourceKind::User, json!([{ "op": "Add", "path": format!("{ENT}:employeeNumber"), "value": "42" }])).unwrap();
    assert_eq!(u[ENT]["employeeNumber"], "42");
    patch(&mut u, ResourceKind::User, json!([{ "op": "remove", "path": format!("{ENT}:employeeNumber") }])).unwrap();
    assert!(!u.contains_key(ENT), "an emptied extension disappears");
}

#[test]
fn adding_a_primary_email_demotes_the_old_one() {
    let mut u = alice();
    patch(&mut u, ResourceKind::User, json!([{ "op": "add", "path": "emails", "value": [{ "value": "b@example.com", "primary": true }] }])).unwrap();
    assert_eq!(u["emails"][0]["primary"], json!(false));
    assert_eq!(u["emails"][1]["primary"], json!(true));
}

fn group() -> Map<String, Value> {
    read(ResourceKind::Group, &json!({ "displayName": "Engineers", "members": [{ "value": "u1" }, { "value": "u2", "display": "ignored: read-only" }] })).unwrap()
}

#[test]
fn group_members_the_okta_and_entra_ways() {
    let mut g = group();
    assert_eq!(g["members"], json!([{ "value": "u1" }, { "value": "u2" }]));
    // Okta: add with a list, remove with a filter.
    patch(&mut g, ResourceKind::Group, json!([{ "op": "add", "path": "members", "value": [{ "value": "u3", "display": "Carol" }, { "value": "u1" }] }])).unwrap();
    assert_eq!(g["members"], json!([{ "value": "u1" }, { "value": "u2" }, { "value": "u3" }]));
    patch(&mut g, ResourceKind::Group, json!([{ "op": "remove", "path": "members[value eq \"u2\"]" }])).unwrap();
    assert_eq!(g["members"], json!([{ "value": "u1" }, { "value": "u3" }]));
    // Entra ID: remove with a value list.
    patch(&mut g, ResourceKind::Group, json!([{ "op": "Remove", "path": "members", "value": [{ "value": "u1" }] }])).unwrap();
    assert_eq!(g["members"], json!([{ "value": "u3" }]));
    // Okta renames with a path-less replace that repeats the id.
    patch(&mut g, ResourceKind::Group, json!([{ "op": "replace", "value": { "id": "g1", "displayName": "Engineering" } }])).unwrap();
    assert_eq!(g["displayName"], "Engineering");
    patch(&mut g, ResourceKind::Group, json!([{ "op": "replace", "path": "members", "value": [] }])).unwrap();
    assert!(!g.contains_key("members"));
}

#[test]
fn refusals_name_the_rule() {
    let mut u = alice();
    let e = patch(&mut u, ResourceKind::User, json!([{ "op": "replace", "path": "id", "value": "x" }])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = patch(&mut u, ResourceKind::User, json!([{ "op": "add", "path": "groups", "value": [{ "value": "g" }] }])).unwrap_err();
    assert!(e.detail.contains("members"), "{}", e.detail);
    let e = patch(&mut u, ResourceKind::User, json!([{ "op": "remove", "path": "userName" }])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = patch(&mut u, ResourceKind::User, json!([{ "op": "replace", "path": "active", "value": "maybe" }])).unwrap_err();
    assert!(e.detail.contains("true or false"), "{}", e.detail);
    let e = patch(&mut u, ResourceKind::User, json!([{ "op": "remove" }])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let e = patch(&mut u, ResourceKind::User, json!([{ "op": "merge", "path": "title", "value": "x" }])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    let e = patch(&mut u, ResourceKind::User, json!([{ "op": "replace", "path": "emails[type eq \"work\"", "value": "x" }])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
}

#[test]
fn attributes_portcullis_does_not_keep_are_ignored() {
    let mut u = alice();
    let before = u.clone();
    patch(&mut u, ResourceKind::User, json!([{ "op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555" }, { "op": "replace", "value": { "preferredLanguage": "en" } }])).unwrap();
    assert_eq!(u, before);
}

#[test]
fn projection_keeps_or_drops_what_is_asked() {
    let mut u = alice();
    u.insert("id".into(), json!("1"));
    u.insert("schemas".into(), json!([crate::schema::USER_URN]));
    let mut only = u.clone();
    crate::resource::project(&mut only, ResourceKind::User, &crate::resource::parse_attribute_list("name.givenName, emails").unwrap(), &[]);
    assert_eq!(only.keys().cloned().collect::<std::collections::BTreeSet<_>>(), ["emails", "id", "name", "schemas"].map(String::from).into());
    assert_eq!(only["name"], json!({ "givenName": "Alice" }));
    let mut without = u.clone();
    crate::resource::project(&mut without, ResourceKind::User, &[], &crate::resource::parse_attribute_list("emails,id").unwrap());
    assert!(!without.contains_key("emails") && without.contains_key("id"));
}
