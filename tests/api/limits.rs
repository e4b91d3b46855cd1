//! Resource limits (issue 15): the expensive routes spend an allowance per principal and answer
//! 429 past it; every paged list caps `limit`; every body is bounded. (The statement bound is
//! in `transactions.rs`; slow clients and the metrics address need a real socket:
//! `tests/cli.rs`.)

use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::json;

use fenghua_registry::api::endpoints;
use fenghua_registry::auth::rate_limit::RouteLimitConfig;
use fenghua_registry::domain::role::Role;

use crate::helpers::{spawn_app, spawn_app_with, Answer};
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
    assert_eq!(
        expensive, 12,
        "search 2, imports 2, reports and work queues 8"
    );
}

#[actix_web::test]
async fn every_paged_list_caps_its_limit() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client =
        crate::integration::register_client(&app, &admin, "浙里办", &["applications:read"], None)
            .await;
    let resident = "00000000-0000-4000-8000-000000000000";
    let staff_lists = [
        "/api/v1/users".to_owned(),
        "/api/v1/audit-events".to_owned(),
        "/api/v1/residents".to_owned(),
        format!("/api/v1/residents/{resident}/history"),
        "/api/v1/indicators/culture_sports_coverage/gaps".to_owned(),
        "/api/v1/subsidies/reconciliation".to_owned(),
        "/api/v1/reports".to_owned(),
        "/api/v1/clients".to_owned(),
        "/api/v1/webhook-deliveries".to_owned(),
        "/api/v1/applications".to_owned(),
        "/api/v1/work-queues/certificates".to_owned(),
    ];
    let field = |answer: &Answer| {
        answer.problem(422, "validation_failed")["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for list in &staff_lists {
        for bad in ["0", "201"] {
            let answer = app.get_as(&admin, &format!("{list}?limit={bad}")).await;
            assert_eq!(field(&answer), "limit", "{list}?limit={bad}");
        }
        let answer = app.get_as(&admin, &format!("{list}?limit=200")).await;
        assert_ne!(answer.status, 422, "{list}?limit=200: {}", answer.text());
    }
    let answer = app
        .client_get(&client.token, "/api/v1/application-events?limit=201")
        .await;
    assert_eq!(field(&answer), "limit");

    // Every list with `limit` in openapi.yaml is above.
    let spec = crate::contract::spec();
    let mut documented = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let pages = get["parameters"].as_array().into_iter().flatten().any(|p| {
            let p = match p["$ref"].as_str() {
                Some(r) => &spec["components"]["parameters"][r.rsplit('/').next().unwrap()],
                None => p,
            };
            p["name"] == "limit"
        });
        if pages {
            documented.push(path.clone());
        }
    }
    let tested: Vec<String> = staff_lists
        .iter()
        .map(|l| {
            l.replace(resident, "{id}")
                .replace("/culture_sports_coverage/", "/{code}/")
                .replace("/work-queues/certificates", "/work-queues/{queue}")
        })
        .chain(["/api/v1/application-events".to_owned()])
        .collect();
    for path in &documented {
        assert!(tested.contains(path), "{path} pages but is not tested here");
    }
}

#[actix_web::test]
async fn a_client_token_request_is_bounded_like_every_body() {
    let app = spawn_app_with(|c| c.body_limit_bytes = 64 * 1024).await;
    let form = format!(
        "grant_type=client_credentials&client_id=x&client_secret={}",
        "a".repeat(300 * 1024)
    );
    // Before: actix's own extractor answered a plain-text 413, not a problem.
    app.post_raw(
        "/api/v1/auth/token",
        Some("application/x-www-form-urlencoded"),
        form.into_bytes(),
    )
    .await
    .problem(413, "payload_too_large");
}
