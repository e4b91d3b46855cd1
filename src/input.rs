//! Reading what a client sends (a JSON body, a query string, a merge patch) into the
//! service's types. Every fault of a body is named at once, each as a field error with a
//! catalogue code (`invalid_type`, `unknown_code`, `required`, `unknown_field`,
//! `duplicate_field`), never in serde's words. Used by the HTTP extractors (`api::extract`) and
//! by the use cases that read JSON they hold (merge patches, policy rules).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{AppError, FieldError};
use crate::messages::{field_message, Lang};

/// A query string: 422 naming the parameter when one is unknown or of the wrong type.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let message = error.into_inner().to_string();
        let error = match Said::read(&message) {
            Said::Missing(name) => FieldError::new(name, "required", "this parameter is required"),
            Said::Unknown(name) => FieldError::new(
                name,
                "unknown_parameter",
                "this parameter is not accepted here",
            ),
            Said::Variant(allowed) => allowed_codes(
                FieldError::new(field, "invalid_value", "the value is not valid"),
                &allowed,
            ),
            Said::Duplicate(_) | Said::Other => {
                FieldError::new(field, "invalid_value", "the value is not valid")
            }
        };
        AppError::Validation(vec![error])
    })
}

/// Parses a JSON body into `T`, naming every field at fault at once (see [`read_value`]).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::bad_request(
            "malformed_json",
            "the request body is empty; send a JSON object",
        ));
    }
    // serde's own words (positions, expected tokens) stay out of the answer.
    let malformed = |_: serde_json::Error| {
        AppError::bad_request(
            "malformed_json",
            "the body is not valid JSON; send one JSON object",
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let Strict(value) = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let mut path = steps(error.path());
        let inner = error.into_inner();
        match (inner.classify(), Said::read(&inner.to_string())) {
            (serde_json::error::Category::Data, Said::Duplicate(name)) => {
                path.push(Step::Key(name));
                AppError::Validation(vec![FieldError::new(
                    field_name(&path),
                    "duplicate_field",
                    "this field is given twice",
                )])
            }
            _ => malformed(inner),
        }
    })?;
    deserializer.end().map_err(malformed)?;
    parse_json_value(value)
}

/// A JSON value read as JSON Schema reads it: a number with a zero fraction (`1.0`, `4e2`) is
/// an integer (JSON Schema 2020-12 §6.1.1, which `openapi.yaml`'s `type: integer` means), so it
/// becomes one before the body is read into its type; and a key twice in one object is refused,
/// as reading straight into a struct refuses it, rather than the last one silently winning.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // Exactly representable whole numbers only: within ±2^53 every integer is.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if v.fract() == 0.0 && v.abs() <= EXACT {
            Ok(Value::from(v as i64))
        } else {
            Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|Strict(v)| v)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate field `{key}`"
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads a JSON value into `T`, naming every field at fault (for merged PATCH bodies too).
pub fn parse_json_value<T: DeserializeOwned>(value: Value) -> Result<T, AppError> {
    read_value(value).map_err(AppError::Validation)
}

/// Applies a JSON merge patch (RFC 7396, top level) to `current`: a field sent replaces the
/// stored one, `null` clears it, and the result must read as a `T` again. A `null` for a
/// member `T` does not have is refused as unknown, as that member with a value is: `T`
/// serialises every member it has (an empty one as `null`), so its stored form names them all.
pub fn merge_patch<T: serde::Serialize + DeserializeOwned>(
    current: &T,
    changes: serde_json::Map<String, Value>,
) -> Result<T, AppError> {
    let mut merged = match serde_json::to_value(current) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let mut unknown = Vec::new();
    for (field, value) in changes {
        if !value.is_null() {
            merged.insert(field, value);
        } else if merged.remove(&field).is_none() {
            unknown.push(FieldError::new(
                field,
                "unknown_field",
                "this field is not accepted here",
            ));
        }
    }
    match read_value(Value::Object(merged)) {
        Ok(patched) if unknown.is_empty() => Ok(patched),
        Ok(_) => Err(AppError::Validation(unknown)),
        Err(faults) => Err(AppError::Validation([unknown, faults].concat())),
    }
}

