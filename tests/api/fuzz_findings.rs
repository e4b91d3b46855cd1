//! What the contract fuzzing (`.ci/schemathesis`) found wrong in the server, one test each.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::helpers::{id_of, patch_request, resident_path, spawn_app};

/// `type: integer` in JSON Schema admits `-1407.0` (a number with a zero fraction); the server
/// refused it as a float (`invalid_type`, "expected i32"). A real fraction stays refused.
#[actix_web::test]
async fn whole_numbers_written_with_a_fraction_are_accepted_as_integers() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let put = |body| {
        TestRequest::put()
            .uri("/api/v1/gdp-growth/2024")
            .set_json(body)
    };
    let answer = app.send_as(&admin, put(json!({"growth_bp": 650.0}))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["growth_bp"], 650);
    let answer = app.send_as(&admin, put(json!({"growth_bp": 6.5}))).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "growth_bp");
    // A field twice is still refused, not read as its last value.
    let answer = app
        .send_as(
            &admin,
            TestRequest::put()
                .uri("/api/v1/gdp-growth/2024")
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"growth_bp": 650, "growth_bp": 1.0}"#),
        )
        .await;
    answer.problem(422, "validation_failed");
}

/// `action` of the audit trail's list and export was any string in the spec, so schemathesis'
/// valid values were refused (`unknown_code`): the spec now lists the code set, and this keeps
/// the list equal to the server's.
#[actix_web::test]
async fn the_spec_lists_every_audit_action_the_server_knows() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app.get_as(&admin, "/api/v1/codes").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    let set = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["set"] == "audit_action")
        .expect("the code set audit_action");
    let served: Vec<&str> = set["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    let spec = crate::contract::spec();
    let listed: Vec<&str> = spec["components"]["schemas"]["AuditAction"]["enum"]
        .as_array()
        .expect("AuditAction has an enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(listed, served);
    for path in ["/api/v1/audit-events", "/api/v1/audit-events/export"] {
        let answer = app
            .get_as(&admin, &format!("{path}?action={}", served[0]))
            .await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    }
}

/// A PATCH of a facility with a body that is not a facility's fields and a stale `If-Match`
/// answered 412, so the malformed body went unnoticed (schemathesis' stateful phase): the body
/// is checked first, as on the routes with a typed body.
#[actix_web::test]
async fn a_malformed_facility_patch_is_refused_whatever_the_version() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app
        .post_as(
            &admin,
            "/api/v1/facilities",
            &json!({
                "kind": "care_institution",
                "name": "锦屏街道托养中心",
                "town_code": crate::session::JINPING,
                "opened_on": "2020-01-01",
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let path = format!("/api/v1/facilities/{}", id_of(&answer.json()));
    let patch = |version: &str, body| patch_request(&path, Some(version), &body);
    let answer = app
        .send_as(&admin, patch("\"7\"", json!({"bogus": []})))
        .await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "bogus");
    // So is a change that reads but breaks a rule (a blank name, seed 42 again).
    let answer = app
        .send_as(&admin, patch("\"7\"", json!({"name": ""})))
        .await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "name");
    // A well-formed change at a stale version is still 412.
    let answer = app
        .send_as(&admin, patch("\"7\"", json!({"standardized": true})))
        .await;
    answer.problem(412, "precondition_failed");
}

/// A merge patch that clears a member the record does not have (`{"": null}`, seed 42 on
/// PostgreSQL, at a culture-service record) was answered 200 and changed nothing: a null was
/// taken as "remove", and there was nothing to remove. It is refused as an unknown member, as
/// the same name with a value is; a null for a member the record has still clears it.
#[actix_web::test]
async fn a_patch_that_clears_an_unknown_member_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = crate::helpers::register(
        &app,
        &admin,
        "1980-05-01",
        31,
        crate::session::JINPING,
        json!({}),
    )
    .await;
    let answer = app
        .post_as(
            &admin,
            &format!("/api/v1/residents/{resident}/culture-services"),
            &json!({"kind": "other", "service_on": "2024-03-01", "activity": "书法"}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let path = format!(
        "/api/v1/residents/{resident}/culture-services/{}",
        id_of(&answer.json())
    );
    for unknown in ["", "bogus"] {
        let answer = app
            .send_as(
                &admin,
                patch_request(&path, Some("\"1\""), &json!({ unknown: null })),
            )
            .await;
        let problem = answer.problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], unknown);
        assert_eq!(problem["errors"][0]["code"], "unknown_field");
    }
    let answer = app
        .send_as(
            &admin,
            patch_request(&path, Some("\"1\""), &json!({"activity": null})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["activity"], serde_json::Value::Null);
}

/// The same for a record of the file: a PATCH whose body does not read as the record's fields
/// answered 412 when its `If-Match` was stale (schemathesis' stateful phase, seed 42, on every
/// section), so the client was told to read again a record it could never write that way.
#[actix_web::test]
async fn a_malformed_record_patch_is_refused_whatever_the_version() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = crate::helpers::register(
        &app,
        &admin,
        "1980-05-01",
        31,
        crate::session::JINPING,
        json!({}),
    )
    .await;
    let answer = app
        .post_as(
            &admin,
            &format!("/api/v1/residents/{resident}/rehab-needs"),
            &json!({"type": "other", "assessed_on": "2024-03-01"}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let path = format!(
        "/api/v1/residents/{resident}/rehab-needs/{}",
        answer.json()["id"].as_str().unwrap()
    );
    let patch = |body| patch_request(&path, Some("\"7\""), &body);
    let answer = app.send_as(&admin, patch(json!({"assessed_on": 5}))).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "assessed_on");
    let answer = app.send_as(&admin, patch(json!({"bogus": true}))).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "bogus");
    // So is one that reads but breaks a rule of the record (a blank text, seed 42 again).
    let answer = app
        .send_as(&admin, patch(json!({"assessed_on": "1970-01-01"})))
        .await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "assessed_on");
    // A well-formed change at a stale version is still 412.
    let answer = app
        .send_as(&admin, patch(json!({"assessed_on": "2024-03-02"})))
        .await;
    answer.problem(412, "precondition_failed");
}

