//! The contract: `openapi.yaml` describes every route, and every answer a test sees conforms to
//! it.
//!
//! `TestApp::send` passes every answer to [`check_response`], which finds the operation in the
//! spec and validates the body against the documented schema. The checker is a small JSON
//! Schema validator for the subset the spec uses; a keyword it does not know is an error, so the
//! spec cannot quietly rely on a check that is not made. Every keyword it accepts is checked.
//!
//! `pattern` is matched with `regex-lite` (already built for actix-router). JSON Schema 2020-12
//! takes ECMA-262 patterns, unanchored; `regex-lite` searches unanchored too, and its classes
//! are ASCII (`\d` is `[0-9]`, as in ECMA-262 without the `u` flag). The spec's patterns use
//! only what both dialects read alike (anchors, classes, `\d`, escapes, counted repetition,
//! groups), and a pattern that does not compile fails `spec_is_valid_openapi_31`. A maintained
//! validator (the `jsonschema` crate) would bring its own dependency tree to build on every CI
//! run; this checker stays, small enough to read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::{json, Value};

use fenghua_registry::api::endpoints;

use crate::helpers::spawn_app;

const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        std::fs::read_to_string(SPEC_PATH).unwrap_or_else(|e| panic!("{SPEC_PATH}: {e}"))
    })
}

/// `openapi.yaml`, parsed once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        serde_yaml::from_str(spec_text())
            .unwrap_or_else(|e| panic!("openapi.yaml is not valid YAML: {e}"))
    })
}

/// Panics unless this answer is documented in `openapi.yaml` and its body matches the schema.
#[track_caller]
pub fn check_response(
    method: &str,
    uri: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) {
    if let Err(e) = check_answer(spec(), method, uri, status, content_type, body) {
        panic!(
            "the answer to {method} {uri} breaks openapi.yaml: {e}\n  status: {status}\n  \
             content-type: {content_type:?}\n  body: {}",
            String::from_utf8_lossy(body)
        );
    }
}

/// [`check_response`] against any OpenAPI document, as a `Result`.
pub fn check_answer(
    doc: &Value,
    method: &str,
    uri: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let path = decode_unreserved(uri_path(uri));
    let path = path.as_str();
    let response = match find_template(doc, path) {
        None => {
            if status != 404 {
                return Err(format!(
                    "no path in the spec matches {path}, so the answer must be 404, not {status}"
                ));
            }
            resolve(doc, "#/components/responses/NotFound")?
        }
        Some(template) => {
            let item = deref(doc, &doc["paths"][template])?;
            match item.get(method.to_ascii_lowercase()) {
                None => {
                    if status != 405 {
                        return Err(format!(
                            "{template} has no {method} operation, so the answer must be 405, \
                             not {status}"
                        ));
                    }
                    resolve(doc, "#/components/responses/MethodNotAllowed")?
                }
                Some(operation) => {
                    let responses = &operation["responses"];
                    let exact = status.to_string();
                    let range = format!("{}XX", status / 100);
                    let found = responses
                        .get(&exact)
                        .or_else(|| responses.get(&range))
                        .or_else(|| responses.get("default"));
                    match found {
                        Some(r) => r,
                        None => {
                            let documented: Vec<&String> = responses
                                .as_object()
                                .map(|m| m.keys().collect())
                                .unwrap_or_default();
                            return Err(format!(
                                "status {status} is not documented for {} {template} \
                                 (documented: {documented:?})",
                                method.to_ascii_uppercase()
                            ));
                        }
                    }
                }
            }
        }
    };
    let response = deref(doc, response)?;
    check_content(doc, response, content_type, body)
}

