//! The Zheliban integration (issue 12): client credentials, idempotent applications, decisions
//! with their effects, the work queue, signed webhooks from the outbox (retries, a restart, two
//! instances), polling, replays and certificate verification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::test::TestRequest;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use fenghua_registry::auth::rate_limit::RateLimiter;
use fenghua_registry::db;
use fenghua_registry::domain::role::Role;
use fenghua_registry::startup;
use fenghua_registry::state::AppState;
use fenghua_registry::use_cases::integration::worker::{WebhookWorker, WorkerSettings};

use crate::helpers::{
    certify, file_of, file_with_etag, register, register_named, spawn_app, test_config, Answer,
    TestApp,
};
use crate::session::{id_number, Session, JINPING, XIKOU};

const ALL_SCOPES: &[&str] = &[
    "applications:write",
    "applications:read",
    "certificates:verify",
];

/// A registered client and a token for it.
pub struct Client {
    pub id: String,
    pub secret: String,
    pub token: String,
    pub webhook_secret: Option<String>,
}

pub async fn register_client(
    app: &TestApp,
    admin: &Session,
    name: &str,
    scopes: &[&str],
    webhook_url: Option<&str>,
) -> Client {
    let answer = app
        .post_as(
            admin,
            "/api/v1/clients",
            &json!({ "name": name, "scopes": scopes, "webhook_url": webhook_url }),
        )
        .await;
    assert_eq!(answer.status, 201, "client: {}", answer.text());
    let body = answer.json();
    let id = body["id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    let token = token_for(app, &id, &secret).await;
    Client {
        id,
        secret,
        token,
        webhook_secret: body["webhook_secret"].as_str().map(str::to_owned),
    }
}

/// `POST /auth/token` as a form, asserting 200; the access token.
async fn token_for(app: &TestApp, id: &str, secret: &str) -> String {
    let answer = token_request(app, id, secret).await;
    assert_eq!(answer.status, 200, "token: {}", answer.text());
    answer.json()["access_token"].as_str().unwrap().to_owned()
}

async fn token_request(app: &TestApp, id: &str, secret: &str) -> Answer {
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    app.post_raw(
        "/api/v1/auth/token",
        Some("application/x-www-form-urlencoded"),
        form.into_bytes(),
    )
    .await
}

impl TestApp {
    pub async fn send_with_token(&self, token: &str, req: TestRequest) -> Answer {
        self.send(req.insert_header((header::AUTHORIZATION, format!("Bearer {token}"))))
            .await
    }

    /// A client POST with an `Idempotency-Key` (none when `key` is empty).
    pub async fn client_post(&self, token: &str, path: &str, key: &str, body: &Value) -> Answer {
        let mut req = TestRequest::post().uri(path).set_json(body);
        if !key.is_empty() {
            req = req.insert_header(("Idempotency-Key", key));
        }
        self.send_with_token(token, req).await
    }

    pub async fn client_get(&self, token: &str, path: &str) -> Answer {
        self.send_with_token(token, TestRequest::get().uri(path))
            .await
    }
}

pub(crate) fn application(kind: &str, id_number: &str, name: &str, external_ref: &str) -> Value {
    json!({
        "kind": kind,
        "id_number": id_number,
        "name": name,
        "town_code": JINPING,
        "external_ref": external_ref,
        "payload": {"contact": "app", "items": [{"name": "卫生间扶手", "cost_fen": 80000}]},
    })
}

pub(crate) async fn submit_ok(app: &TestApp, client: &Client, body: &Value) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let answer = app
        .client_post(&client.token, "/api/v1/applications", &key, body)
        .await;
    assert_eq!(answer.status, 201, "submit {body}: {}", answer.text());
    answer.json()
}

pub(crate) async fn decide(app: &TestApp, who: &Session, application: &str, body: Value) -> Answer {
    app.post_as(
        who,
        &format!("/api/v1/applications/{application}/decision"),
        &body,
    )
    .await
}

async fn decide_ok(app: &TestApp, who: &Session, application: &str, body: Value) -> Value {
    let answer = decide(app, who, application, body.clone()).await;
    assert_eq!(answer.status, 200, "decision {body}: {}", answer.text());
    answer.json()
}

async fn accept_and_approve(app: &TestApp, who: &Session, application: &str) -> Value {
    decide_ok(app, who, application, json!({"decision": "accept"})).await;
    decide_ok(app, who, application, json!({"decision": "approve"})).await
}

