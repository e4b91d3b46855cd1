//! What the contract fuzzing (`.ci/schemathesis`) found wrong in the server, one test each.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::helpers::spawn_app;

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
    let path = format!(
        "/api/v1/facilities/{}",
        answer.json()["id"].as_str().unwrap()
    );
    let patch = |version: &str, body| {
        TestRequest::patch()
            .uri(&path)
            .insert_header(("If-Match", version.to_owned()))
            .set_json(body)
    };
    let answer = app
        .send_as(&admin, patch("\"7\"", json!({"bogus": []})))
        .await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "bogus");
    // A well-formed change at a stale version is still 412.
    let answer = app
        .send_as(&admin, patch("\"7\"", json!({"standardized": true})))
        .await;
    answer.problem(412, "precondition_failed");
}

/// The same for a record of the file: a PATCH whose body does not read as the record's fields
/// answered 412 when its `If-Match` was stale (schemathesis' stateful phase, seed 42, on every
/// section), so the client was told to read again a record it could never write that way.
#[actix_web::test]
async fn a_malformed_record_patch_is_refused_whatever_the_version() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = crate::sections::register(
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
    let patch = |body| {
        TestRequest::patch()
            .uri(&path)
            .insert_header(("If-Match", "\"7\""))
            .set_json(body)
    };
    let answer = app.send_as(&admin, patch(json!({"assessed_on": 5}))).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "assessed_on");
    let answer = app.send_as(&admin, patch(json!({"bogus": true}))).await;
    let problem = answer.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "bogus");
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