fn uri_path(uri: &str) -> &str {
    let uri = match uri.find("://") {
        // An absolute URI: drop the scheme and authority.
        Some(i) => {
            let rest = &uri[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => uri,
    };
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    &uri[..end]
}

/// Decodes percent-escapes of unreserved characters, as the router does (`/%61reas` is
/// `/areas`); other escapes stay as they are.
fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b));
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path template matching `path`: a `{param}` segment matches any one non-empty segment,
/// and where several templates match, the one with static segments earlier wins.
fn find_template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = doc.get("paths")?.as_object()?;
    let mut best: Option<(Vec<bool>, &str)> = None;
    for template in paths.keys() {
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut rank = Vec::with_capacity(parts.len());
        let matches = parts.iter().zip(&segments).all(|(part, segment)| {
            let is_param = part.starts_with('{') && part.ends_with('}');
            rank.push(is_param);
            if is_param {
                !segment.is_empty()
            } else {
                part == segment
            }
        });
        // `false` (static) sorts before `true` (parameter), so the smaller rank wins.
        let better = match &best {
            None => true,
            Some((r, _)) => rank < *r,
        };
        if matches && better {
            best = Some((rank, template.as_str()));
        }
    }
    best.map(|(_, t)| t)
}

fn check_content(
    doc: &Value,
    response: &Value,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let content = response.get("content").and_then(Value::as_object);
    let Some(content) = content.filter(|c| !c.is_empty()) else {
        if body.is_empty() {
            return Ok(());
        }
        return Err("the response is documented without a body, but one was sent".to_owned());
    };
    let Some(content_type) = content_type else {
        return Err(format!(
            "no Content-Type was sent; documented: {:?}",
            content.keys().collect::<Vec<_>>()
        ));
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let wildcard = format!("{}/*", essence.split('/').next().unwrap_or(""));
    let media = content
        .get(&essence)
        .or_else(|| content.get(&wildcard))
        .or_else(|| content.get("*/*"))
        .ok_or_else(|| {
            format!(
                "Content-Type {content_type} is not documented for this response; documented: \
                 {:?}",
                content.keys().collect::<Vec<_>>()
            )
        })?;
    let Some(schema) = media.get("schema") else {
        return Ok(());
    };
    let instance = if essence == "application/json" || essence.ends_with("+json") {
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?
    } else if essence == "application/yaml" {
        // As schemathesis reads it: the document the YAML text describes.
        serde_yaml::from_slice(body).map_err(|e| format!("the body is not YAML: {e}"))?
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => return Ok(()), // A binary body: nothing a JSON schema can say about it.
        }
    };
    validate(doc, schema, &instance, "")
}

/// Follows `$ref`s (to any object of the document) until a non-reference object.
fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..32 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => value = resolve(doc, reference)?,
            None => return Ok(value),
        }
    }
    Err("a $ref chain is too long (a cycle?)".to_owned())
}

/// Resolves a local reference such as `#/components/schemas/Problem`.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let pointer = reference
        .strip_prefix('#')
        .filter(|p| p.is_empty() || p.starts_with('/'))
        .ok_or_else(|| format!("$ref {reference:?} is not a local reference (#/...)"))?;
    doc.pointer(pointer)
        .ok_or_else(|| format!("$ref {reference:?} does not resolve"))
}

/// Keywords the validator checks.
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "format",
    "pattern",
];
/// Keywords that only annotate.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "examples",
    "example",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
    "externalDocs",
    "discriminator",
];
fn known_keyword(key: &str) -> bool {
    CHECKED.contains(&key) || ANNOTATIONS.contains(&key) || key.starts_with("x-")
}

/// The compiled form of a schema's `pattern`, each compiled once.
fn pattern(source: &str) -> Result<&'static regex_lite::Regex, String> {
    static CACHE: OnceLock<std::sync::Mutex<BTreeMap<String, &'static regex_lite::Regex>>> =
        OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(regex) = cache.get(source) {
        return Ok(regex);
    }
    let regex = regex_lite::Regex::new(source)
        .map_err(|e| format!("the pattern {source:?} does not compile: {e}"))?;
    let regex: &'static regex_lite::Regex = Box::leak(Box::new(regex));
    cache.insert(source.to_owned(), regex);
    Ok(regex)
}