async fn count_applications(app: &TestApp) -> i64 {
    db::run(&app.state.pool, |conn| {
        use diesel::prelude::*;
        use fenghua_registry::db::schema::applications;
        Ok(applications::table.count().get_result::<i64>(conn)?)
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Clients and tokens.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn client_credentials_give_an_integration_token_that_staff_routes_refuse() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, None).await;
    assert!(client.secret.starts_with("cs_"));

    // The secret is shown once: reading the client never shows it.
    let read = app
        .get_as(&admin, &format!("/api/v1/clients/{}", client.id))
        .await;
    assert_eq!(read.status, 200);
    assert!(!read.text().contains(&client.secret));
    assert!(read.json().get("client_secret").is_none());
    let listed = app.get_as(&admin, "/api/v1/clients").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let hash: String = db::run(&app.state.pool, |conn| {
        use diesel::prelude::*;
        use fenghua_registry::db::schema::integration_clients as c;
        Ok(c::table.select(c::secret_hash).first(conn)?)
    })
    .await
    .unwrap();
    assert!(hash.starts_with("$argon2id$"), "stored as an argon2 hash");

    // JSON works as well as the form, and a scope may be narrowed.
    let answer = app
        .post_json(
            "/api/v1/auth/token",
            &json!({
                "grant_type": "client_credentials",
                "client_id": client.id,
                "client_secret": client.secret,
                "scope": "certificates:verify",
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let narrow = answer.json();
    assert_eq!(narrow["scope"], "certificates:verify");
    assert_eq!(narrow["token_type"], "Bearer");
    let narrow = narrow["access_token"].as_str().unwrap().to_owned();
    app.client_post(&narrow, "/api/v1/applications", "k1", &json!({}))
        .await
        .problem(403, "forbidden");

    // The token's audience is `integration`; staff routes refuse it, and it cannot sign out.
    let claims: Value = {
        use base64::Engine;
        let payload = client.token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["aud"], "integration");
    assert_eq!(
        claims["scope"],
        "applications:write applications:read certificates:verify"
    );
    for path in ["/api/v1/residents", "/api/v1/me", "/api/v1/users"] {
        app.client_get(&client.token, path)
            .await
            .problem(403, "forbidden");
    }
    assert_eq!(
        app.client_get(&client.token, "/api/v1/codes").await.status,
        200
    );

    // Every failure is the same 401 invalid_client.
    token_request(&app, &client.id, "cs_wrong")
        .await
        .problem(401, "invalid_client");
    token_request(&app, &uuid::Uuid::new_v4().to_string(), &client.secret)
        .await
        .problem(401, "invalid_client");
    app.post_raw(
        "/api/v1/auth/token",
        Some("application/x-www-form-urlencoded"),
        format!(
            "grant_type=password&client_id={}&client_secret={}",
            client.id, client.secret
        )
        .into_bytes(),
    )
    .await
    .problem(400, "unsupported_grant_type");

    // Rotation ends the old secret and its tokens at once.
    let rotated = app
        .post_as(
            &admin,
            &format!("/api/v1/clients/{}/rotate-secret", client.id),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let new_secret = rotated.json()["client_secret"].as_str().unwrap().to_owned();
    app.client_get(&client.token, "/api/v1/applications")
        .await
        .problem(401, "invalid_token");
    token_request(&app, &client.id, &client.secret)
        .await
        .problem(401, "invalid_client");
    let token = token_for(&app, &client.id, &new_secret).await;
    assert_eq!(
        app.client_get(&token, "/api/v1/applications").await.status,
        200
    );

    // Disabling ends the tokens and refuses new ones; enabling brings them back.
    let path = format!("/api/v1/clients/{}/disable", client.id);
    assert_eq!(app.post_as(&admin, &path, &json!({})).await.status, 200);
    app.client_get(&token, "/api/v1/applications")
        .await
        .problem(401, "invalid_token");
    token_request(&app, &client.id, &new_secret)
        .await
        .problem(401, "invalid_client");
    let path = format!("/api/v1/clients/{}/enable", client.id);
    assert_eq!(app.post_as(&admin, &path, &json!({})).await.status, 200);
    token_for(&app, &client.id, &new_secret).await;

    let actions: Vec<String> = app
        .audit_events()
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "client_create",
        "client_token",
        "client_token_failed",
        "client_secret_rotate",
        "client_update",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} audited");
    }
    let trail = format!("{:?}", app.audit_events().await);
    assert!(!trail.contains(&client.secret) && !trail.contains(&new_secret));
}

// ---------------------------------------------------------------------------------------------
// Idempotency.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_same_key_replays_the_first_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, None).await;
    let person = id_number("330283", "1980-01-02", 11);
    let body = application("certificate_new", &person, "王小明", "ZLB-1");

    app.client_post(&client.token, "/api/v1/applications", "", &body)
        .await
        .problem(400, "idempotency_key_required");

    let first = app
        .client_post(&client.token, "/api/v1/applications", "key-1", &body)
        .await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.header("idempotent-replayed"), None);
    let created = first.json();
    assert_eq!(created["status"], "submitted");
    assert_eq!(created["channel"], "zheliban");
    assert_eq!(created["registered"], false, "an unknown person is pending");
    assert_eq!(created["applicant"]["name"], "王**");
    assert!(!first.text().contains(&person), "the ID number is masked");

    // The same body with its keys in another order and other spacing is the same request.
    let reordered = format!(
        "{{ \"payload\": {}, \"external_ref\": \"ZLB-1\", \"town_code\": \"{JINPING}\", \
           \"name\": \"王小明\", \"id_number\": \"{person}\", \"kind\": \"certificate_new\" }}",
        body["payload"]
    );
    let again = app
        .send_with_token(
            &client.token,
            TestRequest::post()
                .uri("/api/v1/applications")
                .insert_header(("Idempotency-Key", "key-1"))
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload(reordered),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the first answer, byte for byte");
    assert_eq!(count_applications(&app).await, 1);

    // The same key with another body is refused.
    let mut other = body.clone();
    other["external_ref"] = json!("ZLB-2");
    let reused = app
        .client_post(&client.token, "/api/v1/applications", "key-1", &other)
        .await;
    let problem = reused.problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "idempotency_key_reused");

    // The same external_ref under a new key names the existing application.
    let duplicate = app
        .client_post(&client.token, "/api/v1/applications", "key-2", &body)
        .await;
    let problem = duplicate.problem(409, "duplicate_external_ref");
    assert_eq!(problem["existing_id"], created["id"]);
    assert_eq!(count_applications(&app).await, 1);

    // Keys belong to their client: another client's same key is another request.
    let other_client = register_client(&app, &admin, "其他", ALL_SCOPES, None).await;
    let theirs = app
        .client_post(&other_client.token, "/api/v1/applications", "key-1", &body)
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.text());
    assert_eq!(count_applications(&app).await, 2);

    // The key is kept with its first answer for at least 24 hours.
    let kept: Vec<(String, chrono::NaiveDateTime)> = db::run(&app.state.pool, |conn| {
        use diesel::prelude::*;
        use fenghua_registry::db::schema::idempotency_keys as k;
        Ok(k::table.select((k::idem_key, k::created_at)).load(conn)?)
    })
    .await
    .unwrap();
    assert_eq!(kept.len(), 2);
    db::run(&app.state.pool, |conn| {
        fenghua_registry::use_cases::integration::idempotency::purge(conn)
    })
    .await
    .unwrap();
    let replay = app
        .client_post(&client.token, "/api/v1/applications", "key-1", &body)
        .await;
    assert_eq!(
        replay.header("idempotent-replayed"),
        Some("true"),
        "a purge keeps young keys"
    );
}

