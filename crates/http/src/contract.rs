//! The OpenAPI document as the contract the server enforces: request bodies, query strings and
//! path segments are checked against the schemas the document publishes (the schemas derived
//! from the very DTO types the handlers parse), so what the document promises and what the
//! server accepts cannot drift apart.
//!
//! The checker understands the subset of JSON Schema 2020-12 the document uses (a test walks
//! the whole document and fails on any other keyword): `$ref`, `type`, `enum`, `const`,
//! `properties`, `required`, `additionalProperties`, `propertyNames`, `items`,
//! `minItems`/`maxItems`, `minLength`/`maxLength` (in code points, as JSON Schema counts),
//! `pattern`, `format` (`uuid`, `date-time`, `int32`, `int64`; `double` and `float` say nothing
//! more than `number`), `minimum`/`maximum`,
//! `allOf`/`anyOf`/`oneOf`, and the annotations (`description`, `title`, `example`…).
//!
//! Written here rather than taken from a JSON Schema crate, for three reasons: a violation must
//! name the field as the core names it (`platforms.0`), so that a 422 reads the same whichever
//! layer refused it, where validators report JSON pointers and their own wording; the checker
//! runs on every request, over schemas known at build time, and needs no remote `$ref`s,
//! drafts or formats beyond the few above (the general crates bring a resolver, an HTTP
//! client feature and a large dependency tree); and it is not a security boundary — the DTOs'
//! own parsing and the core's rules run after it either way.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::Method;
use regex::Regex;
use serde_json::Value;
use utoipa::OpenApi;

/// One rule a value breaks: where (`platforms.0`, as the core names fields) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path; empty for the whole value.
    pub field: String,
    /// Why it is refused, for a person.
    pub reason: String,
}

/// The served document as JSON, with its patterns compiled.
#[derive(Debug)]
pub struct Contract {
    doc: Value,
    patterns: HashMap<String, Regex>,
}

/// Keywords the checker enforces or may ignore (annotations).
pub const KNOWN_KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "allOf",
    "anyOf",
    "oneOf",
    // Annotations: no effect on validity.
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
];

/// Formats the checker knows.
pub const KNOWN_FORMATS: &[&str] = &["uuid", "date-time", "int32", "int64", "double", "float"];

static CONTRACT: OnceLock<Contract> = OnceLock::new();

