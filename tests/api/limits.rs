//! Resource limits (issue 15): the expensive routes spend an allowance per principal and answer
//! 429 past it. (The statement bound is in `transactions.rs`.)

use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::json;

use fenghua_registry::api::endpoints;
use fenghua_registry::config::RouteLimitConfig;
use fenghua_registry::domain::role::Role;

use crate::helpers::{spawn_app_with, Answer};
use crate::session::JINPING;

#[track_caller]
fn limited(answer: &Answer) -> u64 {
    answer.problem(429, "too_many_requests");
    let retry: u64 = answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    retry
}

#[actix_web::test]
async fn each_expensive_route_spends_its_callers_allowance_then_answers_429() {
    let app = spawn_app_with(|c| {
        c.auth.route_limits = RouteLimitConfig {
            search: 2,
            import: 1,
            report: 1,
            window: Duration::from_secs(60),
        }
    })
    .await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;

    // Search: lists and lookups share one allowance.
    assert_eq!(app.get_as(&admin, "/api/v1/residents").await.status, 200);
    let lookup = app
        .post_as(
            &admin,
            "/api/v1/residents/lookup",
            &json!({"id_number": crate::session::id_number("330283", "1980-01-02", 95)}),
        )
        .await;
    assert_eq!(lookup.status, 404, "{}", lookup.text());
    limited(&app.get_as(&admin, "/api/v1/residents").await);
    limited(
        &app.post_as(
            &admin,
            "/api/v1/residents/lookup",
            &json!({"id_number": "330283198001020955"}),
        )
        .await,
    );
    // Per principal: another account still searches.
    assert_eq!(app.get_as(&worker, "/api/v1/residents").await.status, 200);
    // Other routes are not limited.
    for _ in 0..5 {
        assert_eq!(app.get_as(&admin, "/api/v1/me").await.status, 200);
    }

    // Reports: the indicators, reports, reconciliation and audit export share another.
    assert_eq!(app.get_as(&admin, "/api/v1/indicators").await.status, 200);
    for path in [
        "/api/v1/indicators",
        "/api/v1/subsidies/reconciliation",
        "/api/v1/audit-events/verify",
        "/api/v1/audit-events/export",
    ] {
        limited(&app.get_as(&admin, path).await);
    }
    limited(&app.post_as(&admin, "/api/v1/reports", &json!({})).await);
    // The search allowance is its own.
    assert_eq!(app.get_as(&worker, "/api/v1/residents").await.status, 200);

    // Imports: refused before the body is read.
    let import = |body: &'static str| {
        TestRequest::post()
            .uri("/api/v1/imports/areas")
            .insert_header(("Content-Type", "text/csv"))
            .set_payload(body)
    };
    let first = app.send_as(&admin, import("code,name,town_code\n")).await;
    assert_ne!(first.status, 429, "{}", first.text());
    limited(&app.send_as(&admin, import("code,name,town_code\n")).await);
    limited(
        &app.send_as(
            &admin,
            TestRequest::post()
                .uri("/api/v1/imports/residents")
                .insert_header(("Content-Type", "text/csv"))
                .set_payload("id_number\n"),
        )
        .await,
    );
}

#[test]
fn every_expensive_route_declares_its_429() {
    let spec = crate::contract::spec();
    let mut expensive = 0;
    for e in endpoints() {
        if e.expensive.is_none() {
            continue;
        }
        expensive += 1;
        let operation = &spec["paths"][e.path][e.method.as_str().to_ascii_lowercase()];
        assert!(
            operation["responses"].get("429").is_some(),
            "{} {} is rate limited but openapi.yaml does not declare its 429",
            e.method,
            e.path
        );
    }
    assert_eq!(expensive, 11, "search 2, imports 2, reports 7");
}
