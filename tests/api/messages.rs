//! Issue 14: messages in the users' language, no text of serde or Rust in any answer, and every
//! fault of a body in one answer.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::test::TestRequest;
use serde_json::{json, Value};

use fenghua_registry::api::endpoints;
use fenghua_registry::domain::role::Role;
use fenghua_registry::messages::Lang;

use crate::access::{fill, fixtures, Cell, MATRIX};
use crate::helpers::{spawn_app, spawn_app_with, Answer, TestApp};
use crate::integration::register_client;
use crate::session::{id_number, JINPING};

/// Words of serde, diesel and Rust types that no answer may hold, in any language.
const INTERNAL: &[&str] = &[
    "expected",
    "struct ",
    "variant",
    "i64",
    "i32",
    "u32",
    "u64",
    "u8",
    "`",
    "Option<",
    "at line",
    "column ",
    "serde",
    "diesel",
    "invalid type",
    "NaiveDate",
];

/// Sends `body` to `path` as `who`, in `language` (no `Accept-Language` when `None`).
async fn send(
    app: &TestApp,
    who: &str,
    method: &str,
    path: &str,
    body: &Value,
    language: Option<&str>,
) -> Answer {
    let mut req = TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path)
        .insert_header((header::AUTHORIZATION, format!("Bearer {who}")))
        .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string()))
        .set_json(body);
    if let Some(language) = language {
        req = req.insert_header((header::ACCEPT_LANGUAGE, language));
    }
    app.send(req).await
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The (field, code) pairs of a 422 problem, sorted.
fn faults(answer: &Answer) -> Vec<(String, String)> {
    let problem = answer.problem(422, "validation_failed");
    let mut found: Vec<(String, String)> = problem["errors"]
        .as_array()
        .expect("field errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(f, c)| (f.to_string(), c.to_string()))
        .collect();
    pairs.sort();
    pairs
}

/// Every text of a problem (title, detail, messages) is in `lang`, and none is internal.
#[track_caller]
fn assert_in(answer: &Answer, lang: Lang) {
    let problem = answer.json();
    let mut texts = vec![problem["title"].as_str().unwrap().to_owned()];
    texts.extend(problem["detail"].as_str().map(str::to_owned));
    for error in problem["errors"].as_array().into_iter().flatten() {
        texts.push(error["message"].as_str().unwrap().to_owned());
    }
    for text in &texts {
        match lang {
            Lang::Zh => assert!(has_chinese(text), "not Chinese: {text:?} in {problem}"),
            Lang::En => assert!(!has_chinese(text), "not English: {text:?} in {problem}"),
        }
    }
    assert_no_internal_text(answer);
    assert_eq!(answer.header("content-language"), Some(lang.tag()));
}

#[track_caller]
fn assert_no_internal_text(answer: &Answer) {
    let text = answer.text();
    for word in INTERNAL {
        assert!(!text.contains(word), "{word:?} in the answer: {text}");
    }
}

fn resident(sequence: u16) -> Value {
    json!({
        "id_number": id_number("330283", "1980-05-01", sequence),
        "name": "张三",
        "town_code": JINPING,
    })
}

#[actix_web::test]
async fn problems_are_chinese_by_default_and_english_when_the_client_prefers_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let bad = json!({"id_number": "1", "name": "张三", "town_code": "1"});
    for (language, lang) in [
        (None, Lang::Zh),
        (Some("zh-CN"), Lang::Zh),
        (Some("zh"), Lang::Zh),
        (Some("zh-Hans-CN,zh;q=0.9"), Lang::Zh),
        (Some("en"), Lang::En),
        (Some("en-US,en;q=0.9"), Lang::En),
        (Some("fr-FR, en;q=0.8, zh;q=0.5"), Lang::En),
        (Some("en;q=0.2, zh-CN;q=0.9"), Lang::Zh),
        (Some("de"), Lang::Zh),
    ] {
        let answer = send(&app, token, "POST", "/api/v1/residents", &bad, language).await;
        assert_eq!(
            faults(&answer),
            pairs(&[
                ("id_number", "invalid_length"),
                ("town_code", "unknown_town")
            ]),
            "{language:?}"
        );
        assert_in(&answer, lang);
        let title = answer.json()["title"].as_str().unwrap().to_owned();
        assert_eq!(title, lang.pick("部分字段有误", "Some fields are invalid"));
    }
    // Problems without field errors too: 401, 404, 415, 400.
    for (language, lang) in [(None, Lang::Zh), (Some("en"), Lang::En)] {
        let mut req = TestRequest::get().uri("/api/v1/me");
        if let Some(language) = language {
            req = req.insert_header((header::ACCEPT_LANGUAGE, language));
        }
        let answer = app.send(req).await;
        answer.problem(401, "unauthorized");
        assert_in(&answer, lang);
        let answer = send(
            &app,
            token,
            "GET",
            "/api/v1/residents/nope",
            &json!({}),
            language,
        )
        .await;
        answer.problem(404, "not_found");
        assert_in(&answer, lang);
        let mut req = TestRequest::post()
            .uri("/api/v1/residents")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload("{\"name\": ");
        if let Some(language) = language {
            req = req.insert_header((header::ACCEPT_LANGUAGE, language));
        }
        let answer = app.send(req).await;
        answer.problem(400, "malformed_json");
        assert_in(&answer, lang);
        let answer = app
            .send(
                TestRequest::post()
                    .uri("/api/v1/residents")
                    .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
                    .insert_header((header::ACCEPT_LANGUAGE, language.unwrap_or("zh")))
                    .insert_header((header::CONTENT_TYPE, "text/plain"))
                    .set_payload("x"),
            )
            .await;
        answer.problem(415, "unsupported_media_type");
        assert_in(&answer, lang);
    }
    // A rule's limit is in the sentence in both languages.
    let mut long_name = resident(9);
    long_name["name"] = json!("张".repeat(51));
    for (language, message) in [
        (None, "须为 1 至 50 个字符"),
        (Some("en"), "give a name of 1 to 50 characters"),
    ] {
        let answer = send(
            &app,
            token,
            "POST",
            "/api/v1/residents",
            &long_name,
            language,
        )
        .await;
        assert_eq!(faults(&answer), pairs(&[("name", "invalid")]));
        assert_eq!(answer.json()["errors"][0]["message"], message);
    }
    // A conflict's detail, written by the service, is Chinese too (naming the town to ask, to a
    // caseworker of another town: tests/api/residents.rs).
    let created = send(&app, token, "POST", "/api/v1/residents", &resident(1), None).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let again = send(&app, token, "POST", "/api/v1/residents", &resident(1), None).await;
    again.problem(409, "duplicate_id_number");
    assert_in(&again, Lang::Zh);
    let again = send(
        &app,
        token,
        "POST",
        "/api/v1/residents",
        &resident(1),
        Some("en"),
    )
    .await;
    again.problem(409, "duplicate_id_number");
    assert_in(&again, Lang::En);
}