#[actix_web::test]
async fn twenty_concurrent_posts_with_one_key_create_one_application() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, None).await;
    let body = application(
        "living_subsidy",
        &id_number("330283", "1975-05-05", 21),
        "李四",
        "ZLB-CONCURRENT",
    );
    let started = Instant::now();
    let answers = futures_util::future::join_all(
        (0..20).map(|_| app.client_post(&client.token, "/api/v1/applications", "same-key", &body)),
    )
    .await;
    let elapsed = started.elapsed();
    let fresh = answers
        .iter()
        .filter(|a| a.header("idempotent-replayed").is_none())
        .count();
    for answer in &answers {
        assert_eq!(answer.status, 201, "{}", answer.text());
        assert_eq!(
            answer.body, answers[0].body,
            "every retry gets the first answer"
        );
    }
    assert_eq!(fresh, 1, "one request did the work, 19 were replays");
    assert_eq!(count_applications(&app).await, 1);
    let events = app
        .client_get(&client.token, "/api/v1/application-events")
        .await
        .json();
    assert_eq!(
        events["items"].as_array().unwrap().len(),
        1,
        "one outbox event"
    );
    println!("20 concurrent identical POSTs answered in {elapsed:?}");
}

// ---------------------------------------------------------------------------------------------
// Reading, the queue, ownership.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_client_sees_only_its_own_applications() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = register_client(&app, &admin, "甲", ALL_SCOPES, None).await;
    let b = register_client(&app, &admin, "乙", ALL_SCOPES, None).await;
    let person = id_number("330283", "1980-01-02", 31);
    let mine = submit_ok(
        &app,
        &a,
        &application("rehab_service", &person, "赵六", "A-1"),
    )
    .await;
    let theirs = submit_ok(
        &app,
        &b,
        &application("rehab_service", &person, "赵六", "A-1"),
    )
    .await;

    let path = format!("/api/v1/applications/{}", mine["id"].as_str().unwrap());
    let read = app.client_get(&a.token, &path).await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.json()["resident_id"],
        Value::Null,
        "clients get no resident ids"
    );
    app.client_get(&b.token, &path)
        .await
        .problem(404, "not_found");
    let listed = app
        .client_get(&b.token, "/api/v1/applications")
        .await
        .json();
    let ids: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids, vec![&theirs["id"]]);
    let events = app
        .client_get(&b.token, "/api/v1/application-events")
        .await
        .json();
    assert!(events["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["data"]["id"] == theirs["id"]));
    // Withdrawing someone else's application is a 404, too.
    app.client_post(
        &b.token,
        &format!("{path}/withdraw"),
        &uuid::Uuid::new_v4().to_string(),
        &json!({}),
    )
    .await
    .problem(404, "not_found");
}

#[actix_web::test]
async fn the_work_queue_is_oldest_first_in_the_caseworkers_towns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, None).await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let mut ids = Vec::new();
    for (i, (kind, town)) in [
        ("rehab_service", JINPING),
        ("assistive_device", XIKOU),
        ("assistive_device", JINPING),
        ("rehab_service", JINPING),
    ]
    .iter()
    .enumerate()
    {
        let mut body = application(
            kind,
            &id_number("330283", "1966-06-06", 40 + i as u16),
            "钱七",
            &format!("Q-{i}"),
        );
        body["town_code"] = json!(town);
        ids.push(submit_ok(&app, &client, &body).await["id"].clone());
    }
    let queue = app.get_as(&worker, "/api/v1/applications").await;
    assert_eq!(queue.status, 200, "{}", queue.text());
    let got: Vec<Value> = queue.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(
        got,
        vec![ids[0].clone(), ids[2].clone(), ids[3].clone()],
        "Jinping, oldest first"
    );
    let filtered = app
        .get_as(&worker, "/api/v1/applications?kind=assistive_device")
        .await
        .json();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["items"][0]["id"], ids[2]);
    // Another town's application is invisible, also when asked for by id.
    app.get_as(
        &worker,
        &format!("/api/v1/applications/{}", ids[1].as_str().unwrap()),
    )
    .await
    .problem(404, "not_found");
    // Accepted ones stay in the queue; decided ones leave it unless asked for.
    decide_ok(
        &app,
        &worker,
        ids[0].as_str().unwrap(),
        json!({"decision": "accept"}),
    )
    .await;
    decide_ok(
        &app,
        &worker,
        ids[3].as_str().unwrap(),
        json!({"decision": "reject", "reason": "材料不全"}),
    )
    .await;
    let open = app.get_as(&worker, "/api/v1/applications").await.json();
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    let rejected = app
        .get_as(&worker, "/api/v1/applications?status=rejected")
        .await
        .json();
    assert_eq!(rejected["items"][0]["reason"], "材料不全");
    // Paging keeps the order.
    let page = app
        .get_as(&worker, "/api/v1/applications?limit=1")
        .await
        .json();
    assert_eq!(page["items"][0]["id"], ids[0]);
    let next = page["next_cursor"].as_str().unwrap();
    let page = app
        .get_as(
            &worker,
            &format!("/api/v1/applications?limit=1&cursor={next}"),
        )
        .await
        .json();
    assert_eq!(page["items"][0]["id"], ids[2]);
}