impl Contract {
    /// The contract of this API (built once).
    pub fn get() -> &'static Contract {
        CONTRACT.get_or_init(|| Contract::new(serde_json::to_value(crate::ApiDoc::openapi())))
    }

    fn new(doc: Result<Value, serde_json::Error>) -> Self {
        let doc = doc.unwrap_or(Value::Null);
        let mut patterns = HashMap::new();
        collect_patterns(&doc, &mut patterns);
        Self { doc, patterns }
    }

    /// The document.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// The patterns of the document that do not compile (a test keeps this empty).
    pub fn broken_patterns(&self) -> Vec<String> {
        let mut all = HashMap::new();
        collect_all_patterns(&self.doc, &mut all);
        all.into_keys()
            .filter(|p| !self.patterns.contains_key(p))
            .collect()
    }

    /// The operation documented for `method` on the route pattern `path` (`/v1/posts/{id}`).
    pub fn operation(&self, method: &Method, path: &str) -> Option<&Value> {
        self.doc
            .get("paths")?
            .get(path)?
            .get(method.as_str().to_ascii_lowercase())
    }

    /// The methods the document lists for a concrete request path (`/v1/posts/3f…`): those of
    /// the documented path templates it fits, a `{parameter}` standing for one segment the
    /// parameter's schema accepts. When no template fits that way (a malformed id), those it
    /// fits segment by segment.
    pub fn methods_for(&self, path: &str) -> Vec<Method> {
        let segments: Vec<&str> = path.split('/').collect();
        let Some(paths) = self.doc.get("paths").and_then(Value::as_object) else {
            return Vec::new();
        };
        let mut strict = Vec::new();
        let mut loose = Vec::new();
        for (template, item) in paths {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut fits = true;
            let mut valid = true;
            for (t, s) in parts.iter().zip(&segments) {
                match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(name) if !s.is_empty() => {
                        valid = valid && self.path_segment_is_valid(item, name, s);
                    }
                    Some(_) => fits = false,
                    None => fits = fits && t == s,
                }
            }
            if !fits {
                continue;
            }
            let methods = item
                .as_object()
                .map(|o| o.keys())
                .into_iter()
                .flatten()
                .filter_map(|name| Method::from_bytes(name.to_ascii_uppercase().as_bytes()).ok());
            for m in methods {
                let list = if valid { &mut strict } else { &mut loose };
                if !list.contains(&m) {
                    list.push(m);
                }
            }
        }
        if strict.is_empty() { loose } else { strict }
    }

    /// Whether `segment` is a value the path parameter `name` of a path item accepts.
    fn path_segment_is_valid(&self, item: &Value, name: &str, segment: &str) -> bool {
        let Some(ops) = item.as_object() else {
            return true;
        };
        for op in ops.values() {
            if let Some((_, _, schema)) = self
                .parameters(op, "path")
                .into_iter()
                .find(|(n, _, _)| *n == name)
            {
                return self
                    .check(schema, &Value::String(segment.to_owned()), name)
                    .is_empty();
            }
        }
        true
    }

    /// The schema of the operation's request body in `content_type`.
    pub fn body_schema<'a>(
        &'a self,
        operation: &'a Value,
        content_type: &str,
    ) -> Option<&'a Value> {
        operation
            .get("requestBody")?
            .get("content")?
            .get(content_type)?
            .get("schema")
    }

    /// The operation's parameters in `location` (`query`, `path`, `header`): name, whether
    /// required, schema.
    pub fn parameters<'a>(
        &'a self,
        operation: &'a Value,
        location: &str,
    ) -> Vec<(&'a str, bool, &'a Value)> {
        operation
            .get("parameters")
            .and_then(Value::as_array)
            .map(|params| {
                params
                    .iter()
                    .filter(|p| p.get("in").and_then(Value::as_str) == Some(location))
                    .filter_map(|p| {
                        let name = p.get("name")?.as_str()?;
                        let required = p.get("required").and_then(Value::as_bool) == Some(true);
                        Some((
                            name,
                            required,
                            p.get("schema").unwrap_or(&Value::Bool(true)),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every rule of `schema` that `value` breaks, with fields named under `at`.
    pub fn check(&self, schema: &Value, value: &Value, at: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        self.check_into(schema, value, at, &mut out, 0);
        out
    }

    fn resolve<'a>(&'a self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.doc.pointer(pointer)
    }

    /// `schema` itself, or what its `$ref` points to.
    fn resolved<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        for _ in 0..8 {
            match schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| self.resolve(r))
            {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    /// Whether `schema` (or one of its alternatives) takes values of JSON type `t`.
    pub fn allows_type(&self, schema: &Value, t: &str) -> bool {
        let schema = self.resolved(schema);
        let direct = match schema.get("type") {
            Some(Value::String(s)) => s == t,
            Some(Value::Array(ts)) => ts.iter().any(|x| x.as_str() == Some(t)),
            _ => false,
        };
        direct
            || ["oneOf", "anyOf", "allOf"].iter().any(|k| {
                schema
                    .get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|subs| subs.iter().any(|s| self.allows_type(s, t)))
            })
    }

    /// Whether `schema` (or one of its alternatives) is a list of allowed values.
    pub fn has_enum(&self, schema: &Value) -> bool {
        let schema = self.resolved(schema);
        schema.get("enum").is_some()
            || ["oneOf", "anyOf", "allOf"].iter().any(|k| {
                schema
                    .get(*k)
                    .and_then(Value::as_array)
                    .is_some_and(|subs| subs.iter().any(|s| self.has_enum(s)))
            })
    }

    fn check_into(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        out: &mut Vec<Violation>,
        depth: usize,
    ) {
        fn push(out: &mut Vec<Violation>, at: &str, reason: String) {
            out.push(Violation {
                field: at.to_owned(),
                reason,
            });
        }
        // JSON nests at most 128 levels (serde_json's limit), a few schema steps each; a cycle
        // would be a bug, not a reason to recurse forever.
        if depth > 512 {
            push(out, at, "is nested too deeply".to_owned());
            return;
        }
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return push(out, at, "is not allowed".to_owned()),
            Value::Object(map) => map,
            _ => return,
        };
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match self.resolve(reference) {
                Some(target) => self.check_into(target, value, at, out, depth + 1),
                None => push(
                    out,
                    at,
                    format!("cannot be checked (unknown schema {reference})"),
                ),
            }
        }
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !allowed.iter().any(|t| has_type(value, t)) {
                return push(out, at, format!("must be {}", describe_types(&allowed)));
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            return push(out, at, format!("must be one of {}", list(options)));
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            return push(out, at, format!("must be {expected}"));
        }
        match value {
            Value::String(s) => self.check_string(schema, s, &mut |r| push(out, at, r)),
            Value::Number(n) => check_number(schema, n, &mut |r| push(out, at, r)),
            Value::Array(items) => {
                let len = items.len();
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                    && (len as u64) < min
                {
                    push(out, at, format!("must have at least {min} items"));
                }
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                    && (len as u64) > max
                {
                    push(out, at, format!("must have at most {max} items"));
                }
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_into(
                            item_schema,
                            item,
                            &join(at, &i.to_string()),
                            out,
                            depth + 1,
                        );
                    }
                }
            }
            Value::Object(fields) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                if let Some(required) = schema.get("required").and_then(Value::as_array) {
                    for name in required.iter().filter_map(Value::as_str) {
                        if !fields.contains_key(name) {
                            out.push(Violation {
                                field: join(at, name),
                                reason: "is required".to_owned(),
                            });
                        }
                    }
                }
                for (name, field_value) in fields {
                    let here = join(at, name);
                    if let Some(names) = schema.get("propertyNames") {
                        let key = Value::String(name.clone());
                        if !self.check(names, &key, "").is_empty() {
                            out.push(Violation {
                                field: here.clone(),
                                reason: "is not an accepted key here".to_owned(),
                            });
                            continue;
                        }
                    }
                    match properties.and_then(|p| p.get(name)) {
                        Some(field_schema) => {
                            self.check_into(field_schema, field_value, &here, out, depth + 1);
                        }
                        None => match schema.get("additionalProperties") {
                            Some(Value::Bool(false)) => out.push(Violation {
                                field: here,
                                reason: "is not a known field".to_owned(),
                            }),
                            Some(extra @ Value::Object(_)) => {
                                self.check_into(extra, field_value, &here, out, depth + 1);
                            }
                            _ => {}
                        },
                    }
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check_into(sub, value, at, out, depth + 1);
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            let results: Vec<Vec<Violation>> = any
                .iter()
                .map(|sub| {
                    let mut v = Vec::new();
                    self.check_into(sub, value, at, &mut v, depth + 1);
                    v
                })
                .collect();
            if !results.iter().any(Vec::is_empty) {
                out.extend(closest(results, at));
            }
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let results: Vec<Vec<Violation>> = one
                .iter()
                .map(|sub| {
                    let mut v = Vec::new();
                    self.check_into(sub, value, at, &mut v, depth + 1);
                    v
                })
                .collect();
            match results.iter().filter(|r| r.is_empty()).count() {
                1 => {}
                0 => out.extend(closest(results, at)),
                _ => out.push(Violation {
                    field: at.to_owned(),
                    reason: "matches more than one of its allowed forms".to_owned(),
                }),
            }
        }
    }

    fn check_string(
        &self,
        schema: &serde_json::Map<String, Value>,
        s: &str,
        fail: &mut impl FnMut(String),
    ) {
        let chars = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            fail(if min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min} characters")
            });
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            fail(format!("must be at most {max} characters"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            match self.patterns.get(pattern) {
                Some(re) if re.is_match(s) => {}
                Some(_) => fail(format!("must match the pattern {pattern}")),
                None => fail("cannot be checked (invalid pattern)".to_owned()),
            }
        }
        match schema.get("format").and_then(Value::as_str) {
            Some("uuid") if !is_uuid(s) => {
                fail("must be a UUID (8-4-4-4-12 hex digits)".to_owned())
            }
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                fail("must be an RFC 3339 date-time".to_owned());
            }
            _ => {}
        }
    }
}