#[actix_web::test]
async fn the_default_language_is_configurable() {
    let app = spawn_app_with(|c| c.default_language = Lang::En).await;
    let admin = app.admin().await;
    let bad = json!({"name": 5});
    let token = admin.access_token.as_str();
    let answer = send(&app, token, "POST", "/api/v1/residents", &bad, None).await;
    assert_in(&answer, Lang::En);
    let answer = send(&app, token, "POST", "/api/v1/residents", &bad, Some("fr")).await;
    assert_in(&answer, Lang::En);
    let answer = send(
        &app,
        token,
        "POST",
        "/api/v1/residents",
        &bad,
        Some("zh-CN"),
    )
    .await;
    assert_in(&answer, Lang::Zh);
}

/// The examples of the issue's first paragraph, sent again.
#[actix_web::test]
async fn the_examples_of_the_issue_get_a_plain_answer() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let created = send(&app, token, "POST", "/api/v1/residents", &resident(2), None).await;
    let id = created.json()["id"].as_str().unwrap().to_owned();

    // `invalid type: string "x", expected i64`: a text where a whole number belongs.
    let path = format!("/api/v1/residents/{id}/incomes");
    for (language, message) in [
        (None, "类型不正确：应为整数"),
        (
            Some("en"),
            "the value has the wrong type; send a whole number",
        ),
    ] {
        let body = json!({"year": 2024, "per_capita_income_fen": "x"});
        let answer = send(&app, token, "POST", &path, &body, language).await;
        assert_eq!(
            faults(&answer),
            pairs(&[("per_capita_income_fen", "invalid_type")])
        );
        assert_eq!(answer.json()["errors"][0]["message"], message);
        assert_no_internal_text(&answer);
    }

    // `expected struct CreateResident`: a body that is not an object. It names the body and
    // every required field.
    for body in [json!("张三"), json!([resident(3)]), json!(null)] {
        let answer = send(&app, token, "POST", "/api/v1/residents", &body, None).await;
        assert_eq!(
            faults(&answer),
            pairs(&[
                ("", "invalid_type"),
                ("id_number", "required"),
                ("name", "required"),
                ("town_code", "required"),
            ])
        );
        assert_eq!(
            answer.json()["errors"][0]["message"],
            "类型不正确：应为对象"
        );
        assert_no_internal_text(&answer);
    }

    // ``unknown variant `低保`, expected one of `none`…``: the Chinese label instead of the
    // code. The answer names the codes allowed, in plain words.
    let mut body = resident(4);
    body["household_status"] = json!("低保");
    for (language, message) in [
        (None, "不是此处可用的代码，可用：none, dibao, dibian, tekun"),
        (
            Some("en"),
            "not a code accepted here; one of: none, dibao, dibian, tekun",
        ),
    ] {
        let answer = send(&app, token, "POST", "/api/v1/residents", &body, language).await;
        assert_eq!(
            faults(&answer),
            pairs(&[("household_status", "unknown_code")])
        );
        assert_eq!(answer.json()["errors"][0]["message"], message);
        assert_no_internal_text(&answer);
    }

    // One wrong type no longer hides every other error: see the three-fault tests below.
    let body = json!({"id_number": 5, "name": 6, "town_code": 7, "household_flags": "x"});
    let answer = send(&app, token, "POST", "/api/v1/residents", &body, None).await;
    assert_eq!(
        faults(&answer),
        pairs(&[
            ("household_flags", "invalid_type"),
            ("id_number", "invalid_type"),
            ("name", "invalid_type"),
            ("town_code", "invalid_type"),
        ])
    );
}

