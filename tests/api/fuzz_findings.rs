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