fn check_number(
    schema: &serde_json::Map<String, Value>,
    n: &serde_json::Number,
    fail: &mut impl FnMut(String),
) {
    let as_f64 = n.as_f64().unwrap_or(f64::NAN);
    let below = |bound: &Value| match (n.as_i64(), n.as_u64(), bound.as_i64(), bound.as_u64()) {
        (Some(v), _, Some(b), _) => v < b,
        (_, Some(v), _, Some(b)) => v < b,
        (None, Some(_), Some(_), _) => false,
        _ => bound.as_f64().is_some_and(|b| as_f64 < b),
    };
    let above = |bound: &Value| match (n.as_i64(), n.as_u64(), bound.as_i64(), bound.as_u64()) {
        (Some(v), _, Some(b), _) => v > b,
        (_, Some(v), _, Some(b)) => v > b,
        (None, Some(_), Some(_), _) => true,
        _ => bound.as_f64().is_some_and(|b| as_f64 > b),
    };
    if let Some(min) = schema.get("minimum")
        && below(min)
    {
        fail(format!("must be at least {min}"));
    }
    if let Some(max) = schema.get("maximum")
        && above(max)
    {
        fail(format!("must be at most {max}"));
    }
    let range = match schema.get("format").and_then(Value::as_str) {
        Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
        Some("int64") => Some((i64::MIN, i64::MAX)),
        _ => None,
    };
    if let Some((lo, hi)) = range
        && !n.as_i64().is_some_and(|v| (lo..=hi).contains(&v))
    {
        fail(format!("must be an integer from {lo} to {hi}"));
    }
}

