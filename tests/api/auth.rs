//! Sign-in, tokens, sessions, lockout and the login rate limit.

use std::time::Duration;

use actix_web::http::header;
use actix_web::test::TestRequest;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use fenghua_registry::db;
use fenghua_registry::domain::role::Role;

use crate::helpers::{
    id_of, patch_current, register_resident, resident_body, resident_path, spawn_app,
    spawn_app_with, Answer, TestApp,
};
use crate::session::{id_number, JINPING, PASSWORD, XIKOU};

const SECRET: &[u8] = b"test-signing-secret-0123456789-abcdefghij";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

async fn me_with(app: &TestApp, token: &str) -> Answer {
    app.send(
        TestRequest::get()
            .uri("/api/v1/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}"))),
    )
    .await
}

fn assert_unauthorized(answer: &Answer) {
    answer.problem(401, answer.json()["code"].as_str().unwrap_or("?"));
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, algorithm: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Answer {
    app.post_json(
        "/api/v1/auth/refresh",
        &json!({ "refresh_token": refresh_token }),
    )
    .await
}

#[actix_web::test]
async fn login_gives_a_bearer_token_pair_that_works() {
    let app = spawn_app().await;
    let user_id = app.create_user("zhang.san", Role::Auditor, &[]).await;
    let answer = app.login("Zhang.San", PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let body = answer.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let claims = claims_of(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user_id.as_str());
    for claim in ["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "sid"] {
        assert!(!claims[claim].is_null(), "claim {claim} missing: {claims}");
    }
    let me = me_with(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "zhang.san");
    assert_eq!(me.json()["role"], "auditor");
    assert!(me.header("etag").is_some());

    let events = app.audit_events().await;
    let login = events
        .iter()
        .find(|e| e.action == "login")
        .expect("login audited");
    assert_eq!(login.actor_user_id.as_deref(), Some(user_id.as_str()));
    assert_eq!(login.outcome, "success");
}

#[actix_web::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("li.si", Role::Caseworker, &["330213001"])
        .await;
    let unknown = app.login("nobody", PASSWORD).await;
    let wrong = app.login("li.si", "not the right password").await;
    unknown.problem(401, "invalid_credentials");
    wrong.problem(401, "invalid_credentials");
    assert_eq!(unknown.json(), wrong.json());
    assert_eq!(unknown.header("www-authenticate"), Some("Bearer"));

    let failures: Vec<_> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "login_failed")
        .collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].actor_username.as_deref(), Some("nobody"));
    assert!(failures[0].actor_user_id.is_none());
    assert_eq!(failures[1].actor_username.as_deref(), Some("li.si"));
    assert!(failures.iter().all(|e| e.outcome == "failure"));
    // The password tried is never recorded.
    assert!(!failures
        .iter()
        .any(|e| format!("{e:?}").contains("not the right password")));
}

#[actix_web::test]
async fn five_failures_lock_the_account_for_the_lockout_period() {
    let app = spawn_app_with(|c| c.auth.login_lockout = Duration::from_secs(2)).await;
    app.create_user("wang.wu", Role::Auditor, &[]).await;
    for _ in 0..5 {
        app.login("wang.wu", "wrong password here")
            .await
            .problem(401, "invalid_credentials");
    }
    // Locked: even the right password is refused, with the same answer as ever.
    let locked = app.login("wang.wu", PASSWORD).await;
    locked.problem(401, "invalid_credentials");
    assert_eq!(locked.json(), app.login("nobody", PASSWORD).await.json());

    let events = app.audit_events().await;
    let lock = events
        .iter()
        .find(|e| e.action == "account_locked")
        .expect("lock audited");
    assert_eq!(lock.actor_username.as_deref(), Some("wang.wu"));
    let reasons: Vec<String> = events
        .iter()
        .filter(|e| e.action == "login_failed")
        .filter_map(|e| e.changes.clone())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("locked")), "{reasons:?}");

    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.login("wang.wu", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = spawn_app().await;
    app.create_user("zhao.liu", Role::Auditor, &[]).await;
    for _ in 0..4 {
        app.login("zhao.liu", "wrong password here").await;
    }
    assert_eq!(app.login("zhao.liu", PASSWORD).await.status, 200);
    for _ in 0..4 {
        app.login("zhao.liu", "wrong password here").await;
    }
    assert_eq!(
        app.login("zhao.liu", PASSWORD).await.status,
        200,
        "not locked after 4+4"
    );
}

