//! Cross-origin calls from the caseworkers' browser client (issue 14): only configured origins
//! get CORS headers; a preflight needs no token; scripts may read the headers the API's
//! workflows need (`ETag` for `If-Match`, `Location`, `X-Request-Id`, `Retry-After`,
//! `Content-Disposition`).

use actix_web::http::header;
use actix_web::test::TestRequest;

use crate::helpers::{spawn_app, spawn_app_with, Answer};
use crate::session::id_number;

const CLIENT: &str = "https://registry.example.gov.cn";
const OTHER: &str = "https://evil.example.com";

fn preflight(origin: &str, method: &str, headers: &str) -> TestRequest {
    TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/api/v1/residents")
        .insert_header((header::ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, method))
        .insert_header((header::ACCESS_CONTROL_REQUEST_HEADERS, headers))
}

fn listed(answer: &Answer, name: &str) -> Vec<String> {
    answer
        .header(name)
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

#[actix_web::test]
async fn a_configured_origin_passes_preflight_and_reads_the_headers_it_needs() {
    let app = spawn_app_with(|c| c.auth.cors_allowed_origins = vec![CLIENT.to_owned()]).await;
    let admin = app.admin().await;

    // No token on a preflight: it is answered before the access check.
    let answer = app
        .send(preflight(
            CLIENT,
            "POST",
            "authorization,content-type,if-match,idempotency-key",
        ))
        .await;
    assert!(
        answer.status.is_success(),
        "preflight answered {}",
        answer.status
    );
    assert_eq!(answer.header("access-control-allow-origin"), Some(CLIENT));
    let allowed = listed(&answer, "access-control-allow-headers");
    for needed in [
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
    ] {
        assert!(
            allowed.contains(&needed.to_owned()),
            "{needed} not in {allowed:?}"
        );
    }
    let methods = listed(&answer, "access-control-allow-methods");
    for needed in ["get", "post", "put", "patch", "delete"] {
        assert!(
            methods.contains(&needed.to_owned()),
            "{needed} not in {methods:?}"
        );
    }

    // The actual call: answered with the origin allowed and the headers exposed.
    let created = app
        .send_as(
            &admin,
            TestRequest::post()
                .uri("/api/v1/residents")
                .insert_header((header::ORIGIN, CLIENT))
                .set_json(serde_json::json!({
                    "id_number": id_number("330213", "1980-01-02", 7),
                    "name": "跨域",
                    "town_code": "330213001",
                })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("access-control-allow-origin"), Some(CLIENT));
    let exposed = listed(&created, "access-control-expose-headers");
    for needed in [
        "etag",
        "location",
        "x-request-id",
        "retry-after",
        "content-disposition",
    ] {
        assert!(
            exposed.contains(&needed.to_owned()),
            "{needed} not in {exposed:?}"
        );
    }
    assert!(created.header("etag").is_some() && created.header("location").is_some());
}

#[actix_web::test]
async fn another_origin_gets_no_cors_headers_and_other_clients_are_unaffected() {
    let app = spawn_app_with(|c| c.auth.cors_allowed_origins = vec![CLIENT.to_owned()]).await;
    let admin = app.admin().await;

    let answer = app.send(preflight(OTHER, "GET", "authorization")).await;
    answer.problem(403, "forbidden");
    assert!(answer.header("access-control-allow-origin").is_none());
    assert!(answer.header("access-control-allow-headers").is_none());

    // A call with another origin is served as without one (a browser withholds it from the
    // page); one without an Origin (curl, the integration) is served as always.
    let from_other = app
        .send_as(
            &admin,
            TestRequest::get()
                .uri("/api/v1/residents")
                .insert_header((header::ORIGIN, OTHER)),
        )
        .await;
    assert_eq!(from_other.status, 200, "{}", from_other.text());
    assert!(from_other.header("access-control-allow-origin").is_none());
    let plain = app.get_as(&admin, "/api/v1/residents").await;
    assert_eq!(plain.status, 200);
    assert!(plain.header("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn no_origin_is_allowed_by_default() {
    let app = spawn_app().await;
    let answer = app.send(preflight(CLIENT, "GET", "authorization")).await;
    assert!(answer.header("access-control-allow-origin").is_none());
    assert!(answer.header("access-control-allow-methods").is_none());
}
