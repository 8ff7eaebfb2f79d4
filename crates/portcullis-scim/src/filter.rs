//! Filters (RFC 7644 §3.4.2.2): parsed into a [`Filter`], evaluated on a
//! resource's JSON. Operators and keywords are case-insensitive; string
//! comparisons follow each attribute's `caseExact`.

use crate::error::{Result, ScimError, ScimType};
use crate::schema::{Attr, ResourceKind};
use serde_json::Value;

/// `attrPath = [URI ":"] ATTRNAME *1subAttr` (RFC 7644 §3.4.2.2, Figure 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when the path names one (an extension's attributes).
    pub urn: Option<String>,
    /// The attribute, or empty when the path is a bare schema URN.
    pub attr: String,
    /// The sub-attribute, after a dot.
    pub sub: Option<String>,
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        // `$ref` is the one sub-attribute name that starts with a `$`.
        Some('$') => s == "$ref",
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        _ => false,
    }
}

impl AttrPath {
    /// Parses an attribute path. `known_urns` are the schema URNs served,
    /// which tell a bare URN (`urn:...:enterprise:2.0:User`) from a
    /// qualified attribute (`urn:...:enterprise:2.0:User:department`).
    pub fn parse(raw: &str) -> Result<AttrPath> {
        let bad = || ScimError::bad_request(ScimType::InvalidPath, format!("`{raw}` is not an attribute path: expected a name such as `userName`, `name.givenName` or `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`"));
        let (urn, rest) = if raw.len() > 4 && raw[..4].eq_ignore_ascii_case("urn:") {
            if let Some(schema) = crate::schema::all_schemas().into_iter().find(|s| s.id.eq_ignore_ascii_case(raw)) {
                return Ok(AttrPath { urn: Some(schema.id.to_owned()), attr: String::new(), sub: None });
            }
            let i = raw.rfind(':').ok_or_else(bad)?;
            (Some(raw[..i].to_owned()), &raw[i + 1..])
        } else {
            (None, raw)
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        if !valid_name(attr) || sub.is_some_and(|s| !valid_name(s)) {
            return Err(bad());
        }
        Ok(AttrPath { urn, attr: attr.to_owned(), sub: sub.map(str::to_owned) })
    }

    /// The schema attribute this path's attribute is, for resources of `kind`.
    pub fn schema_attr(&self, kind: ResourceKind) -> Option<&'static Attr> {
        let schema = match &self.urn {
            None => kind.schema(),
            Some(u) if u.eq_ignore_ascii_case(kind.schema().id) => kind.schema(),
            Some(u) => *kind.extensions().iter().find(|s| s.id.eq_ignore_ascii_case(u))?,
        };
        schema.attr(&self.attr)
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal to
    Ge,
    /// less than
    Lt,
    /// less than or equal to
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// The attribute has a value (`pr`).
    Present(AttrPath),
    /// The attribute compares as asked with a literal.
    Compare(AttrPath, CompareOp, Value),
    /// Some value of a multi-valued attribute matches the inner filter,
    /// whose paths name its sub-attributes (`emails[type eq "work"]`).
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, detail)
}

fn tokenize(s: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open)
            }
            ')' => {
                chars.next();
                out.push(Token::Close)
            }
            '[' => {
                chars.next();
                out.push(Token::OpenBracket)
            }
            ']' => {
                chars.next();
                out.push(Token::CloseBracket)
            }
            '"' => {
                // A JSON string literal, escapes included (RFC 7644 §3.4.2.2: compValue is JSON).
                let mut end = None;
                let mut escaped = false;
                chars.next();
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or_else(|| invalid("a string in the filter has no closing quote"))?;
                let lit: String = serde_json::from_str(&s[i..=end]).map_err(|_| invalid(format!("{} is not a valid JSON string", &s[i..=end])))?;
                out.push(Token::Str(lit));
            }
            _ => {
                let start = i;
                let mut end = s.len();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '(' | ')' | '[' | ']' | '"') {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Token::Word(s[start..end].to_owned()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, t: Token, what: &str) -> Result<()> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            _ => Err(invalid(format!("expected {what} in the filter"))),
        }
    }

    fn or(&mut self) -> Result<Filter> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter> {
        let mut left = self.not()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Filter> {
        if self.peek_word("not") {
            self.at += 1;
            self.expect(Token::Open, "`(` after `not`")?;
            let inner = self.or()?;
            self.expect(Token::Close, "`)`")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Filter> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(Token::Close, "`)`")?;
                Ok(inner)
            }
            Some(Token::Word(w)) => {
                let path = AttrPath::parse(&w).map_err(|e| invalid(e.detail))?;
                match self.next() {
                    Some(Token::OpenBracket) => {
                        let inner = self.or()?;
                        self.expect(Token::CloseBracket, "`]`")?;
                        Ok(Filter::ValuePath(path, Box::new(inner)))
                    }
                    Some(Token::Word(op)) if op.eq_ignore_ascii_case("pr") => Ok(Filter::Present(path)),
                    Some(Token::Word(op)) => {
                        let op = CompareOp::parse(&op).ok_or_else(|| invalid(format!("`{op}` is not an operator: use eq, ne, co, sw, ew, gt, ge, lt, le or pr")))?;
                        let value = match self.next() {
                            Some(Token::Str(s)) => Value::String(s),
                            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                                "true" => Value::Bool(true),
                                "false" => Value::Bool(false),
                                "null" => Value::Null,
                                _ => serde_json::from_str::<serde_json::Number>(&w).map(Value::Number).map_err(|_| invalid(format!("`{w}` is not a value: quote strings, as in userName eq \"alice@example.com\"")))?,
                            },
                            _ => return Err(invalid(format!("`{path}` needs a value to compare with"))),
                        };
                        Ok(Filter::Compare(path, op, value))
                    }
                    _ => Err(invalid(format!("`{path}` must be followed by an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) or a `[filter]`"))),
                }
            }
            _ => Err(invalid("expected an attribute, `not` or `(` in the filter")),
        }
    }
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(s: &str) -> Result<Filter> {
        let tokens = tokenize(s)?;
        if tokens.is_empty() {
            return Err(invalid("the filter is empty"));
        }
        let mut p = Parser { tokens, at: 0 };
        let f = p.or()?;
        if p.at < p.tokens.len() {
            return Err(invalid("the filter has something left over after its end: join expressions with `and` or `or`"));
        }
        Ok(f)
    }

    /// `attr eq "string"` at the top of the filter: what an index answers.
    pub fn as_equality(&self) -> Option<(&AttrPath, &str)> {
        match self {
            Filter::Compare(p, CompareOp::Eq, Value::String(s)) => Some((p, s)),
            _ => None,
        }
    }

    /// Whether `doc`, a resource of `kind`, matches.
    pub fn matches(&self, doc: &Value, kind: ResourceKind) -> bool {
        eval(self, doc, Scope::Resource(kind))
    }
}

