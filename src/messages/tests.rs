use super::*;

use std::collections::BTreeSet;
use std::path::Path;

/// A call's arguments, split at the top-level commas; `None` when the call does not close.
fn arguments(text: &str) -> Option<Vec<String>> {
    let mut depth = 0usize;
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                current.push(c);
                while let Some(inner) = chars.next() {
                    current.push(inner);
                    if inner == '\\' {
                        current.extend(chars.next());
                    } else if inner == '"' {
                        break;
                    }
                }
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                if !current.trim().is_empty() {
                    parts.push(current.trim().to_owned());
                }
                return Some(parts);
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    None
}

/// A string literal's text, when `argument` is one.
fn literal(argument: &str) -> Option<&str> {
    argument
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|code| !code.contains('"'))
}

fn sources(dir: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            found.push((path.display().to_string(), text));
        }
    }
}

/// The functions that build a field error or a problem from a `code` parameter: the
/// constructors, and every function of `src/` whose signature takes `code` and names
/// `FieldError` or `AppError` (the helpers of one module: `error(errors, field, code, …)`).
/// Name → (number of arguments, position of `code`).
fn builders(files: &[(String, String)]) -> Vec<(String, usize, usize)> {
    let mut found = vec![
        ("FieldError::new".to_owned(), 3, 1),
        ("AppError::field".to_owned(), 3, 1),
        ("AppError::bad_request".to_owned(), 2, 0),
        ("AppError::unauthorized".to_owned(), 2, 0),
    ];
    for (_, text) in files {
        for (at, _) in text.match_indices("fn ") {
            let rest = &text[at + 3..];
            let Some(open) = rest.find('(') else { continue };
            let name = &rest[..open];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let Some(parameters) = arguments(&rest[open + 1..]) else {
                continue;
            };
            let signature_end = rest.find('{').unwrap_or(rest.len());
            let signature = &rest[..signature_end];
            if !(signature.contains("FieldError") || signature.contains("AppError")) {
                continue;
            }
            if let Some(position) = parameters
                .iter()
                .position(|p| p.split(':').next().map(str::trim) == Some("code"))
            {
                found.push((name.to_owned(), parameters.len(), position));
            }
        }
    }
    found
}

/// Every code literal passed to a builder in `src/`, with where it is.
fn codes_in_sources() -> BTreeMap<String, String> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let builders = builders(&files);
    let mut codes = BTreeMap::new();
    for (path, text) in &files {
        for (name, count, position) in &builders {
            let call = format!("{name}(");
            for (at, _) in text.match_indices(&call) {
                // `error(` inside `field_error(`, a method `.field(` or `fn error(` is not a
                // call of the helper `error`.
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || "_:.".contains(c))
                    && !name.contains("::")
                {
                    continue;
                }
                if text[..at].ends_with("fn ") {
                    continue;
                }
                let Some(args) = arguments(&text[at + call.len()..]) else {
                    continue;
                };
                if args.len() != *count {
                    continue;
                }
                if let Some(code) = literal(&args[*position]) {
                    codes.insert(code.to_owned(), format!("{path}: {name}"));
                }
            }
        }
        // Conflicts name their code as a struct member.
        for (at, _) in text.match_indices("code: \"") {
            let rest = &text[at + 7..];
            let code = rest.split('"').next().unwrap_or_default();
            if code.starts_with(|c: char| c.is_ascii_lowercase()) {
                codes.insert(code.to_owned(), format!("{path}: code: …"));
            }
        }
    }
    codes
}

