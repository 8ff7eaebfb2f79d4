//! PATCH (RFC 7644 §3.5.2): operations `add`, `replace` and `remove`, with
//! or without a `path`, including value filters (`members[value eq "..."]`,
//! `emails[type eq "work"].value`), applied to a canonical resource.
//!
//! Lenient where the two big clients differ from the letter of the RFC, as
//! their documentation shows: `op` in any case (Entra ID sends `"Replace"`),
//! booleans as strings (`"False"`), `remove` of `members` with a `value`
//! list, a path-less `replace` whose keys are paths (`"name.givenName"`),
//! and a filtered path that matches nothing creating the element it
//! describes (`emails[type eq "work"].value` on a user without one).
//! Attributes Portcullis does not keep are ignored, as in POST.

use crate::error::{Result, ScimError, ScimType};
use crate::filter::{AttrPath, CompareOp, Filter};
use crate::resource::{check_required, value_for};
use crate::schema::{Attr, Mutability, ResourceKind, EXTERNAL_ID};
use serde_json::{Map, Value};

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Adds values (appends to lists, merges into complex attributes).
    Add,
    /// Replaces values.
    Replace,
    /// Removes values.
    Remove,
}

/// A PATCH path: `attrPath` or `valuePath [subAttr]` (RFC 7644 §3.5.2, Figure 4).
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    /// The attribute (with its sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value filter, for a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after the filter.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a `path`.
    pub fn parse(raw: &str) -> Result<PatchPath> {
        let raw = raw.trim();
        let Some(open) = raw.find('[') else {
            return Ok(PatchPath { attr: AttrPath::parse(raw)?, filter: None, sub: None });
        };
        let close = raw.rfind(']').filter(|&c| c > open).ok_or_else(|| ScimError::bad_request(ScimType::InvalidPath, format!("`{raw}` opens a `[` filter it does not close")))?;
        let attr = AttrPath::parse(&raw[..open])?;
        if attr.sub.is_some() {
            return Err(ScimError::bad_request(ScimType::InvalidPath, format!("`{raw}`: a filter follows the attribute, as in emails[type eq \"work\"].value")));
        }
        let filter = Filter::parse(&raw[open + 1..close]).map_err(|e| ScimError::bad_request(ScimType::InvalidPath, format!("the filter in `{raw}`: {}", e.detail)))?;
        let rest = &raw[close + 1..];
        let sub = match rest {
            "" => None,
            r => Some(r.strip_prefix('.').filter(|s| !s.is_empty()).ok_or_else(|| ScimError::bad_request(ScimType::InvalidPath, format!("`{raw}`: only `.subAttribute` may follow the filter")))?.to_owned()),
        };
        Ok(PatchPath { attr, filter: Some(filter), sub })
    }
}