/// The most attempts [`read_value`] makes on one body before it answers with the faults found.
const MAX_ATTEMPTS: usize = 200;

/// Reads a JSON value into `T` and reports every field at fault, not only the first one serde
/// stops at: a wrong type, an unknown code and a missing required field in one body come back
/// together. serde derive stops at the first fault, so the value is read again after each one:
/// the member at fault is taken out (its fault recorded), and when `T` then misses it, a
/// placeholder that reads is put in its place (null, "", 0, false, [], {}, a date, a month, a
/// code the type names), until the value reads or nothing changes. Nested members are found
/// the same way. Each fault becomes a field error with a catalogue code and sentence; serde's
/// own words never reach the client.
pub fn read_value<T: DeserializeOwned>(value: Value) -> Result<T, Vec<FieldError>> {
    read_with_placeholders(value).map_err(|faults| faults.errors)
}

/// The faults of a body that did not read, and the body as `T` with a placeholder in place of
/// each member at fault (when placeholders made it read), so the domain's checks can still
/// look at the members that did read. Never write a `filled` value: it is not what was sent.
pub struct Faults<T> {
    pub errors: Vec<FieldError>,
    pub filled: Option<T>,
}

impl<T> Faults<T> {
    /// Adds the domain's errors of `filled`, but none about a member already at fault (its
    /// value there is a placeholder), nor about a member checked against one at fault:
    /// `depends` lists (member, the member its check reads) pairs.
    pub fn with_domain_errors(
        mut self,
        domain: Vec<FieldError>,
        depends: &[(&str, &str)],
    ) -> Vec<FieldError> {
        let at_fault = |field: &str| {
            self.errors.iter().any(|e| {
                field == e.field
                    || field.starts_with(&format!("{}.", e.field))
                    || field.starts_with(&format!("{}[", e.field))
            })
        };
        let reads_a_fault = |field: &str| {
            depends
                .iter()
                .any(|(member, read)| *member == field && at_fault(read))
        };
        let domain: Vec<FieldError> = domain
            .into_iter()
            .filter(|e| !at_fault(&e.field) && !reads_a_fault(&e.field))
            .collect();
        self.errors.extend(domain);
        self.errors
    }
}

/// [`read_value`], keeping the value read with placeholders ([`Faults::filled`]).
pub fn read_with_placeholders<T: DeserializeOwned>(mut value: Value) -> Result<T, Faults<T>> {
    let mut filled = None;
    let mut reported: Vec<(Vec<Step>, FieldError)> = Vec::new();
    let mut attempts = 0;
    if value.is_array() && read_from_array::<T>(&value, &[]) {
        // A whole body that is an array, which serde would read into a struct by position.
        reported.push((vec![Step::Whole], expecting(invalid_type(""), "object")));
        value = Value::Object(serde_json::Map::new());
    }
    while attempts < MAX_ATTEMPTS {
        attempts += 1;
        let mut fault = match attempt::<T>(&value) {
            Ok(read) if reported.is_empty() => return Ok(read),
            Ok(read) => {
                filled = Some(read);
                break;
            }
            Err(fault) => fault,
        };
        if let Some(array) = array_read_as_object::<T>(&value, &fault.at) {
            // The fault lies in an array where an object belongs: the array is at fault.
            fault = Fault {
                at: array,
                said: Said::Other,
                opaque: false,
            };
        }
        let covered = reported.iter().any(|(at, _)| fault.at.starts_with(at));
        if covered {
            // A member already reported (taken out) that `T` needs: a placeholder stands in.
            if !put_placeholder::<T>(&mut value, &fault.at, &mut attempts) {
                break;
            }
            continue;
        }
        let error = describe::<T>(&value, &fault, &mut attempts);
        match fault.said {
            Said::Missing(_) => {
                reported.push((fault.at.clone(), error));
                if !put_placeholder::<T>(&mut value, &fault.at, &mut attempts) {
                    break;
                }
            }
            _ if fault.at.is_empty() => {
                // Recorded under `Whole`, which covers no member.
                let replace = !value.is_object();
                reported.push((vec![Step::Whole], error));
                if !replace {
                    break;
                }
                // The body as a whole is not an object: `{}` is read instead, so the required
                // fields are named too.
                value = Value::Object(serde_json::Map::new());
            }
            _ if fault.opaque => {
                reported.push((fault.at.clone(), error));
                break;
            }
            _ => {
                reported.push((fault.at.clone(), error));
                if matches!(fault.at.last(), Some(Step::Index(_))) {
                    if !put_placeholder::<T>(&mut value, &fault.at, &mut attempts)
                        && !remove(&mut value, &fault.at)
                    {
                        break;
                    }
                } else if !remove(&mut value, &fault.at) {
                    break;
                }
            }
        }
    }
    if reported.is_empty() {
        // Out of attempts before any fault was recorded: cannot happen with a real type.
        reported.push((Vec::new(), expecting(invalid_type(""), "object")));
    }
    Err(Faults {
        errors: reported.into_iter().map(|(_, error)| error).collect(),
        filled,
    })
}