/// `PUT /clients/{id}/webhook` with `{}` answered 200 and removed the webhook, although the
/// spec requires `url` (`null` removes it): an empty body now names the missing field and
/// changes nothing.
#[actix_web::test]
async fn a_webhook_body_without_its_url_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app
        .post_as(
            &admin,
            "/api/v1/clients",
            &json!({
                "name": "浙里办",
                "scopes": ["applications:read"],
                "webhook_url": "https://zlb.example.gov.cn/hook",
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let client = answer.json()["id"].as_str().unwrap().to_owned();
    let put = |body| {
        TestRequest::put()
            .uri(&format!("/api/v1/clients/{client}/webhook"))
            .set_json(body)
    };
    let answer = app.send_as(&admin, put(json!({}))).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "url");
    assert_eq!(problem["errors"][0]["code"], "required");
    let stored = app
        .get_as(&admin, &format!("/api/v1/clients/{client}"))
        .await;
    assert_eq!(
        stored.json()["webhook_url"],
        "https://zlb.example.gov.cn/hook"
    );
    // `null` still removes it.
    let answer = app.send_as(&admin, put(json!({"url": null}))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["webhook_url"], serde_json::Value::Null);
}

/// Free text that the schema allowed was refused as holding an invisible character (U+001A in
/// a withdrawal's reason, U+0015 in a home-modification item) and blank names passed the
/// schema: the spec's free-text schemas (`Text50` … `OptionalText500`) now spell the server's one
/// rule for free text out, and this keeps them equal to it, character by character: the refused
/// characters are `domain::text::is_forbidden`, the ones trimmed from the ends are those
/// `str::trim` removes, and the length is counted between them.
#[test]
fn the_free_text_schemas_are_the_servers_rule() {
    use fenghua_registry::domain::text::is_forbidden;

    fn escape(c: u32) -> String {
        match c {
            0..=0xFF => format!("\\x{c:02x}"),
            0x100..=0xFFFF => format!("\\u{c:04x}"),
            _ => format!("\\U{c:08x}"),
        }
    }
    /// The characters as a class body of ranges, ascending.
    fn class(chars: impl Iterator<Item = char>) -> String {
        let codes: Vec<u32> = chars.map(u32::from).collect();
        let mut out = String::new();
        let mut i = 0;
        while i < codes.len() {
            let mut j = i;
            while j + 1 < codes.len() && codes[j + 1] == codes[j] + 1 {
                j += 1;
            }
            out.push_str(&escape(codes[i]));
            if j > i {
                out.push('-');
                out.push_str(&escape(codes[j]));
            }
            i = j + 1;
        }
        out
    }
    let all = || (0..=0x10FFFF_u32).filter_map(char::from_u32);
    let refused = class(all().filter(|c| is_forbidden(*c)));
    let trimmed = class(all().filter(|c| c.is_whitespace() && !is_forbidden(*c)));
    let (f, w) = (refused.as_str(), trimmed.as_str());

    let schemas = &crate::contract::spec()["components"]["schemas"];
    let mut seen = 0;
    for (kind, required) in [("Text", true), ("OptionalText", false)] {
        for n in [50, 100, 200, 500] {
            let Some(pattern) = schemas[format!("{kind}{n}")]["pattern"].as_str() else {
                continue;
            };
            let body = format!("[^{f}{w}](?:[^{f}]{{0,{}}}[^{f}{w}])?", n - 2);
            let expected = if required {
                format!("^[{w}]*{body}[{w}]*$")
            } else {
                format!("^[{w}]*(?:{body})?[{w}]*$")
            };
            assert_eq!(pattern, expected, "{kind}{n} is not the server's rule");
            seen += 1;
        }
    }
    assert!(seen >= 4, "the spec has no free-text schemas");

    // The pattern means what the server does, on examples.
    let text = regex_lite::Regex::new(schemas["Text50"]["pattern"].as_str().unwrap()).unwrap();
    for (value, accepted) in [
        ("张三", true),
        ("\u{3000}张三 ", true),
        ("   ", false),
        ("张\u{202E}三", false),
        ("\t张三", false),
        (&"张".repeat(50), true),
        (&"张".repeat(51), false),
    ] {
        let by_server = fenghua_registry::domain::text::clean(value)
            .is_ok_and(|t| (1..=50).contains(&t.chars().count()));
        assert_eq!(by_server, accepted, "{value:?}: the server");
        assert_eq!(text.is_match(value), accepted, "{value:?}: the pattern");
    }
}

/// Found while writing the free-text schemas down: four fields escaped the one rule for free
/// text. A client's name and an application's `external_ref` refused only control characters
/// (a U+202E passed), an application's decision reason nothing at all, and a resident's address
/// and guardian's name were trimmed before the check, so a tab or a line feed at the end was cut
/// off instead of refused. Each is now refused by the rule, naming its field, and stores nothing.
#[actix_web::test]
async fn every_free_text_field_keeps_the_one_rule() {
    use crate::integration::{application, register_client, submit_ok};

    let app = spawn_app().await;
    let admin = app.admin().await;
    let clients = app.get_as(&admin, "/api/v1/clients").await.json();
    let answer = app
        .post_as(
            &admin,
            "/api/v1/clients",
            &json!({"name": "浙里\u{202E}办", "scopes": ["applications:read"]}),
        )
        .await;
    assert_invisible(&answer, "name");
    assert_eq!(app.get_as(&admin, "/api/v1/clients").await.json(), clients);

    let client = register_client(
        &app,
        &admin,
        "浙里办",
        &["applications:write", "applications:read"],
        None,
    )
    .await;
    let number = crate::session::id_number("330283", "1975-04-02", 41);
    let mut body = application("rehab_service", &number, "王五", "ZLB-1\u{200B}");
    let answer = app
        .client_post(&client.token, "/api/v1/applications", "k-1", &body)
        .await;
    assert_invisible(&answer, "external_ref");
    body["external_ref"] = json!("ZLB-1");
    let submitted = submit_ok(&app, &client, &body).await;
    let decision = format!(
        "/api/v1/applications/{}/decision",
        submitted["id"].as_str().unwrap()
    );
    let answer = app
        .post_as(
            &admin,
            &decision,
            &json!({"decision": "reject", "reason": "材料不全\u{202E}"}),
        )
        .await;
    assert_invisible(&answer, "reason");
    let stored = app
        .get_as(
            &admin,
            &format!("/api/v1/applications/{}", submitted["id"].as_str().unwrap()),
        )
        .await
        .json();
    assert_eq!(stored["status"], submitted["status"]);

    for (field, value) in [("address", "锦屏街道1号\t"), ("guardian_name", "\n李四")] {
        let answer = app
            .create_resident(
                &admin,
                &json!({
                    "id_number": crate::session::id_number("330283", "1980-01-02", 43),
                    "name": "赵六",
                    "town_code": crate::session::JINPING,
                    field: value,
                }),
            )
            .await;
        assert_invisible(&answer, field);
    }
    let residents = app.get_as(&admin, "/api/v1/residents").await.json();
    assert_eq!(residents["items"].as_array().map(Vec::len), Some(0));
}

#[track_caller]
fn assert_invisible(answer: &crate::helpers::Answer, field: &str) {
    let problem = answer.problem(422, "validation_failed");
    let errors = problem["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["code"] == "invisible_character"),
        "{field}: {problem}"
    );
}

/// An `If-Match` that is not one of our ETags (`Kf%7KD`, or empty) was answered 412 before
/// anything else was looked at, so a body with unknown members and an update of a grant that
/// does not exist were both told only to read the resource again (schemathesis, seed 42, after
/// the void routes came). Such a value now matches no version: the resource and the body are
/// checked first, and a valid change on an existing resource still gets 412.
#[actix_web::test]
async fn an_if_match_that_names_no_version_is_weighed_after_the_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = crate::helpers::register(
        &app,
        &admin,
        "1981-02-03",
        33,
        crate::session::JINPING,
        json!({}),
    )
    .await;
    let answer = app
        .post_as(
            &admin,
            &format!("/api/v1/residents/{resident}/culture-services"),
            &json!({"kind": "sports", "service_on": "2024-03-01"}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    let record = format!(
        "/api/v1/residents/{resident}/culture-services/{}",
        answer.json()["id"].as_str().unwrap()
    );
    let with =
        |req: TestRequest, if_match: &str| req.insert_header(("If-Match", if_match.to_owned()));
    let answer = app
        .send_as(
            &admin,
            with(TestRequest::patch().uri(&record), "Kf%7KD").set_json(json!({"": []})),
        )
        .await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "unknown_field");
    let answer = app
        .send_as(
            &admin,
            with(
                TestRequest::post().uri(&format!(
                    "/api/v1/residents/{resident}/subsidies/e3e70682-c209-1cac-a29f-6fbed82c07cd/void"
                )),
                "",
            )
            .set_json(json!({"reason": "录入错误"})),
        )
        .await;
    answer.problem(404, "not_found");
    let answer = app
        .send_as(
            &admin,
            with(TestRequest::patch().uri(&record), "Kf%7KD")
                .set_json(json!({"service_on": "2024-03-02"})),
        )
        .await;
    answer.problem(412, "precondition_failed");
    let answer = app
        .send_as(
            &admin,
            TestRequest::patch()
                .uri(&record)
                .set_json(json!({"service_on": "2024-03-02"})),
        )
        .await;
    answer.problem(428, "precondition_required");
}

/// Town codes that the schema allowed (any string) were refused as `unknown_town`: the spec's
/// `TownCode` lists the district's towns and streets, and this keeps the list equal to the
/// towns the service knows (`GET /api/v1/areas`, level `town`).
#[actix_web::test]
async fn the_spec_lists_the_towns_of_the_district() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let areas = app.get_as(&admin, "/api/v1/areas").await.json();
    let mut towns: Vec<String> = Vec::new();
    let mut stack: Vec<&serde_json::Value> = areas["items"].as_array().unwrap().iter().collect();
    while let Some(area) = stack.pop() {
        if area["level"] == "town" {
            towns.push(area["code"].as_str().unwrap().to_owned());
        }
        stack.extend(area["children"].as_array().into_iter().flatten());
    }
    towns.sort();
    let mut listed: Vec<String> = crate::contract::spec()["components"]["schemas"]["TownCode"]
        ["enum"]
        .as_array()
        .expect("TownCode lists the towns")
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, towns);
}