fn at(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(root)"
    } else {
        pointer
    }
}

fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, ty: &str) -> Result<bool, String> {
    Ok(match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        other => return Err(format!("unknown type {other:?} in the schema")),
    })
}

/// Validates `instance` (found at JSON pointer `pointer`) against `schema`.
pub fn validate(
    doc: &Value,
    schema: &Value,
    instance: &Value,
    pointer: &str,
) -> Result<(), String> {
    validate_depth(doc, schema, instance, pointer, 0)
}

fn validate_depth(
    doc: &Value,
    schema: &Value,
    instance: &Value,
    pointer: &str,
    depth: u32,
) -> Result<(), String> {
    if depth > 128 {
        return Err(format!(
            "at {}: schema nesting too deep (a $ref cycle?)",
            at(pointer)
        ));
    }
    let fail = |what: String| Err(format!("at {}: {what}", at(pointer)));
    let schema = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return fail("no value is allowed here".to_owned()),
        Value::Object(map) => map,
        other => return fail(format!("the schema is not an object: {other}")),
    };
    if let Some(key) = schema.keys().find(|k| !known_keyword(k)) {
        return fail(format!(
            "the schema uses `{key}`, which this checker does not know"
        ));
    }
    let recurse = |s: &Value, i: &Value, p: &str| validate_depth(doc, s, i, p, depth + 1);

    if let Some(reference) = schema.get("$ref") {
        let reference = reference
            .as_str()
            .ok_or_else(|| format!("at {}: $ref is not a string", at(pointer)))?;
        let target = resolve(doc, reference).map_err(|e| format!("at {}: {e}", at(pointer)))?;
        recurse(target, instance, pointer)?;
    }

    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => return fail(format!("`type` is neither a string nor a list: {other}")),
        };
        let mut ok = false;
        for t in &types {
            ok |= has_type(instance, t)?;
        }
        if !ok {
            return fail(format!(
                "expected {}, found {} {instance}",
                types.join(" or "),
                type_name(instance)
            ));
        }
    }

    if let Some(allowed) = schema.get("enum") {
        let allowed = allowed.as_array().ok_or("`enum` is not a list")?;
        if !allowed.contains(instance) {
            return fail(format!(
                "{instance} is not one of {}",
                Value::from(allowed.clone())
            ));
        }
    }
    if let Some(expected) = schema.get("const") {
        if expected != instance {
            return fail(format!("expected {expected}, found {instance}"));
        }
    }

    if let Some(object) = instance.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required") {
            let required = required.as_array().ok_or("`required` is not a list")?;
            for name in required {
                let name = name.as_str().ok_or("`required` holds a non-string")?;
                if !object.contains_key(name) {
                    return fail(format!("the required property `{name}` is missing"));
                }
            }
        }
        for (name, value) in object {
            let here = child(pointer, name);
            match properties.and_then(|p| p.get(name)) {
                Some(property) => recurse(property, value, &here)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return fail(format!("the property `{name}` is not allowed here"))
                    }
                    Some(extra @ Value::Object(_)) => recurse(extra, value, &here)?,
                    _ => {}
                },
            }
        }
    }

    if let Some(array) = instance.as_array() {
        if let Some(items) = schema.get("items") {
            for (i, item) in array.iter().enumerate() {
                recurse(items, item, &child(pointer, &i.to_string()))?;
            }
        }
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (array.len() as u64) < min {
                return fail(format!(
                    "expected at least {min} items, found {}",
                    array.len()
                ));
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if (array.len() as u64) > max {
                return fail(format!(
                    "expected at most {max} items, found {}",
                    array.len()
                ));
            }
        }
        if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, item) in array.iter().enumerate() {
                if array[..i].contains(item) {
                    return fail(format!("expected unique items, {item} is there twice"));
                }
            }
        }
    }

    if let Some(number) = instance.as_f64() {
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        if bound("minimum").is_some_and(|m| number < m)
            || bound("maximum").is_some_and(|m| number > m)
            || bound("exclusiveMinimum").is_some_and(|m| number <= m)
            || bound("exclusiveMaximum").is_some_and(|m| number >= m)
        {
            return fail(format!("{instance} is out of the allowed range"));
        }
    }

    if let Some(text) = instance.as_str() {
        let chars = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if chars < min {
                return fail(format!("expected at least {min} characters, found {chars}"));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if chars > max {
                return fail(format!("expected at most {max} characters, found {chars}"));
            }
        }
        if let Some(source) = schema.get("pattern") {
            let source = source.as_str().ok_or("`pattern` is not a string")?;
            let regex = pattern(source).map_err(|e| format!("at {}: {e}", at(pointer)))?;
            if !regex.is_match(text) {
                return fail(format!("{instance} does not match the pattern {source:?}"));
            }
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str) {
            let ok = match format {
                "date" => {
                    text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
                }
                "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                "uuid" => text.len() == 36 && uuid::Uuid::parse_str(text).is_ok(),
                _ => true, // Other formats only annotate.
            };
            if !ok {
                return fail(format!("{instance} is not a valid {format}"));
            }
        }
    }

    if let Some(all) = schema.get("allOf") {
        for sub in all.as_array().ok_or("`allOf` is not a list")? {
            recurse(sub, instance, pointer)?;
        }
    }
    if let Some(any) = schema.get("anyOf") {
        let subs = any.as_array().ok_or("`anyOf` is not a list")?;
        let errors: Vec<String> = subs
            .iter()
            .filter_map(|s| recurse(s, instance, pointer).err())
            .collect();
        if errors.len() == subs.len() {
            return fail(format!("matches none of anyOf: [{}]", errors.join("; ")));
        }
    }
    if let Some(one) = schema.get("oneOf") {
        let subs = one.as_array().ok_or("`oneOf` is not a list")?;
        let results: Vec<Result<(), String>> =
            subs.iter().map(|s| recurse(s, instance, pointer)).collect();
        let passed = results.iter().filter(|r| r.is_ok()).count();
        if passed != 1 {
            let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
            return fail(format!(
                "matches {passed} of oneOf, not exactly one: [{}]",
                errors.join("; ")
            ));
        }
    }
    if let Some(not) = schema.get("not") {
        if recurse(not, instance, pointer).is_ok() {
            return fail("matches the schema under `not`".to_owned());
        }
    }
    Ok(())
}