/// One step of a path into a JSON value. `Whole` marks the body replaced by `{}`; it covers
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Whole,
}

/// Where reading stopped, and what serde said there.
struct Fault {
    /// The member at fault (for a missing field: the field's own path).
    at: Vec<Step>,
    said: Said,
    /// The path runs through something this reader cannot follow (a flattened struct, an
    /// enum's content), so the member cannot be taken out.
    opaque: bool,
}

/// What a serde message says, read for the reader's own use only.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Said {
    Missing(String),
    Unknown(String),
    Duplicate(String),
    /// An unknown variant, with the codes allowed.
    Variant(Vec<String>),
    Other,
}

impl Said {
    fn read(message: &str) -> Said {
        let message = message.split(" at line ").next().unwrap_or(message);
        let quoted = |prefix: &str| {
            message
                .strip_prefix(prefix)
                .and_then(|rest| rest.split('`').next())
                .map(str::to_owned)
        };
        if let Some(name) = quoted("missing field `") {
            return Said::Missing(name);
        }
        if let Some(name) = quoted("unknown field `") {
            return Said::Unknown(name);
        }
        if let Some(name) = quoted("duplicate field `") {
            return Said::Duplicate(name);
        }
        if message.starts_with("unknown variant `") {
            let allowed = message
                .split_once(", expected ")
                .map(|(_, list)| {
                    list.split('`')
                        .skip(1)
                        .step_by(2)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            return Said::Variant(allowed);
        }
        Said::Other
    }
}

fn steps(path: &serde_path_to_error::Path) -> Vec<Step> {
    path.iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        })
        .collect()
}

/// A path as the field of a field error: `items[0].name`.
fn field_name(path: &[Step]) -> String {
    let mut name = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(key);
            }
            Step::Index(index) => name.push_str(&format!("[{index}]")),
            Step::Whole => {}
        }
    }
    name
}

fn attempt<T: DeserializeOwned>(value: &Value) -> Result<T, Fault> {
    serde_path_to_error::deserialize(value.clone()).map_err(|error| {
        let opaque = error.path().iter().any(|segment| {
            matches!(
                segment,
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown
            )
        });
        let mut at = steps(error.path());
        let said = Said::read(&error.into_inner().to_string());
        if let Said::Missing(name) = &said {
            at.push(Step::Key(name.clone()));
        }
        Fault { at, said, opaque }
    })
}

