//! Reading a client's document against the schema, and projecting a
//! resource for `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5).
//!
//! A stored resource is *canonical*: attribute names in the schema's case,
//! booleans as booleans, extension attributes under their schema URN, no
//! read-only or unknown attribute, no empty value.

use crate::error::{Result, ScimError, ScimType};
use crate::filter::AttrPath;
use crate::schema::{Attr, Mutability, ResourceKind, Schema, Type};
use serde_json::{Map, Value};

fn invalid_value(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

/// Reads a boolean, leniently: Entra ID sends `"True"` and `"False"`.
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn single(attr: &'static Attr, v: &Value, path: &str) -> Result<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some(match attr.ty {
        Type::String | Type::Reference => match v {
            Value::String(s) => Value::String(s.clone()),
            _ => return Err(invalid_value(format!("`{path}` must be a string, not {v}"))),
        },
        Type::Boolean => Value::Bool(boolean(v).ok_or_else(|| invalid_value(format!("`{path}` must be true or false, not {v}")))?),
        Type::Complex => match v {
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, sv) in o {
                    let Some(sub) = attr.sub_attr(k) else { continue };
                    if sub.mutability == Mutability::ReadOnly {
                        continue;
                    }
                    if let Some(x) = single(sub, sv, &format!("{path}.{}", sub.name))? {
                        out.insert(sub.name.to_owned(), x);
                    }
                }
                if out.is_empty() {
                    return Ok(None);
                }
                Value::Object(out)
            }
            // A bare value for a list of `{value: ...}` (`"members": ["id"]`).
            Value::String(_) if attr.multi && attr.sub_attr("value").is_some() => serde_json::json!({ "value": v }),
            _ => return Err(invalid_value(format!("`{path}` must be an object with the sub-attributes {}", attr.sub.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")))),
        },
    }))
}

/// Reads a value for `attr`; `None` when it leaves the attribute unassigned.
pub fn value_for(attr: &'static Attr, v: &Value, path: &str) -> Result<Option<Value>> {
    if attr.multi {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let mut out = Vec::new();
        for item in items {
            if let Some(x) = single(attr, item, path)? {
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
        keep_one_primary(&mut out);
        return Ok(if out.is_empty() { None } else { Some(Value::Array(out)) });
    }
    match v {
        Value::Array(a) if a.len() == 1 => single(attr, &a[0], path),
        Value::Array(_) => Err(invalid_value(format!("`{path}` takes one value, not a list"))),
        other => single(attr, other, path),
    }
}

/// RFC 7643 §2.4: `primary: true` appears at most once; the last one set wins.
fn keep_one_primary(items: &mut [Value]) {
    let last = items.iter().rposition(|i| i.get("primary") == Some(&Value::Bool(true)));
    if let Some(last) = last {
        for (n, i) in items.iter_mut().enumerate() {
            if n != last && i.get("primary") == Some(&Value::Bool(true)) {
                i["primary"] = Value::Bool(false);
            }
        }
    }
}

fn read_attrs(schema: &'static Schema, input: &Map<String, Value>, out: &mut Map<String, Value>, prefix: &str) -> Result<()> {
    for (k, v) in input {
        let Some(attr) = schema.attr(k) else { continue };
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(x) = value_for(attr, v, &format!("{prefix}{}", attr.name))? {
            out.insert(attr.name.to_owned(), x);
        }
    }
    Ok(())
}

/// Reads a whole resource a client sent (POST, PUT): unknown and read-only
/// attributes are ignored (RFC 7644 §3.3), values checked and coerced, and
/// required attributes demanded.
pub fn read(kind: ResourceKind, input: &Value) -> Result<Map<String, Value>> {
    let obj = input.as_object().ok_or_else(|| ScimError::bad_request(ScimType::InvalidSyntax, format!("a {} must be a JSON object", kind.name())))?;
    let mut out = Map::new();
    read_attrs(kind.schema(), obj, &mut out, "")?;
    if let Some(v) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("externalId")).map(|(_, v)| v) {
        match v {
            Value::String(s) if !s.is_empty() => {
                out.insert("externalId".into(), Value::String(s.clone()));
            }
            Value::Null | Value::String(_) => {}
            _ => return Err(invalid_value(format!("`externalId` must be a string, not {v}"))),
        }
    }
    for ext in kind.extensions() {
        let mut ext_out = Map::new();
        for (k, v) in obj {
            if k.eq_ignore_ascii_case(ext.id) {
                if let Some(o) = v.as_object() {
                    read_attrs(ext, o, &mut ext_out, &format!("{}:", ext.id))?;
                }
            } else if k.len() > ext.id.len() + 1 && k[..ext.id.len()].eq_ignore_ascii_case(ext.id) && k.as_bytes()[ext.id.len()] == b':' {
                // `"urn:...:User:department": "R&D"`, a form some clients use.
                let single = Map::from_iter([(k[ext.id.len() + 1..].to_owned(), v.clone())]);
                read_attrs(ext, &single, &mut ext_out, &format!("{}:", ext.id))?;
            }
        }
        if !ext_out.is_empty() {
            out.insert(ext.id.to_owned(), Value::Object(ext_out));
        }
    }
    check_required(kind, &out)?;
    Ok(out)
}

/// Refuses a resource without its required attributes.
pub fn check_required(kind: ResourceKind, doc: &Map<String, Value>) -> Result<()> {
    for attr in kind.schema().attrs.iter().filter(|a| a.required) {
        match doc.get(attr.name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => return Err(invalid_value(format!("`{}` is required for a {}", attr.name, kind.name()))),
        }
    }
    Ok(())
}

/// The `attributes` / `excludedAttributes` query parameters: a comma-separated
/// list of attribute paths.
pub fn parse_attribute_list(raw: &str) -> Result<Vec<AttrPath>> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(AttrPath::parse).collect()
}