#[actix_web::test]
async fn a_wrong_type_an_unknown_code_and_a_missing_field_come_back_together() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let created = send(&app, token, "POST", "/api/v1/residents", &resident(5), None).await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let cases = [
        (
            "/api/v1/residents".to_owned(),
            json!({
                "id_number": 330283198005010019_u64,
                "household_status": "低保",
                "town_code": JINPING,
            }),
            pairs(&[
                ("household_status", "unknown_code"),
                ("id_number", "invalid_type"),
                ("name", "required"),
            ]),
        ),
        (
            format!("/api/v1/residents/{id}/insurance"),
            json!({"year": "二〇二四", "kind": "医保"}),
            pairs(&[
                ("enrolled", "required"),
                ("kind", "unknown_code"),
                ("year", "invalid_type"),
            ]),
        ),
        (
            format!("/api/v1/residents/{id}/rehab-needs"),
            json!({"type": "针灸", "assessed_on": 20240101, "note": "x"}),
            pairs(&[
                ("assessed_on", "invalid_type"),
                ("note", "unknown_field"),
                ("type", "unknown_code"),
            ]),
        ),
    ];
    for (path, body, expected) in cases {
        for (language, lang) in [(Some("zh-CN"), Lang::Zh), (Some("en"), Lang::En)] {
            let answer = send(&app, token, "POST", &path, &body, language).await;
            assert_eq!(faults(&answer), expected, "{path} {language:?}");
            assert_in(&answer, lang);
        }
    }
}

/// On the registration route the rules of the domain on the members that did read come in the
/// same answer as the members of a wrong type or code; nothing is written.
#[actix_web::test]
async fn a_registration_names_type_faults_and_rule_faults_together() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let body = json!({
        "id_number": 330283198005010019_u64,
        "name": "张".repeat(51),
        "town_code": JINPING,
        "household_status": "低保",
        "registered_on": "2999-01-01",
        "phone": "123",
    });
    for (language, lang) in [(None, Lang::Zh), (Some("en"), Lang::En)] {
        let answer = send(&app, token, "POST", "/api/v1/residents", &body, language).await;
        assert_eq!(
            faults(&answer),
            pairs(&[
                ("household_status", "unknown_code"),
                ("id_number", "invalid_type"),
                ("name", "invalid"),
                ("phone", "invalid_format"),
                ("registered_on", "in_future"),
            ])
        );
        assert_in(&answer, lang);
    }
    let list = app.get_as(&admin, "/api/v1/residents").await;
    assert_eq!(
        list.json()["items"].as_array().unwrap().len(),
        0,
        "nothing written"
    );
}