// ---------------------------------------------------------------------------------------------
// Decisions and their effects.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn each_approval_has_its_effect_and_rejections_and_withdrawals_have_none() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, None).await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let dibao = json!({"household_status": "dibao", "household_status_since": "2015-01-01"});

    // Living subsidy: a dibao household with a certificate is eligible.
    let (poor, poor_number) =
        register(&app, &worker, "1970-03-03", 51, JINPING, dibao.clone()).await;
    certify(
        &app,
        &worker,
        &poor,
        &poor_number,
        "physical",
        3,
        "2020-01-01",
    )
    .await;
    let living = submit_ok(
        &app,
        &client,
        &application("living_subsidy", &poor_number, "居民51", "L-1"),
    )
    .await;
    let approved = accept_and_approve(&app, &worker, living["id"].as_str().unwrap()).await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["effect"]["type"], "subsidy_grant");
    let file = file_of(&app, &worker, &poor).await;
    assert_eq!(file["subsidies"][0]["id"], approved["effect"]["id"]);
    assert_eq!(file["subsidies"][0]["kind"], "living");
    assert_eq!(
        file["applications"][0]["id"], living["id"],
        "the file lists its applications"
    );
    assert_eq!(file["applications"][0]["status"], "approved");

    // Nursing subsidy: grade 1.
    let (severe, severe_number) =
        register(&app, &worker, "1960-01-01", 52, JINPING, json!({})).await;
    certify(
        &app,
        &worker,
        &severe,
        &severe_number,
        "visual",
        1,
        "2020-01-01",
    )
    .await;
    let nursing = submit_ok(
        &app,
        &client,
        &application("nursing_subsidy", &severe_number, "居民52", "N-1"),
    )
    .await;
    let approved = accept_and_approve(&app, &worker, nursing["id"].as_str().unwrap()).await;
    let file = file_of(&app, &worker, &severe).await;
    assert_eq!(file["subsidies"][0]["kind"], "nursing");
    assert_eq!(file["subsidies"][0]["id"], approved["effect"]["id"]);

    // An ineligible resident: the approval is refused with the reasons, nothing changes.
    let (plain, plain_number) = register(&app, &worker, "1961-01-01", 53, JINPING, json!({})).await;
    certify(
        &app,
        &worker,
        &plain,
        &plain_number,
        "hearing",
        4,
        "2020-01-01",
    )
    .await;
    let refused = submit_ok(
        &app,
        &client,
        &application("living_subsidy", &plain_number, "居民53", "L-2"),
    )
    .await;
    let refused_id = refused["id"].as_str().unwrap();
    decide_ok(&app, &worker, refused_id, json!({"decision": "accept"})).await;
    let answer = decide(&app, &worker, refused_id, json!({"decision": "approve"})).await;
    assert_eq!(
        answer.problem(422, "validation_failed")["errors"][0]["code"],
        "required_when_ineligible"
    );
    let still = app
        .get_as(&worker, &format!("/api/v1/applications/{refused_id}"))
        .await
        .json();
    assert_eq!(still["status"], "accepted");
    assert!(file_of(&app, &worker, &plain).await["subsidies"]
        .as_array()
        .unwrap()
        .is_empty());

    // Home modification: a case opened on the day of submission, with the payload's items.
    let (home, home_number) = register(&app, &worker, "1950-02-02", 54, JINPING, json!({})).await;
    let modification = submit_ok(
        &app,
        &client,
        &application("home_modification", &home_number, "居民54", "H-1"),
    )
    .await;
    let approved = accept_and_approve(&app, &worker, modification["id"].as_str().unwrap()).await;
    let file = file_of(&app, &worker, &home).await;
    let case = &file["home_modifications"][0];
    assert_eq!(case["id"], approved["effect"]["id"]);
    assert_eq!(case["status"], "applied");
    assert_eq!(case["items"][0]["name"], "卫生间扶手");

    // Certificate renewal: the active certificate is renewed today.
    let renewal = submit_ok(
        &app,
        &client,
        &application("certificate_renewal", &poor_number, "居民51", "R-1"),
    )
    .await;
    let approved = accept_and_approve(&app, &worker, renewal["id"].as_str().unwrap()).await;
    let file = file_of(&app, &worker, &poor).await;
    let certificates = file["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 2);
    let active = certificates
        .iter()
        .find(|c| c["status"] == "active")
        .unwrap();
    assert_eq!(active["id"], approved["effect"]["id"]);
    assert_eq!(
        active["issued_on"],
        fenghua_registry::domain::today().to_string()
    );
    let old = certificates
        .iter()
        .find(|c| c["status"] == "cancelled")
        .unwrap();
    assert_eq!(old["cancel_reason"], "renewed");

    // A rejected application and a withdrawn one have no effect.
    let (other, other_number) =
        register(&app, &worker, "1971-03-03", 55, JINPING, dibao.clone()).await;
    certify(
        &app,
        &worker,
        &other,
        &other_number,
        "physical",
        3,
        "2020-01-01",
    )
    .await;
    let rejected = submit_ok(
        &app,
        &client,
        &application("living_subsidy", &other_number, "居民55", "X-1"),
    )
    .await;
    let rejected_id = rejected["id"].as_str().unwrap();
    decide_ok(&app, &worker, rejected_id, json!({"decision": "accept"})).await;
    decide(&app, &worker, rejected_id, json!({"decision": "reject"}))
        .await
        .problem(422, "validation_failed");
    let done = decide_ok(
        &app,
        &worker,
        rejected_id,
        json!({"decision": "reject", "reason": "不符合条件"}),
    )
    .await;
    assert_eq!(
        (done["status"].as_str(), done["effect"].is_null()),
        (Some("rejected"), true)
    );
    decide(&app, &worker, rejected_id, json!({"decision": "approve"}))
        .await
        .problem(409, "illegal_transition");

    let withdrawn = submit_ok(
        &app,
        &client,
        &application("home_modification", &other_number, "居民55", "X-2"),
    )
    .await;
    let withdraw_path = format!(
        "/api/v1/applications/{}/withdraw",
        withdrawn["id"].as_str().unwrap()
    );
    app.client_post(&client.token, &withdraw_path, "", &json!({}))
        .await
        .problem(400, "idempotency_key_required");
    let answer = app
        .client_post(
            &client.token,
            &withdraw_path,
            "w-1",
            &json!({"reason": "不需要了"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status"], "withdrawn");
    let replay = app
        .client_post(
            &client.token,
            &withdraw_path,
            "w-1",
            &json!({"reason": "不需要了"}),
        )
        .await;
    assert_eq!(
        (replay.status.as_u16(), replay.header("idempotent-replayed")),
        (200, Some("true"))
    );
    app.client_post(&client.token, &withdraw_path, "w-2", &json!({}))
        .await
        .problem(409, "illegal_transition");
    decide(
        &app,
        &worker,
        withdrawn["id"].as_str().unwrap(),
        json!({"decision": "accept"}),
    )
    .await
    .problem(409, "illegal_transition");
    let file = file_of(&app, &worker, &other).await;
    assert!(
        file["subsidies"].as_array().unwrap().is_empty(),
        "rejected: no grant"
    );
    assert!(
        file["home_modifications"].as_array().unwrap().is_empty(),
        "withdrawn: no case"
    );

    // Every status change is in the client's feed, in order, and audited.
    let events = app
        .client_get(&client.token, "/api/v1/application-events?limit=200")
        .await
        .json();
    let of_rejected: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["id"] == rejected["id"])
        .map(|e| &e["data"]["status"])
        .collect();
    assert_eq!(of_rejected, vec!["submitted", "accepted", "rejected"]);
    let decided = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "application_decide")
        .count();
    assert!(decided >= 10);
}

#[actix_web::test]
async fn a_new_certificate_for_an_unknown_person_waits_for_registration() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, None).await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let person = id_number("330283", "1990-09-09", 61);
    let pending = submit_ok(
        &app,
        &client,
        &application("certificate_new", &person, "孙八", "C-1"),
    )
    .await;
    let id = pending["id"].as_str().unwrap();
    assert_eq!(pending["registered"], false);

    // Never in clear at rest.
    let stored: Vec<(String, String)> = db::run(&app.state.pool, |conn| {
        use diesel::prelude::*;
        use fenghua_registry::db::schema::applications as a;
        Ok(a::table
            .select((a::id_number_enc, a::name_enc))
            .load(conn)?)
    })
    .await
    .unwrap();
    assert!(!stored[0].0.contains(&person) && !stored[0].1.contains("孙八"));

    decide_ok(&app, &worker, id, json!({"decision": "accept"})).await;
    decide(&app, &worker, id, json!({"decision": "approve"}))
        .await
        .problem(409, "resident_not_registered");

    let registered = app
        .post_as(
            &worker,
            &format!("/api/v1/applications/{id}/register"),
            &json!({"address": "锦屏街道1号"}),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    let registered = registered.json();
    assert_eq!(registered["registered"], true);
    let resident = registered["resident_id"].as_str().unwrap().to_owned();
    let file = file_of(&app, &worker, &resident).await;
    assert_eq!(file["resident"]["name"], "孙八");
    assert_eq!(file["resident"]["town_code"], JINPING);

    decide(&app, &worker, id, json!({"decision": "approve"}))
        .await
        .problem(422, "validation_failed");
    let approved = decide_ok(
        &app,
        &worker,
        id,
        json!({"decision": "approve", "certificate": {"category": "speech", "grade": 2}}),
    )
    .await;
    let file = file_of(&app, &worker, &resident).await;
    assert_eq!(file["certificates"][0]["id"], approved["effect"]["id"]);
    assert_eq!(file["certificates"][0]["category"], "speech");

    // The new certificate verifies.
    let answer = app
        .client_post(
            &client.token,
            "/api/v1/certificates/verify",
            "",
            &json!({"number": format!("{person}32")}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({
            "valid": true,
            "category": "speech",
            "grade": 2,
            "valid_until": file["certificates"][0]["valid_until"],
            "holder_name": "孙*",
        })
    );
}

/// The file of `resident` read again: its ETag is not `before` any more and it lists
/// `application` as `status`. Answers the new ETag.
async fn moved_on(
    app: &TestApp,
    who: &Session,
    resident: &str,
    before: &str,
    application: &Value,
    status: &str,
    what: &str,
) -> String {
    let (file, etag) = file_with_etag(app, who, resident).await;
    assert_ne!(
        etag, before,
        "{what}: the file's ETag moves on with its applications"
    );
    let listed = file["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == application["id"])
        .unwrap_or_else(|| panic!("{what}: the file lists {}", application["id"]));
    assert_eq!(listed["status"], status, "{what}");
    etag
}

#[actix_web::test]
async fn every_change_of_a_residents_applications_moves_the_files_etag_on() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, None).await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let (resident, number) = register(&app, &worker, "1968-04-04", 81, JINPING, json!({})).await;
    let (file, etag) = file_with_etag(&app, &worker, &resident).await;
    assert!(file["applications"].as_array().unwrap().is_empty());

    let device = submit_ok(
        &app,
        &client,
        &application("assistive_device", &number, "居民81", "E-1"),
    )
    .await;
    let etag = moved_on(
        &app,
        &worker,
        &resident,
        &etag,
        &device,
        "submitted",
        "submitted",
    )
    .await;
    let device_id = device["id"].as_str().unwrap();
    decide_ok(&app, &worker, device_id, json!({"decision": "accept"})).await;
    let etag = moved_on(
        &app, &worker, &resident, &etag, &device, "accepted", "accepted",
    )
    .await;
    // An assistive device has no effect in the file: only the application's status changes.
    decide_ok(&app, &worker, device_id, json!({"decision": "approve"})).await;
    let etag = moved_on(
        &app, &worker, &resident, &etag, &device, "approved", "approved",
    )
    .await;

    let rehab = submit_ok(
        &app,
        &client,
        &application("rehab_service", &number, "居民81", "E-2"),
    )
    .await;
    let etag = moved_on(
        &app,
        &worker,
        &resident,
        &etag,
        &rehab,
        "submitted",
        "second",
    )
    .await;
    decide_ok(
        &app,
        &worker,
        rehab["id"].as_str().unwrap(),
        json!({"decision": "reject", "reason": "已有服务"}),
    )
    .await;
    let etag = moved_on(
        &app, &worker, &resident, &etag, &rehab, "rejected", "rejected",
    )
    .await;

    let withdrawn = submit_ok(
        &app,
        &client,
        &application("rehab_service", &number, "居民81", "E-3"),
    )
    .await;
    let etag = moved_on(
        &app,
        &worker,
        &resident,
        &etag,
        &withdrawn,
        "submitted",
        "third",
    )
    .await;
    let answer = app
        .client_post(
            &client.token,
            &format!(
                "/api/v1/applications/{}/withdraw",
                withdrawn["id"].as_str().unwrap()
            ),
            "w-81",
            &json!({"reason": "不需要了"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    moved_on(
        &app,
        &worker,
        &resident,
        &etag,
        &withdrawn,
        "withdrawn",
        "withdrawn",
    )
    .await;

    // A pending application whose applicant was registered meanwhile joins the file when a
    // caseworker links it.
    let person = id_number("330283", "1969-05-05", 82);
    let pending = submit_ok(
        &app,
        &client,
        &application("assistive_device", &person, "居民82", "E-4"),
    )
    .await;
    assert_eq!(pending["registered"], false);
    let later = register_named(&app, &worker, &person, "居民82", JINPING).await;
    let (file, etag) = file_with_etag(&app, &worker, &later).await;
    assert!(file["applications"].as_array().unwrap().is_empty());
    let linked = app
        .post_as(
            &worker,
            &format!(
                "/api/v1/applications/{}/register",
                pending["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text());
    moved_on(
        &app,
        &worker,
        &later,
        &etag,
        &pending,
        "submitted",
        "linked",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Certificate verification.
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn certificate_verification_says_little_is_rate_limited_and_audited() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(&app, &admin, "浙里办", &["certificates:verify"], None).await;
    let worker = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let (resident, number) = register(&app, &worker, "1970-03-03", 71, JINPING, json!({})).await;
    certify(
        &app,
        &worker,
        &resident,
        &number,
        "physical",
        3,
        "2020-01-01",
    )
    .await;
    let verify = |body: Value| {
        let token = client.token.clone();
        let app = &app;
        async move {
            app.send_with_token(
                &token,
                TestRequest::post()
                    .uri("/api/v1/certificates/verify")
                    .set_json(body),
            )
            .await
        }
    };

    let valid = verify(json!({"number": format!("{number}43")})).await;
    assert_eq!(valid.status, 200, "{}", valid.text());
    let body = valid.json();
    assert_eq!(body["valid"], true);
    assert_eq!(body["holder_name"], "居***");
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["category", "grade", "holder_name", "valid", "valid_until"],
        "nothing else"
    );

    for wrong in [
        format!("{number}44"),   // another grade
        format!("{number}43B1"), // a reissue that was never made
        format!("{}43", id_number("330283", "1970-03-03", 72)),
    ] {
        let answer = verify(json!({ "number": wrong })).await;
        assert_eq!(answer.json(), json!({"valid": false}), "{wrong}");
    }
    verify(json!({"number": "12345"}))
        .await
        .problem(422, "validation_failed");

    // Staff may verify too; a client without the scope may not.
    let staff = app
        .post_as(
            &worker,
            "/api/v1/certificates/verify",
            &json!({"number": format!("{number}43")}),
        )
        .await;
    assert_eq!(staff.json()["valid"], true);
    let writer = register_client(&app, &admin, "写", &["applications:write"], None).await;
    app.send_with_token(
        &writer.token,
        TestRequest::post()
            .uri("/api/v1/certificates/verify")
            .set_json(json!({"number": format!("{number}43")})),
    )
    .await
    .problem(403, "forbidden");

    // Per client a minute: beyond the limit, 429 with Retry-After.
    *app.state.integration.verify_limiter.write().unwrap() =
        RateLimiter::new(2, Duration::from_secs(60));
    verify(json!({"number": format!("{number}43")})).await;
    verify(json!({"number": format!("{number}43")})).await;
    let limited = verify(json!({"number": format!("{number}43")})).await;
    limited.problem(429, "too_many_requests");
    assert!(limited.header("retry-after").is_some());
    let other = app
        .post_as(
            &worker,
            "/api/v1/certificates/verify",
            &json!({"number": format!("{number}43")}),
        )
        .await;
    assert_eq!(other.status, 200, "limits are per caller");

    let verified: Vec<_> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == "certificate_verify")
        .collect();
    assert!(verified.len() >= 7);
    assert!(verified
        .iter()
        .all(|e| !e.changes.as_deref().unwrap_or("").contains(&number)));
    assert!(verified
        .iter()
        .any(|e| e.actor_role.as_deref() == Some("integration")));
}

// ---------------------------------------------------------------------------------------------
// Webhooks.
// ---------------------------------------------------------------------------------------------

/// What the test receiver saw of one request, and what it answered.
#[derive(Debug, Clone)]
struct Hit {
    event_id: String,
    signature: String,
    body: String,
    answered: u16,
}

/// A webhook receiver on 127.0.0.1: it answers 500 to the first `fail_first` deliveries of
/// each event (or always, while `failing`), then 200; each answer takes `delay`.
#[derive(Default)]
struct Receiver {
    hits: Mutex<Vec<Hit>>,
    fail_first: usize,
    failing: Mutex<bool>,
    delay: Duration,
}

async fn hook(req: HttpRequest, body: web::Bytes, receiver: web::Data<Receiver>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let event_id = header("x-event-id");
    if !receiver.delay.is_zero() {
        actix_web::rt::time::sleep(receiver.delay).await;
    }
    let mut hits = receiver.hits.lock().unwrap();
    let earlier = hits.iter().filter(|h| h.event_id == event_id).count();
    let failing = *receiver.failing.lock().unwrap() || earlier < receiver.fail_first;
    let answered = if failing { 500 } else { 200 };
    hits.push(Hit {
        event_id,
        signature: header("x-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        answered,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).finish()
}

/// Starts a receiver and returns it with its URL.
fn start_receiver(fail_first: usize) -> (Arc<Receiver>, String) {
    start_receiver_with(Receiver {
        fail_first,
        ..Receiver::default()
    })
}

fn start_receiver_with(receiver: Receiver) -> (Arc<Receiver>, String) {
    let receiver = web::Data::new(receiver);
    let shared = receiver.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .default_service(web::to(hook))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (receiver.into_inner(), format!("http://{addr}/hooks/zlb"))
}

fn fast(instance: &str) -> WorkerSettings {
    WorkerSettings {
        instance: instance.to_owned(),
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(10),
        http_timeout: Duration::from_secs(3),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        max_attempts: 5,
        batch: 10,
    }
}

fn start_worker(state: &AppState, settings: WorkerSettings) -> WebhookWorker {
    WebhookWorker::start(state.pool.clone(), state.protector.clone(), settings)
}

/// Waits (up to 20 s) until `done` holds, letting the receiver run meanwhile.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks `X-Signature: t=…,v1=hex(HMAC-SHA256(secret, t + "." + body))`, independently of the
/// service's code.
fn assert_signed(hit: &Hit, secret: &str) {
    let (t, v1) = hit
        .signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed signature {}", hit.signature));
    let t: i64 = t.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - t).abs() < 60,
        "a fresh timestamp"
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature verifies");
}

fn accepted_per_event(receiver: &Receiver) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for hit in receiver.hits.lock().unwrap().iter() {
        let entry = counts.entry(hit.event_id.clone()).or_insert(0);
        if hit.answered == 200 {
            *entry += 1;
        }
    }
    counts
}

#[actix_web::test]
async fn a_webhook_failing_twice_gets_each_event_once_accepted_and_signed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (receiver, url) = start_receiver(2);
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, Some(&url)).await;
    let secret = client.webhook_secret.clone().expect("a signing secret");
    let worker_session = app.session("worker", Role::Caseworker, &[JINPING]).await;
    let worker = start_worker(&app.state, fast("only"));

    let submitted = submit_ok(
        &app,
        &client,
        &application(
            "rehab_service",
            &id_number("330283", "1980-01-02", 81),
            "周九",
            "W-1",
        ),
    )
    .await;
    let id = submitted["id"].as_str().unwrap();
    decide_ok(&app, &worker_session, id, json!({"decision": "accept"})).await;

    eventually("both events are accepted", || {
        let counts = accepted_per_event(&receiver);
        counts.len() == 2 && counts.values().all(|n| *n == 1)
    })
    .await;
    worker.stop();

    let hits = receiver.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 6, "two failures then one acceptance, per event");
    for hit in &hits {
        assert_signed(hit, &secret);
        let body: Value = serde_json::from_str(&hit.body).unwrap();
        assert_eq!(body["id"], hit.event_id, "the event id is in the body");
        assert_eq!(body["type"], "application.status_changed");
        assert_eq!(body["data"]["id"], submitted["id"]);
        assert!(body["data"]["resident_id"].is_null());
    }
    let statuses: Vec<String> = hits
        .iter()
        .filter(|h| h.answered == 200)
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap()["data"]["status"].to_string())
        .collect();
    assert!(
        statuses.contains(&"\"submitted\"".to_owned())
            && statuses.contains(&"\"accepted\"".to_owned())
    );

    // The admin sees every attempt; polling gives the same bodies.
    let delivery = app
        .get_as(
            &admin,
            &format!("/api/v1/webhook-deliveries/{}", hits[0].event_id),
        )
        .await;
    assert_eq!(delivery.status, 200, "{}", delivery.text());
    let delivery = delivery.json();
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["attempts"], 3);
    let codes: Vec<&Value> = delivery["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, vec![&json!(500), &json!(500), &json!(200)]);
    let polled = app
        .client_get(&client.token, "/api/v1/application-events")
        .await
        .json();
    let first_hit: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert!(polled["items"].as_array().unwrap().contains(&first_hit));
}

#[actix_web::test]
async fn an_event_is_still_delivered_after_a_restart_mid_retry() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (receiver, url) = start_receiver(2);
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, Some(&url)).await;
    // The first instance waits long between attempts, so it is stopped between two of them.
    let mut slow = fast("before-restart");
    slow.backoff_base = Duration::from_secs(3);
    slow.backoff_max = Duration::from_secs(3);
    let first = start_worker(&app.state, slow);
    submit_ok(
        &app,
        &client,
        &application(
            "rehab_service",
            &id_number("330283", "1980-01-02", 91),
            "吴十",
            "RS-1",
        ),
    )
    .await;
    eventually("the first attempt fails", || {
        receiver.hits.lock().unwrap().len() == 1
    })
    .await;
    // Stop the service: the worker and the app go, the database stays.
    web::block(move || first.stop()).await.unwrap();
    let TestApp { service, state, db } = app;
    drop(service);
    drop(state);
    assert_eq!(receiver.hits.lock().unwrap().len(), 1);

    // A new service on the same database picks the event up where it stood.
    let config = test_config(&db);
    let state = web::block(move || startup::prepare(config))
        .await
        .unwrap()
        .expect("the service starts again");
    let second = start_worker(&state, fast("after-restart"));
    eventually("the event is accepted", || {
        accepted_per_event(&receiver).values().sum::<usize>() == 1
    })
    .await;
    second.stop();
    let hits = receiver.hits.lock().unwrap().clone();
    assert_eq!(
        hits.len(),
        3,
        "one failure before, one failure and the acceptance after"
    );
    assert!(hits.iter().all(|h| h.event_id == hits[0].event_id));
    for hit in &hits {
        assert_signed(hit, client.webhook_secret.as_deref().unwrap());
    }
    let instances: Vec<String> = db::run(&state.pool, |conn| {
        use diesel::prelude::*;
        use fenghua_registry::db::schema::webhook_attempts as a;
        Ok(a::table.order(a::id).select(a::instance).load(conn)?)
    })
    .await
    .unwrap();
    assert_eq!(
        instances,
        ["before-restart", "after-restart", "after-restart"]
    );
    drop(state);
    drop(db);
}