async fn login_from(app: &TestApp, address: &str, username: &str) -> Answer {
    app.send(
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .peer_addr(address.parse().unwrap())
            .set_json(json!({ "username": username, "password": PASSWORD })),
    )
    .await
}

/// A wrong-password login from `peer` with these `X-Forwarded-For` fields; returns the client
/// address its `login_failed` event records.
async fn failed_login_address(app: &TestApp, peer: &str, forwarded_for: &[&str]) -> String {
    let mut req = TestRequest::post()
        .uri("/api/v1/auth/login")
        .peer_addr(peer.parse().unwrap())
        .set_json(json!({ "username": "chen.qi", "password": "not the password at all" }));
    for value in forwarded_for {
        req = req.append_header(("x-forwarded-for", *value));
    }
    app.send(req).await.problem(401, "invalid_credentials");
    let events = app.audit_events().await;
    let event = events
        .iter()
        .rev()
        .find(|e| e.action == "login_failed")
        .expect("the failed login is audited");
    event.client_address.clone().unwrap()
}

/// Issue 15: the client address is the peer, or behind a proxy of `TRUSTED_PROXIES` the
/// rightmost `X-Forwarded-For` hop that is no trusted proxy; the hops a client writes itself
/// (the first ones) are never taken.
#[actix_web::test]
async fn the_client_address_is_the_hop_a_trusted_proxy_appended() {
    let app = spawn_app_with(|c| {
        c.auth.trusted_proxies =
            fenghua_registry::http::client_address::TrustedProxies::parse("10.0.0.0/24, fd00::1")
                .unwrap();
        c.auth.login_max_failures = 100;
    })
    .await;
    app.create_user("chen.qi", Role::Auditor, &[]).await;

    // A spoofed first hop, the real one appended by the proxy: the appended one.
    let spoofed = ["6.6.6.6, 203.0.113.7"];
    assert_eq!(
        failed_login_address(&app, "10.0.0.1:4000", &spoofed).await,
        "203.0.113.7"
    );
    // Two proxies, and the header split over two fields.
    assert_eq!(
        failed_login_address(
            &app,
            "[fd00::1]:4000",
            &["6.6.6.6", "203.0.113.8, 10.0.0.2"]
        )
        .await,
        "203.0.113.8"
    );
    // A peer that is no trusted proxy: its header is ignored.
    assert_eq!(
        failed_login_address(&app, "198.51.100.9:4000", &spoofed).await,
        "198.51.100.9"
    );
    // A trusted proxy that sent no header.
    assert_eq!(
        failed_login_address(&app, "10.0.0.1:4000", &[]).await,
        "10.0.0.1"
    );
}

/// The login limit counts the address a trusted proxy appended: a client that writes another
/// first hop on every attempt is still one address.
#[actix_web::test]
async fn a_spoofed_first_hop_gets_no_new_login_allowance() {
    let app = spawn_app_with(|c| {
        c.auth.trusted_proxies =
            fenghua_registry::http::client_address::TrustedProxies::parse("10.0.0.1").unwrap();
        c.auth.login_rate_limit = 3;
    })
    .await;
    app.create_user("chen.qi", Role::Auditor, &[]).await;
    let attempt = |i: u32| {
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", format!("192.0.2.{i}, 203.0.113.7")))
            .set_json(json!({ "username": "chen.qi", "password": PASSWORD }))
    };
    for i in 0..3 {
        assert_eq!(app.send(attempt(i)).await.status, 200);
    }
    app.send(attempt(3)).await.problem(429, "too_many_requests");
}

#[actix_web::test]
async fn each_client_address_gets_a_limited_number_of_attempts() {
    let app = spawn_app_with(|c| c.auth.login_rate_limit = 3).await;
    app.create_user("chen.qi", Role::Auditor, &[]).await;
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, "10.1.1.1:5000", "chen.qi").await.status,
            200
        );
    }
    let limited = login_from(&app, "10.1.1.1:5001", "chen.qi").await;
    limited.problem(429, "too_many_requests");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another address is not affected.
    assert_eq!(
        login_from(&app, "10.2.2.2:5000", "chen.qi").await.status,
        200
    );

    // Issue 9: refusals are counted per address and written once its window has ended, one
    // event with the count (a flood of refusals is no flood of audit rows).
    assert!(app
        .audit_events()
        .await
        .iter()
        .all(|e| e.action != "login_rate_limited"));
    let state = app.state.clone();
    fenghua_registry::db::run(&app.state.pool, move |conn| {
        let later = std::time::Instant::now() + Duration::from_secs(61);
        Ok(state.auth.login_refusals.flush(conn, later, false)?)
    })
    .await
    .unwrap();
    let events = app.audit_events().await;
    let limited = events
        .iter()
        .find(|e| e.action == "login_rate_limited")
        .expect("the limit is audited");
    assert_eq!(limited.client_address.as_deref(), Some("10.1.1.1"));
    assert_eq!(limited.outcome, "denied");
    let counted: Value = serde_json::from_str(limited.changes.as_deref().unwrap()).unwrap();
    assert_eq!(counted["refused"], 1);
    assert_eq!(counted["usernames"], json!(["chen.qi"]));
}