#[test]
fn every_code_the_service_writes_has_a_chinese_and_an_english_sentence() {
    let codes = codes_in_sources();
    // The scan finds the codes of every kind of site (a sanity check of the scan itself).
    for expected in [
        "before_birth",
        "unknown_town",
        "too_common",
        "mismatch",
        "in_future",
        "differs_from_active",
        "duplicate_id_number",
        "invalid_credentials",
        "malformed_csv",
    ] {
        assert!(codes.contains_key(expected), "the scan misses {expected}");
    }
    let missing: Vec<String> = codes
        .iter()
        .filter(|(code, _)| field_text(code).is_none())
        .map(|(code, at)| format!("{code} ({at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a sentence in src/messages.rs (add a zh and en text): {missing:?}"
    );
}

#[test]
fn the_id_number_codes_are_catalogued() {
    use crate::domain::id_number::IdNumberError;
    for error in [
        IdNumberError::Length,
        IdNumberError::Characters,
        IdNumberError::BirthDate,
        IdNumberError::CheckDigit,
    ] {
        assert!(field_text(error.code()).is_some(), "{}", error.code());
    }
}

#[test]
fn every_problem_code_of_the_error_type_is_catalogued() {
    use crate::error::AppError;
    let fixed = [
        AppError::forbidden(""),
        AppError::NotFound,
        AppError::MethodNotAllowed { allow: Vec::new() },
        AppError::PreconditionFailed,
        AppError::PreconditionRequired,
        AppError::PayloadTooLarge { limit: 1 },
        AppError::RequestTimeout {
            within: std::time::Duration::from_secs(1),
        },
        AppError::UnsupportedMediaType { expected: "x" },
        AppError::Validation(Vec::new()),
        AppError::TooManyRequests {
            retry_after_secs: 1,
        },
        AppError::Unavailable {
            cause: String::new(),
        },
        AppError::internal(""),
    ];
    for error in fixed {
        assert!(problem_text(error.code()).is_some(), "{}", error.code());
    }
}

#[test]
fn every_text_is_written_in_both_languages() {
    for table in [
        PROBLEM_CODES,
        PROBLEM_PARAMETRIC,
        FIELD_CODES,
        FIELD_PARAMETRIC,
        FIELD_NAMES,
        AUDIT_ENTITIES,
    ] {
        for (code, text) in table {
            assert!(!text.zh.is_empty() && !text.en.is_empty(), "{code}");
            assert!(
                text.zh
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{code}: the Chinese text has no Chinese: {}",
                text.zh
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (code, _) in PROBLEM_CODES.iter().chain(FIELD_CODES).chain(FIELD_NAMES) {
        let _ = seen.insert(*code);
    }
    for table in [PROBLEM_CODES, FIELD_CODES, FIELD_NAMES, AUDIT_ENTITIES] {
        let unique: BTreeSet<_> = table.iter().map(|(code, _)| code).collect();
        assert_eq!(unique.len(), table.len(), "a code is listed twice");
    }
}

#[test]
fn every_member_of_a_request_body_has_a_label() {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml is YAML");
    let schemas = &spec["components"]["schemas"];
    let mut names = BTreeSet::new();
    fn walk(
        schema: &serde_yaml::Value,
        schemas: &serde_yaml::Value,
        seen: &mut BTreeSet<String>,
        names: &mut BTreeSet<String>,
    ) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap_or_default().to_owned();
            if seen.insert(name.clone()) {
                walk(&schemas[name.as_str()], schemas, seen, names);
            }
            return;
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for part in schema[key].as_sequence().into_iter().flatten() {
                walk(part, schemas, seen, names);
            }
        }
        if let Some(properties) = schema["properties"].as_mapping() {
            for (name, property) in properties {
                names.insert(name.as_str().unwrap_or_default().to_owned());
                walk(property, schemas, seen, names);
            }
        }
        walk_items(schema, schemas, seen, names);
    }
    fn walk_items(
        schema: &serde_yaml::Value,
        schemas: &serde_yaml::Value,
        seen: &mut BTreeSet<String>,
        names: &mut BTreeSet<String>,
    ) {
        if schema["items"].is_mapping() {
            walk(&schema["items"], schemas, seen, names);
        }
    }
    for (_, operations) in spec["paths"].as_mapping().expect("paths") {
        for (_, operation) in operations.as_mapping().into_iter().flatten() {
            let content = &operation["requestBody"]["content"];
            for (_, media) in content.as_mapping().into_iter().flatten() {
                walk(&media["schema"], schemas, &mut BTreeSet::new(), &mut names);
            }
            for parameter in operation["parameters"].as_sequence().into_iter().flatten() {
                if parameter["in"] == "query" {
                    names.extend(parameter["name"].as_str().map(str::to_owned));
                }
            }
        }
    }
    assert!(names.contains("id_number") && names.contains("reason"));
    let unlabelled: Vec<&String> = names
        .iter()
        .filter(|name| field_label(name).is_none())
        .collect();
    assert!(
        unlabelled.is_empty(),
        "members of request bodies and query parameters without a label in FIELD_NAMES: \
         {unlabelled:?}"
    );
}

#[test]
fn the_import_columns_have_labels() {
    for column in crate::use_cases::residents::import_columns::codes() {
        assert!(field_label(column).is_some(), "{column}");
    }
}

#[test]
fn accept_language_picks_the_preferred_language_it_speaks() {
    let zh = Lang::Zh;
    let en = Lang::En;
    for (header, default, expected) in [
        (None, zh, zh),
        (None, en, en),
        (Some("zh-CN"), en, zh),
        (Some("zh"), en, zh),
        (Some("zh-Hans-CN"), en, zh),
        (Some("en"), zh, en),
        (Some("en-US,en;q=0.9"), zh, en),
        (Some("fr-FR, en;q=0.5, zh;q=0.8"), en, zh),
        (Some("zh;q=0.3, en;q=0.7"), zh, en),
        (Some("en;q=0, zh"), en, zh),
        (Some("en;q=0"), zh, zh),
        (Some("fr, de"), en, en),
        (Some("*"), en, en),
        (Some("de, *;q=0.5"), zh, zh),
        (Some("EN-gb"), zh, en),
        (Some("en;q=abc"), zh, zh),
    ] {
        assert_eq!(
            Lang::negotiate(header, default),
            expected,
            "{header:?} with default {default:?}"
        );
    }
}

#[test]
fn parameters_fill_the_sentence_that_names_them() {
    let params = vec![("expected", "integer".to_owned())];
    assert_eq!(
        field_message("invalid_type", &params, Lang::Zh).unwrap(),
        "类型不正确：应为整数"
    );
    assert_eq!(
        field_message("invalid_type", &params, Lang::En).unwrap(),
        "the value has the wrong type; send a whole number"
    );
    // Without its parameters a code still has its plain sentence.
    assert_eq!(
        field_message("invalid_type", &[], Lang::Zh).unwrap(),
        "类型不正确"
    );
    let allowed = vec![("allowed", "none, dibao".to_owned())];
    assert_eq!(
        field_message("unknown_code", &allowed, Lang::Zh).unwrap(),
        "不是此处可用的代码，可用：none, dibao"
    );
    assert!(field_message("no_such_code", &[], Lang::Zh).is_none());
}

#[test]
fn every_audit_entity_type_has_a_label() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut entities = BTreeSet::new();
    for (_, text) in &files {
        // `.entity("resident", …)`, and the constants sections and reports name theirs by.
        for marker in [
            ".entity(\"",
            "const NAME: &'static str = \"",
            "const ENTITY: &str = \"",
        ] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                if let Some(end) = rest.find('"') {
                    entities.insert(rest[..end].to_owned());
                }
            }
        }
    }
    assert!(entities.contains("resident") && entities.contains("rehab_needs"));
    let unlabelled: Vec<&String> = entities
        .iter()
        .filter(|e| !AUDIT_ENTITIES.iter().any(|(code, _)| code == e))
        .collect();
    assert!(
        unlabelled.is_empty(),
        "audit entity types without a label in AUDIT_ENTITIES: {unlabelled:?}"
    );
}