/// The media types of the request body of an operation in `openapi.yaml`.
fn body_types(method: &str, route: &str) -> Vec<String> {
    let spec = crate::contract::spec();
    let operation = &spec["paths"][route][method.to_ascii_lowercase()];
    operation["requestBody"]["content"]
        .as_object()
        .map(|content| content.keys().cloned().collect())
        .unwrap_or_default()
}

/// A local `$ref` of the spec, followed until a schema.
fn resolved(schema: &Value) -> &Value {
    let mut here = schema;
    for _ in 0..10 {
        match here["$ref"].as_str() {
            Some(reference) => {
                here = crate::contract::spec()
                    .pointer(reference.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("{reference} resolves"));
            }
            None => return here,
        }
    }
    here
}

/// The members of a request body's schema (of each of its `allOf` parts too) with a value
/// of another type than the one the schema gives each.
fn all_wrong(method: &str, route: &str) -> Value {
    let spec = crate::contract::spec();
    let schema = resolved(
        &spec["paths"][route][method.to_ascii_lowercase()]["requestBody"]["content"]
            ["application/json"]["schema"],
    );
    let mut members = serde_json::Map::new();
    let mut parts = vec![schema];
    parts.extend(
        schema["allOf"]
            .as_array()
            .into_iter()
            .flatten()
            .map(resolved),
    );
    for part in parts {
        for (name, property) in part["properties"].as_object().into_iter().flatten() {
            let property = resolved(property);
            let wrong = match property["type"].as_str() {
                Some("string") => json!(12345),
                Some("integer" | "number") => json!("x"),
                Some("boolean") => json!("yes"),
                Some("array") => json!("x"),
                Some("object") => json!([1]),
                _ => json!([[]]),
            };
            members.insert(name.clone(), wrong);
        }
    }
    Value::Object(members)
}

/// Every write route of the route table that takes a JSON body, sent a body of each wrong
/// type: each answer is a 4xx problem whose field errors name fields, in Chinese and English,
/// and none holds a word of serde or Rust.
#[actix_web::test]
async fn no_answer_to_a_mistyped_body_holds_internal_text() {
    let app = spawn_app_with(|c| c.auth.login_rate_limit = 10_000).await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let client = register_client(
        &app,
        &admin,
        "浙里办",
        &[
            "applications:write",
            "applications:read",
            "certificates:verify",
        ],
        None,
    )
    .await;
    let shared = fixtures(&app, &admin, &worker, &client).await;
    let mut routes = BTreeSet::new();
    let mut wrong = Vec::new();
    for endpoint in endpoints() {
        let method = endpoint.method.to_string();
        if !matches!(method.as_str(), "POST" | "PATCH" | "PUT") {
            continue;
        }
        if !body_types(&method, endpoint.path)
            .iter()
            .any(|t| t == "application/json")
        {
            continue;
        }
        let cells = MATRIX
            .iter()
            .find(|(m, r, _, _)| *m == method && *r == endpoint.path)
            .map(|row| row.3)
            .expect("a row of the matrix");
        // The admin where admitted, else the client (withdrawing an application).
        let token = if cells[0] == Cell::A {
            admin.access_token.clone()
        } else {
            client.token.clone()
        };
        let path = fill(endpoint.path, &shared.jinping, &shared);
        routes.insert(format!("{method} {}", endpoint.path));
        let bodies = [
            json!("x"),
            json!(12),
            json!([1, 2]),
            json!(null),
            json!(true),
            all_wrong(&method, endpoint.path),
        ];
        for body in bodies {
            for lang in [Lang::Zh, Lang::En] {
                let answer = send_versioned(&app, &token, &method, &path, &body, lang).await;
                if let Some(what) = refusal_at_fault(&answer, &body, lang) {
                    wrong.push(format!("{method} {path} {body} ({lang:?}): {what}"));
                }
            }
        }
    }
    assert!(routes.len() > 50, "only {} routes swept", routes.len());
    assert!(
        wrong.is_empty(),
        "{} answers are not plain field errors:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Sends a body with the resource's current ETag in `If-Match` (read from the resource when a
/// GET of the same path answers, else version 1), so a PATCH reaches its body.
async fn send_versioned(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: &Value,
    lang: Lang,
) -> Answer {
    let mut req = TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path)
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
        .insert_header((header::ACCEPT_LANGUAGE, lang.tag()))
        .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string()))
        .set_json(body);
    if method == "PATCH" {
        let read = app
            .send(
                TestRequest::get()
                    .uri(path)
                    .insert_header((header::AUTHORIZATION, format!("Bearer {token}"))),
            )
            .await;
        let etag = read.header("etag").unwrap_or("\"1\"").to_owned();
        req = req.insert_header((header::IF_MATCH, etag));
    }
    app.send(req).await
}