#[actix_web::test]
async fn failed_deliveries_are_listed_for_admins_and_can_be_replayed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (receiver, url) = start_receiver(0);
    *receiver.failing.lock().unwrap() = true;
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, Some(&url)).await;
    let mut settings = fast("replay");
    settings.max_attempts = 2;
    let worker = start_worker(&app.state, settings);
    submit_ok(
        &app,
        &client,
        &application(
            "rehab_service",
            &id_number("330283", "1980-01-02", 95),
            "郑一",
            "F-1",
        ),
    )
    .await;
    let failed_list = || async {
        app.get_as(&admin, "/api/v1/webhook-deliveries?state=failed")
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let items = failed_list().await;
        if !items.is_empty() {
            break items;
        }
        assert!(Instant::now() < deadline, "the delivery fails");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed[0]["attempts"], 2);
    assert_eq!(failed[0]["last_error"], "answered 500");
    assert_eq!(failed[0]["client_id"], client.id);

    *receiver.failing.lock().unwrap() = false;
    let event = failed[0]["id"].as_str().unwrap();
    let replayed = app
        .post_as(
            &admin,
            &format!("/api/v1/webhook-deliveries/{event}/replay"),
            &json!({}),
        )
        .await;
    assert_eq!(replayed.status, 200, "{}", replayed.text());
    assert_eq!(replayed.json()["state"], "pending");
    eventually("the replay is accepted", || {
        accepted_per_event(&receiver).get(event) == Some(&1)
    })
    .await;
    worker.stop();
    let delivered = app
        .get_as(&admin, &format!("/api/v1/webhook-deliveries/{event}"))
        .await
        .json();
    assert_eq!(delivered["state"], "delivered");
    assert_eq!(delivered["history"].as_array().unwrap().len(), 3);
    app.post_as(
        &admin,
        "/api/v1/webhook-deliveries/00000000-0000-4000-8000-000000000000/replay",
        &json!({}),
    )
    .await
    .problem(404, "not_found");
    assert!(app
        .audit_events()
        .await
        .iter()
        .any(|e| e.action == "webhook_replay"));
}