/// Whether one value of the multi-valued attribute `parent` matches
/// `filter`, whose paths name its sub-attributes (a PATCH path's filter).
pub fn element_matches(filter: &Filter, element: &Value, parent: &'static Attr) -> bool {
    eval(filter, element, Scope::Element(Some(parent)))
}

#[derive(Clone, Copy)]
enum Scope {
    Resource(ResourceKind),
    Element(Option<&'static Attr>),
}

fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The values a path names in `doc` (multi-valued attributes flattened).
fn values<'a>(doc: &'a Value, path: &AttrPath, scope: Scope) -> Vec<&'a Value> {
    let container = match (&path.urn, scope) {
        (Some(u), Scope::Resource(kind)) if !u.eq_ignore_ascii_case(kind.schema().id) => get_ci(doc, u),
        _ => Some(doc),
    };
    let Some(v) = container.and_then(|c| get_ci(c, &path.attr)) else { return Vec::new() };
    let flat: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    match &path.sub {
        None => flat,
        Some(sub) => flat
            .into_iter()
            .filter_map(|e| get_ci(e, sub))
            .flat_map(|v| match v {
                Value::Array(a) => a.iter().collect::<Vec<_>>(),
                other => vec![other],
            })
            .collect(),
    }
}

fn case_exact(path: &AttrPath, scope: Scope) -> bool {
    match scope {
        Scope::Resource(kind) => {
            if path.urn.is_none() && (path.attr.eq_ignore_ascii_case("id") || path.attr.eq_ignore_ascii_case("externalId")) {
                return true;
            }
            let attr = path.schema_attr(kind);
            match (&path.sub, attr) {
                (Some(s), Some(a)) => a.sub_attr(s).is_some_and(|x| x.case_exact),
                (None, Some(a)) => a.case_exact,
                _ => false,
            }
        }
        Scope::Element(parent) => parent.and_then(|p| p.sub_attr(&path.attr)).is_some_and(|a| a.case_exact),
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = if exact { (a.clone(), e.clone()) } else { (a.to_lowercase(), e.to_lowercase()) };
            match op {
                CompareOp::Co => return a.contains(&e),
                CompareOp::Sw => return a.starts_with(&e),
                CompareOp::Ew => return a.ends_with(&e),
                _ => a.cmp(&e),
            }
        }
        (Value::Bool(a), Value::Bool(e)) => {
            return match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                _ => false,
            }
        }
        // Lenient with a boolean written as a string ("True"), as Entra ID does.
        (Value::Bool(a), Value::String(e)) if e.eq_ignore_ascii_case("true") || e.eq_ignore_ascii_case("false") => {
            return compare(&Value::Bool(*a), op, &Value::Bool(e.eq_ignore_ascii_case("true")), exact)
        }
        (Value::Number(a), Value::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => a.partial_cmp(&e).unwrap_or(Ordering::Equal),
            _ => return false,
        },
        _ => return false,
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn eval(f: &Filter, doc: &Value, scope: Scope) -> bool {
    match f {
        Filter::And(a, b) => eval(a, doc, scope) && eval(b, doc, scope),
        Filter::Or(a, b) => eval(a, doc, scope) || eval(b, doc, scope),
        Filter::Not(a) => !eval(a, doc, scope),
        Filter::Present(p) => values(doc, p, scope).iter().any(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        }),
        Filter::Compare(p, op, Value::Null) => {
            let present = values(doc, p, scope).iter().any(|v| !v.is_null());
            match op {
                CompareOp::Eq => !present,
                CompareOp::Ne => present,
                _ => false,
            }
        }
        Filter::Compare(p, CompareOp::Ne, e) => {
            let exact = case_exact(p, scope);
            !values(doc, p, scope).iter().any(|v| compare(v, CompareOp::Eq, e, exact))
        }
        Filter::Compare(p, op, e) => {
            let exact = case_exact(p, scope);
            values(doc, p, scope).iter().any(|v| compare(v, *op, e, exact))
        }
        Filter::ValuePath(p, inner) => {
            let parent = match scope {
                Scope::Resource(kind) => p.schema_attr(kind),
                Scope::Element(_) => None,
            };
            values(doc, &AttrPath { sub: None, ..p.clone() }, scope).iter().any(|element| eval(inner, element, Scope::Element(parent)))
        }
    }
}

#[cfg(test)]
mod tests;