/// Keeps what `attributes` asks for (plus `id` and `schemas`, which are
/// always returned), or drops what `excludedAttributes` names.
pub fn project(doc: &mut Map<String, Value>, kind: ResourceKind, attributes: &[AttrPath], excluded: &[AttrPath]) {
    let is_core = |p: &AttrPath| !matches!(p.urn.as_deref(), Some(u) if !u.eq_ignore_ascii_case(kind.schema().id));
    let names_key = |key: &str, p: &AttrPath| {
        if is_core(p) {
            key.eq_ignore_ascii_case(&p.attr)
        } else {
            p.urn.as_deref().is_some_and(|u| key.eq_ignore_ascii_case(u))
        }
    };
    if !attributes.is_empty() {
        let keys: Vec<String> = doc.keys().cloned().collect();
        for key in keys {
            if key == "id" || key == "schemas" {
                continue;
            }
            let wanted: Vec<&AttrPath> = attributes.iter().filter(|p| names_key(&key, p)).collect();
            if wanted.is_empty() {
                doc.remove(&key);
                continue;
            }
            // Only some sub-attributes (or, in an extension, some attributes).
            if wanted.iter().any(|p| if is_core(p) { p.sub.is_none() } else { p.attr.is_empty() }) {
                continue;
            }
            let inner: Vec<&str> = wanted.iter().map(|p| if is_core(p) { p.sub.as_deref().unwrap_or_default() } else { p.attr.as_str() }).collect();
            keep_only(doc.get_mut(&key), &inner);
        }
    }
    for p in excluded {
        if is_core(p) && (p.attr.eq_ignore_ascii_case("id") || p.attr.eq_ignore_ascii_case("schemas")) {
            continue;
        }
        let key = doc.keys().find(|k| names_key(k, p)).cloned();
        let Some(key) = key else { continue };
        let inner = if is_core(p) { p.sub.as_deref() } else { Some(p.attr.as_str()).filter(|a| !a.is_empty()) };
        match inner {
            None => {
                doc.remove(&key);
            }
            Some(name) => drop_named(doc.get_mut(&key), name),
        }
    }
}

fn keep_only(v: Option<&mut Value>, names: &[&str]) {
    match v {
        Some(Value::Object(o)) => o.retain(|k, _| names.iter().any(|n| k.eq_ignore_ascii_case(n))),
        Some(Value::Array(a)) => a.iter_mut().for_each(|e| keep_only(Some(e), names)),
        _ => {}
    }
}

fn drop_named(v: Option<&mut Value>, name: &str) {
    match v {
        Some(Value::Object(o)) => o.retain(|k, _| !k.eq_ignore_ascii_case(name)),
        Some(Value::Array(a)) => a.iter_mut().for_each(|e| drop_named(Some(e), name)),
        _ => {}
    }
}