/// Every keyword of a schema (and of the schemas inside it) is one the checker knows.
fn lint_schema(schema: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(map) = schema.as_object() else {
        if !schema.is_boolean() {
            problems.push(format!("{at}: a schema must be an object or a boolean"));
        }
        return;
    };
    for (key, value) in map {
        if !known_keyword(key) {
            problems.push(format!("{at}: unsupported schema keyword `{key}`"));
        }
        match key.as_str() {
            "properties" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    lint_schema(sub, &format!("{at}/properties/{name}"), problems);
                }
            }
            "items" | "additionalProperties" | "not" => {
                lint_schema(value, &format!("{at}/{key}"), problems)
            }
            "allOf" | "anyOf" | "oneOf" => {
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    lint_schema(sub, &format!("{at}/{key}/{i}"), problems);
                }
            }
            "pattern" => match value.as_str() {
                Some(source) => {
                    if let Err(e) = pattern(source) {
                        problems.push(format!("{at}: {e}"));
                    }
                }
                None => problems.push(format!("{at}: `pattern` is not a string")),
            },
            "type" => {
                let types: Vec<&Value> = match value {
                    Value::Array(ts) => ts.iter().collect(),
                    one => vec![one],
                };
                for t in types {
                    if has_type(&Value::Null, t.as_str().unwrap_or("?")).is_err() {
                        problems.push(format!("{at}: unknown type {t}"));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Every `schema` member anywhere in the document, and every component schema.
fn all_schemas<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, sub) in map {
                let here = format!("{at}/{key}");
                if key == "schema" || at == "/components/schemas" {
                    out.push((here, sub));
                } else {
                    all_schemas(sub, here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, sub) in items.iter().enumerate() {
                all_schemas(sub, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn all_refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, sub) in map {
                match (key.as_str(), sub) {
                    ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                    _ => all_refs(sub, format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, sub) in items.iter().enumerate() {
                all_refs(sub, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn operations(doc: &Value) -> Vec<(String, &str, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                out.push((method.to_ascii_uppercase(), path.as_str(), operation));
            }
        }
    }
    out
}

#[test]
fn routes_and_spec_paths_are_the_same_set() {
    let routes: BTreeSet<(String, String)> = endpoints()
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_owned()))
        .collect();
    let documented: BTreeSet<(String, String)> = operations(spec())
        .into_iter()
        .map(|(method, path, _)| (method, path.to_owned()))
        .collect();
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "routes the server has but openapi.yaml does not document: {undocumented:#?}\n\
         operations openapi.yaml documents but the server does not route: {unserved:#?}"
    );
}

#[test]
fn spec_is_valid_openapi_31() {
    let doc = spec();
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };

    check(
        spec_text().lines().next() == Some("openapi: 3.1.0"),
        "the first line must be `openapi: 3.1.0`".to_owned(),
    );
    check(
        doc["openapi"] == "3.1.0",
        "openapi must be 3.1.0".to_owned(),
    );
    for field in ["title", "version", "description"] {
        check(
            doc["info"][field].is_string(),
            format!("info.{field} is missing"),
        );
    }
    check(
        doc["servers"].as_array().is_some_and(|s| !s.is_empty()),
        "servers is missing".to_owned(),
    );
    let bearer = &doc["components"]["securitySchemes"]["bearerAuth"];
    check(
        bearer["type"] == "http" && bearer["scheme"] == "bearer" && bearer["bearerFormat"] == "JWT",
        "components.securitySchemes.bearerAuth must be http bearer JWT".to_owned(),
    );
    let declared_tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let schemes = doc["components"]["securitySchemes"].as_object();

    let path_items = doc["paths"].as_object();
    check(path_items.is_some(), "paths is missing".to_owned());
    for (path, item) in path_items.into_iter().flatten() {
        check(
            path.starts_with('/'),
            format!("path {path} does not start with /"),
        );
        for key in item.as_object().into_iter().flatten().map(|(k, _)| k) {
            let allowed = METHODS.contains(&key.as_str())
                || ["parameters", "summary", "description", "servers", "$ref"]
                    .contains(&key.as_str())
                || key.starts_with("x-");
            check(allowed, format!("path {path}: unknown member `{key}`"));
        }
    }

    let mut operation_ids = BTreeMap::new();
    for (method, path, operation) in operations(doc) {
        let name = format!("{method} {path}");
        match operation["operationId"].as_str() {
            Some(id) => {
                if let Some(other) = operation_ids.insert(id.to_owned(), name.clone()) {
                    problems.push(format!("{name}: operationId {id} is also used by {other}"));
                }
            }
            None => problems.push(format!("{name}: no operationId")),
        }
        if !operation["summary"].is_string() {
            problems.push(format!("{name}: no summary"));
        }
        match operation["tags"].as_array() {
            Some(tags) if !tags.is_empty() => {
                for tag in tags {
                    if !tag.as_str().is_some_and(|t| declared_tags.contains(t)) {
                        problems.push(format!("{name}: tag {tag} is not declared in `tags`"));
                    }
                }
            }
            _ => problems.push(format!("{name}: no tags")),
        }
        match operation["responses"].as_object() {
            Some(responses) if !responses.is_empty() => {
                for (status, response) in responses {
                    let b = status.as_bytes();
                    let status_ok = status == "default"
                        || (b.len() == 3
                            && (b'1'..=b'5').contains(&b[0])
                            && (b[1..].iter().all(u8::is_ascii_digit) || &b[1..] == b"XX"));
                    if !status_ok {
                        problems.push(format!("{name}: response key {status:?} is not a status"));
                    }
                    match deref(doc, response) {
                        Ok(r) if r["description"].is_string() => {}
                        Ok(_) => problems.push(format!("{name} {status}: no description")),
                        Err(e) => problems.push(format!("{name} {status}: {e}")),
                    }
                }
            }
            _ => problems.push(format!("{name}: no responses")),
        }
        for requirement in operation["security"].as_array().into_iter().flatten() {
            for scheme in requirement
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if !schemes.is_some_and(|s| s.contains_key(scheme)) {
                    problems.push(format!("{name}: security scheme {scheme} is not declared"));
                }
            }
        }
        // Path parameters: each `{name}` is declared `in: path, required: true`, and back.
        let template_params: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let mut declared = BTreeSet::new();
        let parameters = doc["paths"][path]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(operation["parameters"].as_array().into_iter().flatten());
        for parameter in parameters {
            match deref(doc, parameter) {
                Ok(p) if p["in"] == "path" => {
                    if p["required"] != true {
                        problems.push(format!(
                            "{name}: path parameter {} must be required",
                            p["name"]
                        ));
                    }
                    declared.insert(p["name"].as_str().unwrap_or("?").to_owned());
                }
                Ok(p) if p["name"].is_string() && p["in"].is_string() => {}
                Ok(p) => problems.push(format!("{name}: parameter without name or in: {p}")),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
        let declared: BTreeSet<&str> = declared.iter().map(String::as_str).collect();
        if declared != template_params {
            problems.push(format!(
                "{name}: path parameters in the template {template_params:?} differ from those \
                 declared {declared:?}"
            ));
        }
    }

    let mut refs = Vec::new();
    all_refs(doc, String::new(), &mut refs);
    for (at, reference) in refs {
        if let Err(e) = resolve(doc, reference) {
            problems.push(format!("{at}: {e}"));
        }
    }
    let mut schemas = Vec::new();
    all_schemas(doc, String::new(), &mut schemas);
    assert!(!schemas.is_empty());
    for (at, schema) in schemas {
        lint_schema(schema, &at, &mut problems);
    }
    for name in [
        "NotFound",
        "MethodNotAllowed",
        "ServiceUnavailable",
        "BadRequest",
        "ValidationFailed",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "Unauthorized",
        "Forbidden",
        "TooManyRequests",
        "Conflict",
        "PreconditionFailed",
        "PreconditionRequired",
    ] {
        let response = &doc["components"]["responses"][name];
        let schema = &response["content"]["application/problem+json"]["schema"];
        if schema.is_null() {
            problems.push(format!(
                "components.responses.{name} has no problem+json schema"
            ));
        }
        if response["headers"]["X-Request-Id"].is_null() {
            problems.push(format!(
                "components.responses.{name} does not document X-Request-Id"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "openapi.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[actix_web::test]
async fn served_document_is_the_file() {
    let app = spawn_app().await;
    let answer = app.get("/api/v1/openapi.yaml").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.text() == spec_text(),
        "the served document differs from openapi.yaml (rebuild?)"
    );
}

/// The checker itself, on a small document of its own.
mod checker {
    use super::*;

    fn toy() -> Value {
        let problem = json!({
            "description": "a problem",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        });
        json!({
            "openapi": "3.1.0",
            "paths": {
                "/things/{id}": {"get": {"responses": {
                    "200": {"description": "a thing", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "404": {"$ref": "#/components/responses/NotFound"}
                }}},
                "/things/lookup": {"get": {"responses": {
                    "204": {"description": "nothing"}
                }}},
                "/text": {"get": {"responses": {
                    "200": {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}
                }}}
            },
            "components": {
                "schemas": {
                    "Thing": {
                        "type": "object",
                        "required": ["id", "kind"],
                        "properties": {
                            "id": {"type": "integer", "minimum": 1},
                            "kind": {"enum": ["a", "b"]},
                            "note": {"type": ["string", "null"]},
                            "day": {"type": "string", "format": "date"},
                            "at": {"type": "string", "format": "date-time"},
                            "ref": {"type": "string", "format": "uuid"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "version": {"const": 1},
                            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                            "month": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"},
                            "digit": {"type": "string", "pattern": "\\d"}
                        },
                        "additionalProperties": false
                    },
                    "Problem": {
                        "type": "object",
                        "required": ["type", "title", "status", "code"],
                        "properties": {"status": {"type": "integer"}, "code": {"type": "string"}}
                    }
                },
                "responses": {
                    "NotFound": problem.clone(),
                    "MethodNotAllowed": problem
                }
            }
        })
    }

    fn thing(body: Value) -> Result<(), String> {
        check_answer(
            &toy(),
            "GET",
            "/things/7?x=1",
            200,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }

    #[track_caller]
    fn fails(result: Result<(), String>, mentions: &str) {
        match result {
            Ok(()) => panic!("the checker accepted what it should reject ({mentions})"),
            Err(e) => assert!(
                e.contains(mentions),
                "error {e:?} does not mention {mentions:?}"
            ),
        }
    }

    #[test]
    fn accepts_a_conforming_body() {
        thing(json!({
            "id": 7, "kind": "a", "note": null, "day": "2024-02-29",
            "at": "2024-02-29T08:00:00Z", "ref": "67e55044-10b1-426f-9247-bb680e5fe0c8",
            "tags": ["x"], "version": 1, "either": 3
        }))
        .unwrap();
        thing(json!({"id": 7, "kind": "b", "note": "text"})).unwrap();
    }

    #[test]
    fn rejects_a_wrong_type() {
        fails(thing(json!({"id": "7", "kind": "a"})), "/id");
        fails(thing(json!({"id": 7.5, "kind": "a"})), "/id");
        fails(thing(json!({"id": 7, "kind": "a", "note": 3})), "/note");
        fails(
            thing(json!({"id": 7, "kind": "a", "tags": ["x", 1]})),
            "/tags/1",
        );
        fails(thing(json!([])), "expected object");
    }

    #[test]
    fn rejects_a_missing_required_field() {
        fails(thing(json!({"id": 7})), "`kind` is missing");
    }

    #[test]
    fn rejects_an_extra_field_under_additional_properties_false() {
        fails(
            thing(json!({"id": 7, "kind": "a", "extra": 1})),
            "`extra` is not allowed",
        );
    }

    #[test]
    fn rejects_an_enum_or_const_violation() {
        fails(thing(json!({"id": 7, "kind": "c"})), "/kind");
        fails(
            thing(json!({"id": 7, "kind": "a", "version": 2})),
            "/version",
        );
    }

    #[test]
    fn rejects_a_bad_ref() {
        let doc = toy();
        fails(
            validate(
                &doc,
                &json!({"$ref": "#/components/schemas/Nope"}),
                &json!(1),
                "",
            ),
            "does not resolve",
        );
        fails(
            validate(&doc, &json!({"$ref": "other.yaml#/Thing"}), &json!(1), ""),
            "not a local reference",
        );
    }

    #[test]
    fn rejects_bounds_formats_and_one_of() {
        fails(thing(json!({"id": 0, "kind": "a"})), "/id");
        fails(
            thing(json!({"id": 7, "kind": "a", "day": "2023-02-29"})),
            "/day",
        );
        fails(
            thing(json!({"id": 7, "kind": "a", "at": "2024-01-01 08:00"})),
            "/at",
        );
        fails(
            thing(json!({"id": 7, "kind": "a", "ref": "not-a-uuid"})),
            "/ref",
        );
        fails(
            thing(json!({"id": 7, "kind": "a", "either": true})),
            "/either",
        );
    }

    #[test]
    fn checks_patterns_unanchored_as_json_schema_does() {
        assert_eq!(
            thing(json!({"id": 7, "kind": "a", "month": "2024-01"})),
            Ok(())
        );
        fails(
            thing(json!({"id": 7, "kind": "a", "month": "2024-1"})),
            "/month",
        );
        fails(
            thing(json!({"id": 7, "kind": "a", "month": "x2024-01"})),
            "/month",
        );
        // Not anchored unless the pattern says so; `\d` is ASCII.
        assert_eq!(
            thing(json!({"id": 7, "kind": "a", "digit": "ab1c"})),
            Ok(())
        );
        fails(
            thing(json!({"id": 7, "kind": "a", "digit": "ab١c"})),
            "/digit",
        );
        fails(
            validate(
                &toy(),
                &json!({"type": "string", "pattern": "(("}),
                &json!("x"),
                "",
            ),
            "does not compile",
        );
    }

    #[test]
    fn rejects_unknown_schema_keywords() {
        fails(
            validate(
                &toy(),
                &json!({"type": "string", "nullable": true}),
                &json!("x"),
                "",
            ),
            "`nullable`",
        );
    }

    #[test]
    fn rejects_an_undocumented_status_or_content_type() {
        let doc = toy();
        fails(
            check_answer(
                &doc,
                "GET",
                "/things/7",
                500,
                Some("application/problem+json"),
                b"{}",
            ),
            "status 500 is not documented",
        );
        fails(
            check_answer(&doc, "GET", "/things/7", 200, Some("text/html"), b"<p>"),
            "text/html",
        );
        fails(
            check_answer(
                &doc,
                "GET",
                "/things/7",
                200,
                Some("application/json"),
                b"{",
            ),
            "not JSON",
        );
        fails(
            check_answer(&doc, "GET", "/things/lookup", 204, None, b"x"),
            "without a body",
        );
        check_answer(&doc, "GET", "/things/lookup", 204, None, b"").unwrap();
        check_answer(
            &doc,
            "GET",
            "/text",
            200,
            Some("text/plain; charset=utf-8"),
            b"hi",
        )
        .unwrap();
    }

    #[test]
    fn static_segments_win_over_parameters() {
        assert_eq!(
            find_template(&toy(), "/things/lookup"),
            Some("/things/lookup")
        );
        assert_eq!(find_template(&toy(), "/things/9"), Some("/things/{id}"));
        assert_eq!(find_template(&toy(), "/things/"), None);
        assert_eq!(find_template(&toy(), "/things/9/more"), None);
        assert_eq!(uri_path("http://localhost:8080/things/9?q=1"), "/things/9");
        assert_eq!(decode_unreserved("/th%69ngs/a%2Fb%"), "/things/a%2Fb%");
    }

    #[test]
    fn unknown_paths_must_be_404_and_unknown_methods_405_problems() {
        let doc = toy();
        let problem = |status: u16| {
            json!({"type": "urn:x", "title": "t", "status": status, "code": "c"}).to_string()
        };
        let ct = Some("application/problem+json");
        check_answer(&doc, "GET", "/nowhere", 404, ct, problem(404).as_bytes()).unwrap();
        fails(
            check_answer(&doc, "GET", "/nowhere", 200, ct, b"{}"),
            "must be 404",
        );
        fails(
            check_answer(&doc, "GET", "/nowhere", 404, ct, br#"{"title":"t"}"#),
            "`type` is missing",
        );
        check_answer(
            &doc,
            "DELETE",
            "/things/7",
            405,
            ct,
            problem(405).as_bytes(),
        )
        .unwrap();
        fails(
            check_answer(&doc, "DELETE", "/things/7", 200, ct, b"{}"),
            "must be 405",
        );
    }
}