#[actix_web::test]
async fn two_instances_on_one_database_deliver_each_event_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // Each delivery takes 30 ms, so while one instance delivers a batch of three the other,
    // polling every 20 ms, finds the next events due: both get a share even when one of them
    // is quicker to claim on a loaded machine.
    let (receiver, url) = start_receiver_with(Receiver {
        delay: Duration::from_millis(30),
        ..Receiver::default()
    });
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, Some(&url)).await;
    // A second instance: its own pool on the same database.
    let config = test_config(&app.db);
    let other = web::block(move || startup::prepare(config))
        .await
        .unwrap()
        .expect("a second instance starts");
    let mut a_settings = fast("instance-a");
    a_settings.batch = 3;
    let mut b_settings = fast("instance-b");
    b_settings.batch = 3;
    let a = start_worker(&app.state, a_settings);
    let b = start_worker(&other, b_settings);
    // Both are polling before the events come, so both get a share.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    const EVENTS: usize = 30;
    for i in 0..EVENTS {
        submit_ok(
            &app,
            &client,
            &application(
                "assistive_device",
                &id_number("330283", "1985-01-01", 100 + i as u16),
                "冯二",
                &format!("T-{i}"),
            ),
        )
        .await;
    }
    eventually("every event is accepted", || {
        accepted_per_event(&receiver).len() == EVENTS
    })
    .await;
    // Give a double delivery time to show.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    a.stop();
    b.stop();
    let counts = accepted_per_event(&receiver);
    assert_eq!(counts.len(), EVENTS);
    assert!(
        counts.values().all(|n| *n == 1),
        "each event once: {counts:?}"
    );
    assert_eq!(receiver.hits.lock().unwrap().len(), EVENTS);
    let by_instance: Vec<String> = db::run(&app.state.pool, |conn| {
        use diesel::prelude::*;
        use fenghua_registry::db::schema::webhook_attempts as a;
        Ok(a::table.select(a::instance).load(conn)?)
    })
    .await
    .unwrap();
    assert_eq!(by_instance.len(), EVENTS);
    let (by_a, by_b) = (
        by_instance.iter().filter(|i| *i == "instance-a").count(),
        by_instance.iter().filter(|i| *i == "instance-b").count(),
    );
    println!("instance-a delivered {by_a}, instance-b {by_b}");
    assert!(by_a > 0 && by_b > 0, "both instances took a share");
}