#[actix_web::test]
async fn forged_or_invalid_access_tokens_are_refused() {
    let app = spawn_app().await;
    let session = app.admin().await;
    let valid = claims_of(&session.access_token);
    assert_eq!(me_with(&app, &session.access_token).await.status, 200);
    // The same claims re-signed with the real key work: what follows isolates one fault each.
    assert_eq!(
        me_with(&app, &sign(&valid, Algorithm::HS256, SECRET))
            .await
            .status,
        200
    );

    let header_none = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = B64.encode(valid.to_string());
    let mut forged = vec![
        ("alg none", format!("{header_none}.{payload}.")),
        ("HS512", sign(&valid, Algorithm::HS512, SECRET)),
        ("HS384", sign(&valid, Algorithm::HS384, SECRET)),
        (
            "wrong key",
            sign(
                &valid,
                Algorithm::HS256,
                b"another-secret-0123456789-abcdefghijk",
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    let now = chrono::Utc::now().timestamp();
    let altered = |field: &str, value: Value| {
        let mut claims = valid.clone();
        claims[field] = value;
        claims
    };
    forged.push((
        "expired",
        sign(&altered("exp", json!(now - 120)), Algorithm::HS256, SECRET),
    ));
    forged.push((
        "not yet valid",
        sign(&altered("nbf", json!(now + 600)), Algorithm::HS256, SECRET),
    ));
    forged.push((
        "wrong audience",
        sign(
            &altered("aud", json!("another-api")),
            Algorithm::HS256,
            SECRET,
        ),
    ));
    forged.push((
        "wrong issuer",
        sign(
            &altered("iss", json!("someone-else")),
            Algorithm::HS256,
            SECRET,
        ),
    ));
    forged.push((
        "another user's id",
        sign(
            &altered("sub", json!(uuid::Uuid::new_v4().to_string())),
            Algorithm::HS256,
            SECRET,
        ),
    ));
    forged.push((
        "unknown session",
        sign(
            &altered("sid", json!(uuid::Uuid::new_v4().to_string())),
            Algorithm::HS256,
            SECRET,
        ),
    ));
    for claim in ["exp", "nbf", "iat", "iss", "aud", "sub", "jti", "sid"] {
        let mut claims = valid.clone();
        claims.as_object_mut().unwrap().remove(claim);
        let name: &'static str = Box::leak(format!("missing {claim}").into_boxed_str());
        forged.push((name, sign(&claims, Algorithm::HS256, SECRET)));
    }
    for (what, token) in forged {
        let answer = me_with(&app, &token).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.text());
        assert_unauthorized(&answer);
    }

    // No header, another scheme, an empty token.
    assert_unauthorized(&app.get("/api/v1/me").await);
    for value in [
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Bearer ",
        &session.access_token,
    ] {
        let answer = app
            .send(
                TestRequest::get()
                    .uri("/api/v1/me")
                    .insert_header((header::AUTHORIZATION, value)),
            )
            .await;
        assert_eq!(answer.status, 401, "{value}");
    }
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = spawn_app().await;
    let first = app.admin().await;
    let rotated = refresh(&app, &first.refresh_token).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let second = rotated.json();
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first.refresh_token);
    assert_eq!(me_with(&app, &second_access).await.status, 200);
    assert_eq!(
        claims_of(&second_access)["sid"],
        claims_of(&first.access_token)["sid"]
    );

    // The first refresh token is spent; presenting it again revokes the family.
    refresh(&app, &first.refresh_token)
        .await
        .problem(401, "invalid_refresh_token");
    refresh(&app, &second_refresh)
        .await
        .problem(401, "invalid_refresh_token");
    assert_unauthorized(&me_with(&app, &second_access).await);
    assert_unauthorized(&me_with(&app, &first.access_token).await);

    let events = app.audit_events().await;
    assert!(events.iter().any(|e| e.action == "token_refresh"));
    let reuse = events
        .iter()
        .find(|e| e.action == "refresh_token_reuse")
        .expect("reuse audited");
    assert_eq!(reuse.outcome, "denied");

    // Another login is a new family and works.
    assert_eq!(app.login("admin", PASSWORD).await.status, 200);
    refresh(&app, "made-up-token")
        .await
        .problem(401, "invalid_refresh_token");
}

#[actix_web::test]
async fn logout_revokes_access_and_refresh_tokens_at_once() {
    let app = spawn_app().await;
    let session = app.admin().await;
    let other = app.login("admin", PASSWORD).await.json();
    let answer = app
        .send_as(&session, TestRequest::post().uri("/api/v1/auth/logout"))
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_unauthorized(&me_with(&app, &session.access_token).await);
    refresh(&app, &session.refresh_token)
        .await
        .problem(401, "invalid_refresh_token");
    // Only that session ends: the other login of the same user goes on.
    assert_eq!(
        me_with(&app, other["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    assert!(app
        .audit_events()
        .await
        .iter()
        .any(|e| e.action == "logout"));
}

fn user_path(id: &str) -> String {
    format!("/api/v1/users/{id}")
}

#[actix_web::test]
async fn disabling_a_user_ends_its_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app
        .session("worker", Role::Caseworker, &["330213001"])
        .await;
    assert_eq!(me_with(&app, &worker.access_token).await.status, 200);
    let answer = patch_current(
        &app,
        &admin,
        &user_path(&worker.user_id),
        &json!({ "disabled": true }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["disabled"], true);
    assert_unauthorized(&me_with(&app, &worker.access_token).await);
    refresh(&app, &worker.refresh_token)
        .await
        .problem(401, "invalid_refresh_token");
    app.login("worker", PASSWORD)
        .await
        .problem(401, "invalid_credentials");

    // Enabled again, the user signs in anew; the old tokens stay dead.
    patch_current(
        &app,
        &admin,
        &user_path(&worker.user_id),
        &json!({ "disabled": false }),
    )
    .await;
    assert_eq!(app.login("worker", PASSWORD).await.status, 200);
    assert_unauthorized(&me_with(&app, &worker.access_token).await);
}

#[actix_web::test]
async fn changing_ones_password_ends_every_session() {
    let app = spawn_app().await;
    let session = app.session("auditor", Role::Auditor, &[]).await;
    let second = app.login("auditor", PASSWORD).await.json();
    let new_password = "a brand new passphrase";

    let wrong = app
        .post_as(
            &session,
            "/api/v1/me/password",
            &json!({ "current_password": "wrong one entirely", "new_password": new_password }),
        )
        .await;
    assert_eq!(
        wrong.problem(422, "validation_failed")["errors"][0]["field"],
        "current_password"
    );
    let weak = app
        .post_as(
            &session,
            "/api/v1/me/password",
            &json!({ "current_password": PASSWORD, "new_password": "short" }),
        )
        .await;
    assert_eq!(
        weak.problem(422, "validation_failed")["errors"][0]["field"],
        "new_password"
    );
    assert_eq!(
        me_with(&app, &session.access_token).await.status,
        200,
        "refusals change nothing"
    );

    let answer = app
        .post_as(
            &session,
            "/api/v1/me/password",
            &json!({ "current_password": PASSWORD, "new_password": new_password }),
        )
        .await;
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_unauthorized(&me_with(&app, &session.access_token).await);
    assert_unauthorized(&me_with(&app, second["access_token"].as_str().unwrap()).await);
    refresh(&app, &session.refresh_token)
        .await
        .problem(401, "invalid_refresh_token");
    app.login("auditor", PASSWORD)
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(app.login("auditor", new_password).await.status, 200);
    let change = app
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.action == "password_change")
        .expect("audited");
    assert!(!change.changes.unwrap_or_default().contains(new_password));
}

#[actix_web::test]
async fn an_admin_password_reset_ends_the_users_sessions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Auditor, &[]).await;
    let answer = patch_current(
        &app,
        &admin,
        &user_path(&worker.user_id),
        &json!({ "password": "reset by the admin 2026" }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_unauthorized(&me_with(&app, &worker.access_token).await);
    assert_eq!(
        app.login("worker", "reset by the admin 2026").await.status,
        200
    );
    let update = app
        .audit_events()
        .await
        .into_iter()
        .rfind(|e| e.action == "user_update")
        .unwrap();
    let changes = update.changes.unwrap();
    assert!(changes.contains("[redacted]"), "{changes}");
    assert!(!changes.contains("reset by the admin 2026"));
}

#[actix_web::test]
async fn malformed_login_requests_get_problems_and_change_nothing() {
    let app = spawn_app_with(|c| c.body_limit_bytes = 4096).await;
    app.create_user("zhou.ba", Role::Auditor, &[]).await;
    let before = app.audit_events().await.len();
    let path = "/api/v1/auth/login";

    app.post_raw(path, Some("application/json"), b"{\"username\": ".to_vec())
        .await
        .problem(400, "malformed_json");
    app.post_raw(path, Some("application/json"), Vec::new())
        .await
        .problem(400, "malformed_json");
    let missing = app.post_json(path, &json!({ "username": "zhou.ba" })).await;
    assert_eq!(
        missing.problem(422, "validation_failed")["errors"][0]["field"],
        "password"
    );
    let wrong_type = app
        .post_json(path, &json!({ "username": 7, "password": PASSWORD }))
        .await;
    assert_eq!(
        wrong_type.problem(422, "validation_failed")["errors"][0]["field"],
        "username"
    );
    let unknown = app
        .post_json(
            path,
            &json!({ "username": "zhou.ba", "password": PASSWORD, "otp": 1 }),
        )
        .await;
    assert_eq!(
        unknown.problem(422, "validation_failed")["errors"][0]["field"],
        "otp"
    );
    let body = json!({ "username": "zhou.ba", "password": "x".repeat(5000) }).to_string();
    app.post_raw(path, Some("application/json"), body.into_bytes())
        .await
        .problem(413, "payload_too_large");
    let body = json!({ "username": "zhou.ba", "password": PASSWORD }).to_string();
    app.post_raw(path, Some("text/plain"), body.clone().into_bytes())
        .await
        .problem(415, "unsupported_media_type");
    app.post_raw(path, None, body.clone().into_bytes())
        .await
        .problem(415, "unsupported_media_type");
    app.post_raw(
        path,
        Some("application/x-www-form-urlencoded"),
        b"username=zhou.ba".to_vec(),
    )
    .await
    .problem(415, "unsupported_media_type");

    assert_eq!(
        app.audit_events().await.len(),
        before,
        "nothing was recorded or changed"
    );
    // A JSON subtype is accepted.
    let answer = app
        .post_raw(
            path,
            Some("application/json; charset=utf-8"),
            body.into_bytes(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// The guard remembers what it found behind a session for `SESSION_CACHE_SECS`; a change of the
/// user's towns or role made through the service applies to the very next request all the same.
#[actix_web::test]
async fn a_towns_or_role_change_applies_to_the_next_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let number = id_number("330213", "1968-04-12", 31);
    let resident =
        id_of(&register_resident(&app, &admin, resident_body(&number, "张三", JINPING)).await);
    assert_eq!(
        app.get_as(&worker, &resident_path(&resident)).await.status,
        200
    );
    assert_eq!(app.get_as(&worker, "/api/v1/users").await.status, 403);

    let path = user_path(&worker.user_id);
    let answer = patch_current(&app, &admin, &path, &json!({ "towns": [XIKOU] })).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    app.get_as(&worker, &resident_path(&resident))
        .await
        .problem(404, "not_found");

    let answer = patch_current(
        &app,
        &admin,
        &path,
        &json!({ "role": "admin", "towns": [] }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(app.get_as(&worker, "/api/v1/users").await.status, 200);
    assert_eq!(
        app.get_as(&worker, &resident_path(&resident)).await.status,
        200
    );
}

/// A session revoked outside the service (an operator's SQL, another instance of the service)
/// is refused once `SESSION_CACHE_SECS` have passed since the guard last looked it up, and at
/// once with `SESSION_CACHE_SECS=0`.
#[actix_web::test]
async fn a_session_revoked_elsewhere_is_refused_within_the_cache_lifetime() {
    for lifetime in [Duration::ZERO, Duration::from_secs(1)] {
        let app = spawn_app_with(|config| config.auth.session_cache = lifetime).await;
        let session = app.admin().await;
        assert_eq!(me_with(&app, &session.access_token).await.status, 200);
        let revoked = db::run(&app.state.pool, |conn| {
            use diesel::prelude::*;
            use fenghua_registry::db::schema::sessions;
            Ok(diesel::update(sessions::table)
                .set(sessions::revoked_at.eq(Some(db::now())))
                .execute(conn)?)
        })
        .await
        .unwrap();
        assert_eq!(revoked, 1);
        if !lifetime.is_zero() {
            tokio::time::sleep(lifetime + Duration::from_millis(100)).await;
        }
        assert_unauthorized(&me_with(&app, &session.access_token).await);
    }
}