/// Whether `T` reads `value` with `candidate` at `at`: it reads, or stops somewhere else.
fn fits<T: DeserializeOwned>(value: &Value, at: &[Step], candidate: &Value) -> bool {
    let mut tried = value.clone();
    if !set(&mut tried, at, candidate.clone()) {
        return false;
    }
    match attempt::<T>(&tried) {
        Ok(_) => true,
        Err(fault) => fault.at != at,
    }
}

/// Whether `T` reads an object, not an array, at `at`: an array there is read by position.
fn read_from_array<T: DeserializeOwned>(value: &Value, at: &[Step]) -> bool {
    fits::<T>(value, at, &Value::Object(serde_json::Map::new()))
        && !fits::<T>(value, at, &Value::Array(Vec::new()))
}

/// The outermost array on the way to `at` that stands where `T` reads an object.
fn array_read_as_object<T: DeserializeOwned>(value: &Value, at: &[Step]) -> Option<Vec<Step>> {
    (0..at.len())
        .filter(|&depth| matches!(at[depth], Step::Index(_)))
        .map(|depth| at[..depth].to_vec())
        .find(|array| !array.is_empty() && read_from_array::<T>(value, array))
}

fn invalid_type(field: impl Into<String>) -> FieldError {
    FieldError::new(field, "invalid_type", "the value has the wrong type")
}

/// The kinds of value tried, in order, with what they are called in messages.
fn candidates() -> Vec<(Value, &'static str)> {
    vec![
        (Value::String(String::new()), "string"),
        (Value::from(0), "integer"),
        (Value::from(0.5), "number"),
        (Value::Bool(false), "boolean"),
        (Value::Array(Vec::new()), "array"),
        (Value::Object(serde_json::Map::new()), "object"),
        (Value::String("2000-01-01".into()), "date"),
        (Value::String("2000-01".into()), "month"),
    ]
}

/// The codes `T` accepts at `at`, when a code is what it reads there.
fn codes_at<T: DeserializeOwned>(value: &Value, at: &[Step]) -> Option<Vec<String>> {
    let mut tried = value.clone();
    if !set(&mut tried, at, Value::String(String::new())) {
        return None;
    }
    match attempt::<T>(&tried) {
        Err(Fault {
            at: fault_at,
            said: Said::Variant(allowed),
            ..
        }) if fault_at == at && !allowed.is_empty() => Some(allowed),
        _ => None,
    }
}

/// Puts a value that `T` reads at `at`; false when none does.
fn put_placeholder<T: DeserializeOwned>(
    value: &mut Value,
    at: &[Step],
    attempts: &mut usize,
) -> bool {
    let mut tried: Vec<Value> = vec![Value::Null];
    tried.extend(candidates().into_iter().map(|(candidate, _)| candidate));
    if let Some(codes) = codes_at::<T>(value, at) {
        tried.insert(0, Value::String(codes[0].clone()));
    }
    for candidate in tried {
        *attempts += 1;
        if fits::<T>(value, at, &candidate) {
            return set(value, at, candidate);
        }
    }
    false
}

/// The field error of a fault, with what the member should have been.
fn describe<T: DeserializeOwned>(value: &Value, fault: &Fault, attempts: &mut usize) -> FieldError {
    let field = field_name(&fault.at);
    match &fault.said {
        Said::Missing(_) => FieldError::new(field, "required", "this field is required"),
        Said::Unknown(_) => {
            FieldError::new(field, "unknown_field", "this field is not accepted here")
        }
        Said::Duplicate(_) => {
            FieldError::new(field, "duplicate_field", "this field is given twice")
        }
        Said::Variant(allowed) => allowed_codes(
            FieldError::new(field, "unknown_code", "not a code accepted here"),
            allowed,
        ),
        Said::Other => {
            let error = invalid_type(field);
            if fault.at.is_empty() {
                return expecting(error, "object");
            }
            if fault.opaque {
                return error;
            }
            if let Some(codes) = codes_at::<T>(value, &fault.at) {
                return allowed_codes(expecting(error, "code"), &codes);
            }
            for (candidate, kind) in candidates() {
                *attempts += 1;
                if fits::<T>(value, &fault.at, &candidate) {
                    return expecting(error, kind);
                }
            }
            error
        }
    }
}