/// A decision's `certificate` with a grade of 5 was accepted on an application whose kind issues
/// no certificate (the member was ignored), although the spec allows grades 1 to 4 only. It is
/// refused now whatever the kind, and the application stays as it was.
#[actix_web::test]
async fn a_decisions_certificate_grade_is_checked_whatever_the_kind() {
    use crate::integration::{application, decide, register_client, submit_ok};

    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", &["applications:write"], None).await;
    let person = crate::session::id_number("330283", "1980-01-02", 31);
    let submitted = submit_ok(
        &app,
        &client,
        &application("rehab_service", &person, "赵六", "A-1"),
    )
    .await;
    let application_id = id_of(&submitted);
    let accept = |grade| json!({"decision": "accept", "certificate": {"category": "mental", "grade": grade}});

    let answer = decide(&app, &admin, &application_id, accept(5)).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "certificate.grade");
    assert_eq!(problem["errors"][0]["code"], "out_of_range");
    let read = app
        .get_as(&admin, &format!("/api/v1/applications/{application_id}"))
        .await;
    assert_eq!(read.json()["status"], "submitted", "nothing changed");

    let answer = decide(&app, &admin, &application_id, accept(4)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status"], "accepted");
}

/// A resident PATCH with a stale `If-Match` answered 412 before its body was checked, so a
/// guardian's name with a control character (U+0084, seed 42) was "accepted" as far as the
/// fuzzer could tell. The body's faults come first now, as for records; a valid change on a
/// stale version is still 412.
#[actix_web::test]
async fn a_resident_patch_that_breaks_a_rule_is_refused_whatever_the_version() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = crate::helpers::register(
        &app,
        &admin,
        "1980-05-01",
        31,
        crate::session::JINPING,
        json!({}),
    )
    .await;
    let path = resident_path(&resident);
    let patch = |body| patch_request(&path, Some("\"7\""), &body);
    let answer = app
        .send_as(&admin, patch(json!({"guardian_name": "\u{0084}"})))
        .await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "guardian_name");
    let answer = app.send_as(&admin, patch(json!({"name": " "}))).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "name");
    let answer = app.send_as(&admin, patch(json!({"name": "李四"}))).await;
    answer.problem(412, "precondition_failed");
    let read = app.get_as(&admin, &path).await;
    assert_eq!(read.json()["version"], 1, "nothing changed");
}

/// A staff submission with an `Idempotency-Key` that is not one (an inner space, seed 42) was
/// accepted: the server only read the header for integration clients. A key a member of staff
/// sends is now checked as a client's is, and the refused submission stores nothing.
#[actix_web::test]
async fn a_staff_submissions_idempotency_key_is_checked() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let person = crate::session::id_number("330283", "1980-01-02", 31);
    let body = crate::integration::application("rehab_service", &person, "赵六", "A-1");
    let submit = |key: &'static str| {
        TestRequest::post()
            .uri("/api/v1/applications")
            .insert_header(("Idempotency-Key", key))
            .set_json(body.clone())
    };
    let answer = app.send_as(&admin, submit("a b")).await;
    answer.problem(400, "invalid_idempotency_key");
    let listed = app.get_as(&admin, "/api/v1/applications").await;
    assert_eq!(
        listed.json()["items"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );

    let answer = app.send_as(&admin, submit("key-1")).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
}