/// One operation of a PATCH request.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// What it does.
    pub op: Op,
    /// Where, if it says.
    pub path: Option<PatchPath>,
    /// With what.
    pub value: Option<Value>,
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Reads a PATCH request body (`PatchOp` message).
pub fn parse_request(body: &Value) -> Result<Vec<Operation>> {
    let ops = get_ci(body, "Operations").and_then(Value::as_array).ok_or_else(|| syntax("a PATCH body is a PatchOp message with an `Operations` list"))?;
    ops.iter()
        .map(|o| {
            let op = match get_ci(o, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                other => return Err(syntax(format!("`op` must be add, replace or remove, not {}", other.unwrap_or("missing")))),
            };
            let path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(PatchPath::parse(p)?),
                Some(other) => return Err(ScimError::bad_request(ScimType::InvalidPath, format!("`path` must be a string, not {other}"))),
            };
            let value = get_ci(o, "value").cloned();
            if op != Op::Remove && value.is_none() {
                return Err(syntax(format!("an `{}` operation needs a `value`", if op == Op::Add { "add" } else { "replace" })));
            }
            if op == Op::Remove && path.is_none() {
                return Err(ScimError::bad_request(ScimType::NoTarget, "a `remove` operation needs a `path`"));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// Applies `ops` in order to `doc`, a canonical resource of `kind`; on an
/// error, `doc` may be half-changed, so apply to a copy.
pub fn apply(kind: ResourceKind, doc: &mut Map<String, Value>, ops: &[Operation]) -> Result<()> {
    for o in ops {
        match &o.path {
            Some(p) => apply_at(kind, doc, o.op, p, o.value.as_ref())?,
            None => {
                let Some(Value::Object(values)) = &o.value else {
                    return Err(syntax("an operation without a `path` needs an object `value`, whose keys are the attributes to change"));
                };
                for (k, v) in values {
                    if ["schemas", "id", "meta"].iter().any(|x| k.eq_ignore_ascii_case(x)) {
                        continue;
                    }
                    let path = PatchPath::parse(k)?;
                    if path.attr.attr.is_empty() {
                        // An extension's attributes, as an object under its URN.
                        let Value::Object(inner) = v else { return Err(syntax(format!("`{k}` takes an object of its attributes"))) };
                        for (ik, iv) in inner {
                            let p = PatchPath { attr: AttrPath { urn: path.attr.urn.clone(), attr: ik.clone(), sub: None }, filter: None, sub: None };
                            apply_at(kind, doc, o.op, &p, Some(iv))?;
                        }
                    } else {
                        apply_at(kind, doc, o.op, &path, Some(v))?;
                    }
                }
            }
        }
    }
    doc.retain(|_, v| !is_empty(v));
    check_required(kind, doc)
}

/// A path that is a bare extension URN: the extension as a whole.
fn apply_to_extension(kind: ResourceKind, doc: &mut Map<String, Value>, op: Op, p: &PatchPath, value: Option<&Value>) -> Result<()> {
    let Some(ext) = kind.extensions().iter().find(|s| p.attr.urn.as_deref().is_some_and(|u| s.id.eq_ignore_ascii_case(u))) else { return Ok(()) };
    match (op, value) {
        (Op::Remove, _) => {
            doc.remove(ext.id);
        }
        (_, Some(Value::Object(attrs))) => {
            if op == Op::Replace {
                doc.remove(ext.id);
            }
            for (k, v) in attrs {
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let path = PatchPath { attr: AttrPath { urn: Some(ext.id.to_owned()), attr: k.clone(), sub: None }, filter: None, sub: None };
                apply_at(kind, doc, op, &path, Some(v))?;
            }
        }
        _ => return Err(syntax(format!("`{}` takes an object of its attributes", ext.id))),
    }
    Ok(())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The container (the resource, or an extension's object) and the
/// attribute a path names; `None` for an attribute Portcullis does not keep.
fn resolve<'d>(kind: ResourceKind, doc: &'d mut Map<String, Value>, p: &AttrPath) -> Result<Option<(&'d mut Map<String, Value>, &'static Attr)>> {
    let core = match &p.urn {
        None => true,
        Some(u) => u.eq_ignore_ascii_case(kind.schema().id),
    };
    if core && (p.attr.eq_ignore_ascii_case("id") || p.attr.eq_ignore_ascii_case("meta")) {
        return Err(ScimError::bad_request(ScimType::Mutability, format!("`{}` is set by Portcullis and cannot be changed", p.attr)));
    }
    if core && p.attr.eq_ignore_ascii_case("externalId") {
        return Ok(Some((doc, &EXTERNAL_ID)));
    }
    let Some(attr) = p.schema_attr(kind) else { return Ok(None) };
    if attr.mutability == Mutability::ReadOnly {
        return Err(ScimError::bad_request(ScimType::Mutability, format!("`{}` is read-only{}", attr.name, if attr.name == "groups" { ": change a group's members instead" } else { "" })));
    }
    if core {
        return Ok(Some((doc, attr)));
    }
    let ext = kind.extensions().iter().find(|s| p.urn.as_deref().is_some_and(|u| s.id.eq_ignore_ascii_case(u))).map(|s| s.id).unwrap_or_default();
    let entry = doc.entry(ext.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    Ok(entry.as_object_mut().map(|m| (m, attr)))
}

fn sub_of(attr: &'static Attr, name: &str) -> Result<Option<&'static Attr>> {
    if attr.ty != crate::schema::Type::Complex {
        return Err(ScimError::bad_request(ScimType::InvalidPath, format!("`{}` has no sub-attributes", attr.name)));
    }
    match attr.sub_attr(name) {
        Some(s) if s.mutability == Mutability::ReadOnly => Err(ScimError::bad_request(ScimType::Mutability, format!("`{}.{}` is read-only", attr.name, s.name))),
        other => Ok(other),
    }
}

/// The element a filter of equalities describes, for a filtered path that
/// matches nothing (`emails[type eq "work"]` → `{"type": "work"}`).
fn element_from(filter: &Filter, attr: &'static Attr, out: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::And(a, b) => element_from(a, attr, out) && element_from(b, attr, out),
        Filter::Compare(p, CompareOp::Eq, v) if p.urn.is_none() && p.sub.is_none() => match attr.sub_attr(&p.attr) {
            Some(s) => {
                out.insert(s.name.to_owned(), v.clone());
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn same_member(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn apply_at(kind: ResourceKind, doc: &mut Map<String, Value>, op: Op, p: &PatchPath, value: Option<&Value>) -> Result<()> {
    if p.attr.attr.is_empty() {
        return apply_to_extension(kind, doc, op, p, value);
    }
    let Some((container, attr)) = resolve(kind, doc, &p.attr)? else { return Ok(()) };
    let name = attr.name;
    let null = Value::Null;
    let value = value.unwrap_or(&null);
    match (&p.filter, p.attr.sub.as_deref().or(p.sub.as_deref())) {
        // The whole attribute.
        (None, None) => match op {
            Op::Remove if attr.multi && !value.is_null() => {
                // Entra ID: {"op": "Remove", "path": "members", "value": [{"value": "id"}]}.
                let gone = value_for(attr, value, name)?.and_then(|v| v.as_array().cloned()).unwrap_or_default();
                if let Some(Value::Array(items)) = container.get_mut(name) {
                    items.retain(|i| !gone.iter().any(|g| same_member(i, g)));
                }
            }
            Op::Remove => {
                container.remove(name);
            }
            Op::Add if attr.multi => {
                let new = value_for(attr, value, name)?.and_then(|v| v.as_array().cloned()).unwrap_or_default();
                let items = container.entry(name.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = items {
                    for n in new {
                        if !items.iter().any(|i| same_member(i, &n)) {
                            if n.get("primary") == Some(&Value::Bool(true)) {
                                items.iter_mut().for_each(|i| if i.get("primary").is_some() { i["primary"] = Value::Bool(false) });
                            }
                            items.push(n);
                        }
                    }
                }
            }
            Op::Add if attr.ty == crate::schema::Type::Complex => {
                if let Some(Value::Object(new)) = value_for(attr, value, name)? {
                    let entry = container.entry(name.to_owned()).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(o) = entry {
                        o.extend(new);
                    } else {
                        *entry = Value::Object(new);
                    }
                }
            }
            Op::Add | Op::Replace => match value_for(attr, value, name)? {
                Some(v) => {
                    container.insert(name.to_owned(), v);
                }
                None => {
                    container.remove(name);
                }
            },
        },
        // A sub-attribute of every value (or of the one value).
        (None, Some(sub)) => {
            let Some(sa) = sub_of(attr, sub)? else { return Ok(()) };
            let path = format!("{name}.{}", sa.name);
            let new = if op == Op::Remove { None } else { value_for(sa, value, &path)? };
            let target = container.entry(name.to_owned()).or_insert_with(|| if attr.multi { Value::Array(Vec::new()) } else { Value::Object(Map::new()) });
            if let Value::Array(a) = target {
                if a.is_empty() {
                    if let Some(v) = new {
                        a.push(Value::Object(Map::from_iter([(sa.name.to_owned(), v)])));
                    }
                    return Ok(());
                }
            }
            let mut elements: Vec<&mut Value> = match target {
                Value::Array(a) => a.iter_mut().collect(),
                other => vec![other],
            };
            for e in elements.iter_mut() {
                if let Value::Object(o) = e {
                    match &new {
                        Some(v) => o.insert(sa.name.to_owned(), v.clone()),
                        None => o.remove(sa.name),
                    };
                }
            }
        }
        // Some values of a multi-valued attribute.
        (Some(filter), sub) => {
            if !attr.multi {
                return Err(ScimError::bad_request(ScimType::InvalidPath, format!("`{name}` is not multi-valued, so it takes no filter")));
            }
            let sa = match sub {
                Some(s) => match sub_of(attr, s)? {
                    Some(sa) => Some(sa),
                    None => return Ok(()),
                },
                None => None,
            };
            let items = container.entry(name.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else { return Ok(()) };
            let matching = |v: &Value| crate::filter::element_matches(filter, v, attr);
            let hits = items.iter().filter(|v| matching(v)).count();
            match (op, sa) {
                (Op::Remove, None) => items.retain(|v| !matching(v)),
                (Op::Remove, Some(sa)) => items.iter_mut().filter(|v| matching(v)).for_each(|v| {
                    if let Value::Object(o) = v {
                        o.remove(sa.name);
                    }
                }),
                (_, Some(sa)) => {
                    let new = value_for(sa, value, &format!("{name}.{}", sa.name))?;
                    if hits == 0 {
                        let mut element = Map::new();
                        if !element_from(filter, attr, &mut element) {
                            return Err(ScimError::bad_request(ScimType::NoTarget, format!("no value of `{name}` matches the path's filter")));
                        }
                        if let Some(v) = new {
                            element.insert(sa.name.to_owned(), v);
                            items.push(Value::Object(element));
                        }
                    } else {
                        for v in items.iter_mut().filter(|v| matching(v)) {
                            if let Value::Object(o) = v {
                                match &new {
                                    Some(n) => o.insert(sa.name.to_owned(), n.clone()),
                                    None => o.remove(sa.name),
                                };
                            }
                        }
                    }
                }
                (_, None) => {
                    let new = value_for(attr, value, name)?.and_then(|v| v.as_array().and_then(|a| a.first().cloned()));
                    let Some(Value::Object(new)) = new else { return Err(ScimError::bad_request(ScimType::InvalidValue, format!("`{name}[...]` takes an object value"))) };
                    if hits == 0 {
                        let mut element = Map::new();
                        element_from(filter, attr, &mut element);
                        element.extend(new);
                        items.push(Value::Object(element));
                    } else {
                        for v in items.iter_mut().filter(|v| matching(v)) {
                            if let Value::Object(o) = v {
                                if op == Op::Replace {
                                    o.clear();
                                }
                                o.extend(new.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