/// The error saying which kind of JSON value was expected (`expected`, a key of
/// [`crate::messages::json_type`]); its English sentence is the catalogue's.
fn expecting(error: FieldError, kind: &'static str) -> FieldError {
    in_english(error.with_param("expected", kind))
}

/// The error naming the codes accepted (`allowed`).
fn allowed_codes(error: FieldError, allowed: &[String]) -> FieldError {
    if allowed.is_empty() {
        return error;
    }
    in_english(error.with_param("allowed", allowed.join(", ")))
}

/// The error with the catalogue's English sentence for its code and parameters.
fn in_english(mut error: FieldError) -> FieldError {
    if let Some(message) = field_message(&error.code, &error.params, Lang::En) {
        error.message = message;
    }
    error
}

/// The member at `at`, for changing.
fn member<'v>(value: &'v mut Value, at: &[Step]) -> Option<&'v mut Value> {
    let mut here = value;
    for step in at {
        here = match step {
            Step::Key(key) => here.as_object_mut()?.get_mut(key)?,
            Step::Index(index) => here.as_array_mut()?.get_mut(*index)?,
            Step::Whole => here,
        };
    }
    Some(here)
}

/// Sets the member at `at` (adding it to its object when absent).
fn set(value: &mut Value, at: &[Step], new: Value) -> bool {
    let Some((last, parent)) = at.split_last() else {
        *value = new;
        return true;
    };
    match (member(value, parent), last) {
        (Some(Value::Object(map)), Step::Key(key)) => {
            map.insert(key.clone(), new);
            true
        }
        (Some(Value::Array(items)), Step::Index(index)) if *index < items.len() => {
            items[*index] = new;
            true
        }
        _ => false,
    }
}