/// A claim takes at most its batch of the due events, whatever else is due: on PostgreSQL the
/// limited `FOR UPDATE SKIP LOCKED` subquery of an `IN` was evaluated again for each row, and
/// one instance claimed every due event at once.
#[actix_web::test]
async fn a_claim_takes_at_most_its_batch() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_receiver, url) = start_receiver(0);
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, Some(&url)).await;
    for i in 0..10u16 {
        submit_ok(
            &app,
            &client,
            &application(
                "assistive_device",
                &id_number("330283", "1986-02-03", 200 + i),
                "冯三",
                &format!("B-{i}"),
            ),
        )
        .await;
    }
    let now = db::now();
    let batches = db::run(&app.state.pool, move |conn| {
        let lease = now + chrono::Duration::seconds(60);
        let mut sizes = Vec::new();
        for instance in ["first", "second", "third", "fourth"] {
            let claimed =
                fenghua_registry::db::integration::claim_due(conn, instance, now, lease, 3)?;
            sizes.push(claimed.len());
        }
        Ok(sizes)
    })
    .await
    .unwrap();
    assert_eq!(batches, vec![3, 3, 3, 1]);
}

/// A stopped instance's claims run out and another instance takes them over.
#[actix_web::test]
async fn a_stopped_instances_claims_are_taken_over() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (receiver, url) = start_receiver(0);
    let client = register_client(&app, &admin, "浙里办", ALL_SCOPES, Some(&url)).await;
    submit_ok(
        &app,
        &client,
        &application(
            "rehab_service",
            &id_number("330283", "1980-01-02", 140),
            "陈三",
            "S-1",
        ),
    )
    .await;
    // An instance claims the event and dies before sending it.
    let now = db::now();
    let claimed = db::run(&app.state.pool, move |conn| {
        Ok(fenghua_registry::db::integration::claim_due(
            conn,
            "crashed",
            now,
            now + chrono::Duration::milliseconds(500),
            10,
        )?)
    })
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let worker = start_worker(&app.state, fast("survivor"));
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert!(
        receiver.hits.lock().unwrap().is_empty(),
        "the claim holds while it lasts"
    );
    eventually("the survivor delivers", || {
        accepted_per_event(&receiver).values().sum::<usize>() == 1
    })
    .await;
    worker.stop();
}

