//! Health, readiness, metrics, request ids, reference data and the error conventions.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with};

#[actix_web::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    let alive = app.get("/healthz").await;
    assert_eq!(alive.status, 200);
    assert_eq!(alive.json()["status"], "alive");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let expected = if app.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(ready.json()["database"], expected);
}

#[actix_web::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let given = app
        .send(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("X-Request-Id", "abc-123")),
        )
        .await;
    assert_eq!(given.header("x-request-id"), Some("abc-123"));

    let generated = app.get("/healthz").await;
    let id = generated
        .header("x-request-id")
        .expect("an id is generated");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    // An id that could smuggle text into the logs is replaced.
    let odd = app
        .send(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("X-Request-Id", "a b\tc")),
        )
        .await;
    assert_ne!(odd.header("x-request-id"), Some("a b\tc"));
}

#[actix_web::test]
async fn unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    app.get("/api/v1/no-such-thing")
        .await
        .problem(404, "not_found");
    app.get("/").await.problem(404, "not_found");
}

#[actix_web::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let answer = app.request(Method::DELETE, "/api/v1/areas").await;
    answer.problem(405, "method_not_allowed");
    assert_eq!(answer.header("allow"), Some("GET, POST"));
    app.request(Method::POST, "/healthz")
        .await
        .problem(405, "method_not_allowed");
}

#[actix_web::test]
async fn areas_are_the_district_and_its_twelve_towns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let answer = app.get_as(&admin, "/api/v1/areas").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    let roots = body["items"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["code"], "330213");
    assert_eq!(roots[0]["name"], "奉化区");
    let towns = roots[0]["children"].as_array().unwrap();
    assert_eq!(towns.len(), 12);
    let find = |code: &str| towns.iter().find(|t| t["code"] == code).cloned();
    assert_eq!(find("330213001").unwrap()["name"], "锦屏街道");
    assert_eq!(find("330213100").unwrap()["name"], "溪口镇");
    assert_eq!(find("330213108").unwrap()["name"], "松岙镇");
    assert!(towns.iter().all(|t| t["level"] == "town"));
}

#[actix_web::test]
async fn codes_list_labelled_code_sets() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let body = app.get_as(&admin, "/api/v1/codes").await.json();
    let sets = body["items"].as_array().unwrap();
    let levels = sets
        .iter()
        .find(|s| s["set"] == "area_level")
        .expect("area_level");
    let town = levels["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "town")
        .unwrap();
    assert_eq!(town["label"], "镇（街道）");
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    app.get("/api/v1/nothing-here").await;
    let answer = app.get("/metrics").await;
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let text = answer.text();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
    assert!(text.contains(
        r#"http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 2"#
    ));
    assert!(text.contains("db_pool_max_connections 4"));
    assert!(text.contains(r#"db_pool_connections{state="idle"}"#));
}

#[actix_web::test]
async fn an_exhausted_pool_answers_503_not_a_hang() {
    let app = spawn_app_with(|c| {
        c.pool.max_size = 1;
        c.pool.checkout_timeout = Duration::from_millis(200);
    })
    .await;
    let admin = app.admin().await;
    let pool = app.state.pool.clone();
    let held = actix_web::web::block(move || pool.get().unwrap())
        .await
        .unwrap();
    let answer = app.get_as(&admin, "/api/v1/areas").await;
    let body = answer.problem(503, "service_unavailable");
    assert!(answer.header("retry-after").is_some());
    // The cause (r2d2's message) is logged, not sent.
    assert!(!body.to_string().contains("timed out"), "{body}");
    app.get("/readyz").await.problem(503, "service_unavailable");
    drop(held);
    assert_eq!(app.get_as(&admin, "/api/v1/areas").await.status, 200);
}

#[actix_web::test]
async fn openapi_document_is_served() {
    let app = spawn_app().await;
    let answer = app.get("/api/v1/openapi.yaml").await;
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .unwrap()
        .starts_with("application/yaml"));
    assert!(answer.text().starts_with("openapi: 3.1"));
}