/// Takes the member at `at` out of its object or array.
fn remove(value: &mut Value, at: &[Step]) -> bool {
    let Some((last, parent)) = at.split_last() else {
        return false;
    };
    match (member(value, parent), last) {
        (Some(Value::Object(map)), Step::Key(key)) => map.remove(key).is_some(),
        (Some(Value::Array(items)), Step::Index(index)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        attempts: u32,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        day: u8,
    }

    fn validation(body: &str) -> FieldError {
        match parse_json::<Login>(body.as_bytes()) {
            Err(AppError::Validation(mut errors)) => errors.remove(0),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_missing_unknown_and_mistyped_fields() {
        let e = validation(r#"{"username":"a"}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("attempts", "required")
        );
        let e = validation(r#"{"username":"a","attempts":1,"extra":1}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("extra", "unknown_field")
        );
        let e = validation(r#"{"username":5,"attempts":1}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("username", "invalid_type")
        );
        let e = validation(r#"{"username":"a","attempts":1,"inner":{"day":"x"}}"#);
        assert_eq!(e.field, "inner.day");
        let e = validation(r#"{"username":"a","attempts":1,"inner":{}}"#);
        assert_eq!(e.field, "inner.day");
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        for body in [
            "{",
            "not json",
            "",
            "{\"username\":\"a\",\"attempts\":1} trailing",
        ] {
            match parse_json::<Login>(body.as_bytes()) {
                Err(AppError::BadRequest { code, .. }) => assert_eq!(code, "malformed_json"),
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn whole_numbers_written_with_a_fraction_are_integers() {
        // JSON Schema's `type: integer` admits 1.0; the spec's integers must read it.
        let login: Login =
            parse_json(br#"{"username":"a","attempts":3.0,"inner":{"day":4e1}}"#).unwrap();
        assert_eq!(login.attempts, 3);
        assert_eq!(login.inner.unwrap().day, 40);
        let e = validation(r#"{"username":"a","attempts":3.5}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("attempts", "invalid_type")
        );
        let e = validation(r#"{"username":"a","attempts":-1.0}"#);
        assert_eq!(e.field, "attempts");
    }

    #[test]
    fn a_field_twice_is_refused() {
        let e = validation(r#"{"username":"a","attempts":1,"attempts":2}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("attempts", "duplicate_field")
        );
        assert!(!e.message.contains('`'), "{e:?}");
        let e = validation(r#"{"username":"a","attempts":1,"inner":{"day":1,"day":2}}"#);
        assert_eq!(e.field, "inner.day");
    }

    #[test]
    fn a_non_object_is_a_type_error() {
        match parse_json::<Login>(b"[1,2]") {
            Err(AppError::Validation(errors)) => assert_eq!(errors[0].code, "invalid_type"),
            other => panic!("{other:?}"),
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Person {
        name: String,
        born_on: chrono::NaiveDate,
        status: Status,
        age: u32,
        note: Option<String>,
        flags: Vec<Status>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Status {
        None,
        Dibao,
    }

    fn faults(body: &str) -> Vec<(String, String)> {
        match parse_json::<Person>(body.as_bytes()) {
            Err(AppError::Validation(errors)) => {
                for e in &errors {
                    for word in ["expected", "`", "struct", "variant", "u32", "line "] {
                        assert!(!e.message.contains(word), "{word} in {e:?}");
                    }
                }
                let mut found: Vec<_> = errors.into_iter().map(|e| (e.field, e.code)).collect();
                found.sort();
                found
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut pairs: Vec<_> = expected
            .iter()
            .map(|(f, c)| (f.to_string(), c.to_string()))
            .collect();
        pairs.sort();
        pairs
    }

    #[test]
    fn every_fault_of_a_body_is_named_at_once() {
        assert_eq!(
            faults(r#"{"name": 5, "status": "低保", "age": 3, "flags": []}"#),
            pairs(&[
                ("name", "invalid_type"),
                ("born_on", "required"),
                ("status", "unknown_code"),
            ])
        );
        assert_eq!(
            faults(
                r#"{"name": "a", "born_on": "2020-02-30", "status": 1, "age": "x",
                    "flags": ["dibao", "x"], "inner": {"day": "y"}, "extra": 1}"#
            ),
            pairs(&[
                ("born_on", "invalid_type"),
                ("status", "invalid_type"),
                ("age", "invalid_type"),
                ("flags[1]", "unknown_code"),
                ("inner.day", "invalid_type"),
                ("extra", "unknown_field"),
            ])
        );
    }

    #[test]
    fn the_expected_kind_and_the_codes_are_named() {
        let error = |body: &str| match parse_json::<Person>(body.as_bytes()) {
            Err(AppError::Validation(errors)) => errors,
            other => panic!("{other:?}"),
        };
        let errors =
            error(r#"{"name": "a", "born_on": 5, "status": "x", "age": true, "flags": {}}"#);
        // Members are read in the order of their names.
        let params: Vec<_> = errors.iter().map(|e| e.params.clone()).collect();
        assert_eq!(params[0], vec![("expected", "integer".to_owned())]);
        assert_eq!(params[1], vec![("expected", "date".to_owned())]);
        assert_eq!(params[2], vec![("expected", "array".to_owned())]);
        assert_eq!(params[3], vec![("allowed", "none, dibao".to_owned())]);
        assert_eq!(
            errors[1].message_in(Lang::Zh),
            "类型不正确：应为日期（YYYY-MM-DD）"
        );
        assert_eq!(
            errors[3].message,
            "not a code accepted here; one of: none, dibao"
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_names_the_required_fields_too() {
        for body in [r#""x""#, "5", "[]", "null", "true"] {
            assert_eq!(
                faults(body),
                pairs(&[
                    ("", "invalid_type"),
                    ("name", "required"),
                    ("born_on", "required"),
                    ("status", "required"),
                    ("age", "required"),
                    ("flags", "required"),
                ]),
                "{body}"
            );
        }
    }
}