/// What is wrong with the answer to a mistyped body, if anything.
fn refusal_at_fault(answer: &Answer, body: &Value, lang: Lang) -> Option<String> {
    let text = answer.text();
    if let Some(word) = INTERNAL.iter().find(|w| text.contains(*w)) {
        return Some(format!("holds {word:?}: {text}"));
    }
    if answer.status.as_u16() != 422 {
        return Some(format!("{}: {text}", answer.status));
    }
    let problem = answer.json();
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    if errors.is_empty() {
        return Some(format!("no field errors: {text}"));
    }
    for error in &errors {
        let field = error["field"].as_str().unwrap_or_default();
        let message = error["message"].as_str().unwrap_or_default();
        // Only the body as a whole (not an object) is reported without a field name.
        if field.is_empty() && (body.is_object() || error["code"] != "invalid_type") {
            return Some(format!("an error names no field: {text}"));
        }
        if has_chinese(message) != (lang == Lang::Zh) {
            return Some(format!("a message in another language: {text}"));
        }
    }
    // An object of mistyped members: the errors name members sent.
    if let Some(members) = body.as_object() {
        let named_sent = errors.iter().any(|e| {
            let field = e["field"].as_str().unwrap_or_default();
            members.keys().any(|name| {
                field == name
                    || field.starts_with(&format!("{name}."))
                    || field.starts_with(&format!("{name}["))
            })
        });
        if !members.is_empty() && !named_sent {
            return Some(format!("no member sent is named: {text}"));
        }
    }
    None
}

#[actix_web::test]
async fn the_code_catalogue_labels_errors_fields_and_audit_entities_in_both_languages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app.get_as(&admin, "/api/v1/codes").await;
    assert_eq!(answer.status, 200);
    let body = answer.json();
    let set = |name: &str| -> Vec<Value> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["set"] == name)
            .unwrap_or_else(|| panic!("no set {name}"))["codes"]
            .as_array()
            .unwrap()
            .clone()
    };
    let label = |set: &[Value], code: &str| -> (String, String) {
        let entry = set
            .iter()
            .find(|e| e["code"] == code)
            .unwrap_or_else(|| panic!("no {code}"));
        (
            entry["label"].as_str().unwrap().to_owned(),
            entry["label_en"].as_str().unwrap().to_owned(),
        )
    };
    let problems = set("problem");
    assert_eq!(
        label(&problems, "not_found"),
        ("未找到".into(), "not found".into())
    );
    assert!(problems.iter().any(|e| e["code"] == "duplicate_id_number"));
    let field_errors = set("field_error");
    for code in [
        "invalid_type",
        "unknown_code",
        "required",
        "before_birth",
        "invalid_check_digit",
    ] {
        let (zh, en) = label(&field_errors, code);
        assert!(has_chinese(&zh) && !has_chinese(&en), "{code}: {zh} / {en}");
    }
    let fields = set("field");
    assert_eq!(
        label(&fields, "id_number"),
        ("身份证号".into(), "ID number".into())
    );
    let entities = set("audit_entity");
    assert_eq!(
        label(&entities, "resident"),
        ("居民".into(), "resident".into())
    );
    // Every audit event of this test names a labelled entity type.
    for event in app.audit_events().await {
        if let Some(entity) = event.entity_type {
            assert!(
                entities.iter().any(|e| e["code"] == entity.as_str()),
                "{entity}"
            );
        }
    }
}