/// Instances claiming at the same moment never get the same event.
#[actix_web::test]
async fn concurrent_claims_never_take_an_event_twice() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let client = register_client(
        &app,
        &admin,
        "浙里办",
        ALL_SCOPES,
        Some("http://127.0.0.1:9/unused"),
    )
    .await;
    const EVENTS: usize = 60;
    for i in 0..EVENTS {
        submit_ok(
            &app,
            &client,
            &application(
                "assistive_device",
                &id_number("330283", "1986-01-01", 200 + i as u16),
                "褚四",
                &format!("C-{i}"),
            ),
        )
        .await;
    }
    let config = test_config(&app.db);
    let other = web::block(move || startup::prepare(config))
        .await
        .unwrap()
        .expect("a second instance starts");
    let pools = [app.state.pool.clone(), other.pool.clone()];
    let claimed = web::block(move || {
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let pool = pools[t % 2].clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let mut conn = pool.get().unwrap();
                        let now = db::now();
                        let rows = fenghua_registry::db::integration::claim_due(
                            &mut conn,
                            &format!("claimer-{t}"),
                            now,
                            now + chrono::Duration::seconds(60),
                            4,
                        )
                        .unwrap();
                        if rows.is_empty() {
                            break mine;
                        }
                        mine.extend(rows.into_iter().map(|r| r.public_id));
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let all: Vec<&String> = claimed.iter().flatten().collect();
    let distinct: std::collections::HashSet<&&String> = all.iter().collect();
    assert_eq!(
        all.len(),
        EVENTS,
        "every event claimed once: {:?}",
        claimed.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(distinct.len(), EVENTS);
}