/// The violations of the alternative that came closest: the fewest, counting a value of the
/// wrong type for the alternative, or outside one of its lists (its discriminator, as
/// `resolution` of a review), as a sign of the wrong alternative rather than of a wrong value.
fn closest(results: Vec<Vec<Violation>>, at: &str) -> Vec<Violation> {
    let score = |v: &Vec<Violation>| {
        let wrong_form = v
            .iter()
            .filter(|x| x.field == at || x.reason.starts_with("must be one of"))
            .count();
        wrong_form * 1000 + v.len()
    };
    results
        .into_iter()
        .min_by_key(score)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            vec![Violation {
                field: at.to_owned(),
                reason: "does not match any allowed form".to_owned(),
            }]
        })
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn describe_types(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .map(|t| match *t {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            "object" => "an object",
            "array" => "a list",
            "null" => "null",
            other => other,
        })
        .collect();
    words.join(" or ")
}

fn list(options: &[Value]) -> String {
    options
        .iter()
        .map(|o| match o {
            Value::String(s) => format!("`{s}`"),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `parent.child`, as [`multivio_domain::field_path`] names fields.
fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// A hyphenated UUID (`8-4-4-4-12` hex digits), the only spelling the document's `uuid`
/// format means.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn collect_all_patterns(value: &Value, out: &mut HashMap<String, ()>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "pattern"
                    && let Some(p) = v.as_str()
                {
                    out.insert(p.to_owned(), ());
                } else {
                    collect_all_patterns(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_all_patterns(v, out)),
        _ => {}
    }
}

fn collect_patterns(value: &Value, out: &mut HashMap<String, Regex>) {
    let mut all = HashMap::new();
    collect_all_patterns(value, &mut all);
    for pattern in all.into_keys() {
        if let Ok(re) = Regex::new(&pattern) {
            out.insert(pattern, re);
        }
    }
}

#[cfg(test)]
mod tests;
