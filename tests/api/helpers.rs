//! `spawn_app()`: the real service, in-process, against a brand-new database.
//!
//! SQLite by default (a temporary file per test). With `TEST_DATABASE_URL=postgres://…` each
//! test gets its own PostgreSQL schema in that database, dropped when the test ends.
//!
//! Below it, the one copy of each request, fixture and check that more than one test module
//! uses (`register`, `certify`, `file_of`, `patch`, `field_errors`, `assert_invalid`, …); users
//! and sessions are in `session.rs`, what the other test binaries share too in `../shared/`.

use std::path::PathBuf;
use std::time::Duration;

use actix_http::Request;
use actix_web::body::{to_bytes, BoxBody};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::test;
use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryDsl, RunQueryDsl};
use serde_json::{json, Value};

use fenghua_registry::config::{AuthConfig, Config, FieldKeys, ReportConfig};
use fenghua_registry::db::audit::AuditRow;
use fenghua_registry::db::schema::certificates;
use fenghua_registry::db::{DatabaseUrl, PoolSettings};
use fenghua_registry::domain::certificate::Category;
use fenghua_registry::domain::role::Role;
use fenghua_registry::secrets::AppEnv;
use fenghua_registry::secrets::Secret;
use fenghua_registry::startup;
use fenghua_registry::state::AppState;

use crate::session::{etag, id_number, Session, JINPING, XIKOU};

pub struct TestDb {
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    PostgresSchema { admin_url: String, schema: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresSchema { admin_url, schema } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                    let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            }
        }
    }
}

/// A fresh, empty database on the backend chosen by `TEST_DATABASE_URL`.
pub fn fresh_database() -> TestDb {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(admin_url) => fresh_postgres_database(&admin_url),
        None => {
            let dir = std::env::temp_dir().join(format!("fenghua-test-{tag}"));
            TestDb {
                url: DatabaseUrl::Sqlite(dir.join("registry.db")),
                cleanup: Cleanup::SqliteDir(dir),
            }
        }
    }
}

/// A fresh schema in the PostgreSQL database `admin_url`.
pub fn fresh_postgres_database(admin_url: &str) -> TestDb {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = diesel::PgConnection::establish(admin_url)
        .unwrap_or_else(|e| panic!("{admin_url} is not reachable: {e}"));
    conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options=-csearch_path%3D{schema}");
    TestDb {
        url: DatabaseUrl::parse(&url).unwrap(),
        cleanup: Cleanup::PostgresSchema {
            admin_url: admin_url.to_owned(),
            schema,
        },
    }
}

pub fn test_config(db: &TestDb) -> Config {
    let data_dir =
        std::env::temp_dir().join(format!("fenghua-data-{}", uuid::Uuid::new_v4().simple()));
    Config {
        database_url: db.url.clone(),
        data_dir,
        bind: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        pool: PoolSettings {
            max_size: 4,
            checkout_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(60)),
        },
        body_limit_bytes: 1024 * 1024,
        certificate_expiring_days: 90,
        default_language: fenghua_registry::messages::Lang::Zh,
        import_limit_bytes: 32 * 1024 * 1024,
        client_timeouts: Default::default(),
        metrics_bind: None,
        shutdown_timeout: Duration::from_secs(1),
        app_env: AppEnv::Embedded,
        auth: AuthConfig::with_secret(b"test-signing-secret-0123456789-abcdefghij".to_vec()),
        keys: FieldKeys {
            encryption: Secret(b"test-field-encryption-key-0123456789-abcdef".to_vec()),
            blind_index: Secret(b"test-blind-index-key-0123456789-abcdefghijk".to_vec()),
            audit_chain: Secret(b"test-audit-chain-key-0123456789-abcdefghijk".to_vec()),
        },
        reports: ReportConfig::default(),
        storage: Default::default(),
    }
}

type BoxedFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>>,
>;
type TestService = Box<
    dyn Service<
        Request,
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        Future = BoxedFuture,
    >,
>;

/// The running service and the database behind it.
pub struct TestApp {
    pub service: TestService,
    pub state: AppState,
    // Dropped last: the schema or file goes when the test ends.
    pub db: TestDb,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(fresh_database(), adjust).await
}

/// Like [`spawn_app_with`], on PostgreSQL whatever `TEST_DATABASE_URL` says: for the
/// PostgreSQL-only tests (see [`crate::shared::postgres_admin_url`]).
pub async fn spawn_postgres_app_with(admin_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(fresh_postgres_database(admin_url), adjust).await
}

async fn spawn_app_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
    // `TEST_LOG=debug cargo test …` shows the service's logs.
    if let Ok(level) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(level)
            .with_test_writer()
            .try_init();
    }
    let mut config = test_config(&db);
    adjust(&mut config);
    let state = actix_web::web::block(move || startup::prepare(config))
        .await
        .unwrap()
        .expect("the service starts");
    let service = test::init_service(startup::app(state.clone())).await;
    let service: TestService = Box::new(BoxedService(service));
    TestApp { service, state, db }
}

/// Adapts the app's concrete service to a boxed body, so `TestApp` has a nameable type.
struct BoxedService<S>(S);

impl<S, B> Service<Request> for BoxedService<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = BoxedFuture;

    fn poll_ready(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&self, req: Request) -> Self::Future {
        let fut = self.0.call(req);
        Box::pin(async move { fut.await.map(|res| res.map_into_boxed_body()) })
    }
}

/// A response read whole: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and code, and returns its body.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            self.text()
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "content type; body: {}",
            self.text()
        );
        let body = self.json();
        assert_eq!(body["code"], code, "problem code; body: {body}");
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string());
        assert!(body["type"].is_string());
        body
    }
}

impl TestApp {
    /// Sends a request; every answer is checked against `openapi.yaml` (see `contract.rs`).
    pub async fn send(&self, req: test::TestRequest) -> Answer {
        let req = req.to_request();
        let (method, uri) = (req.method().to_string(), req.uri().to_string());
        // A CORS preflight is answered by the CORS layer, not by an operation of the API.
        let preflight = req
            .head()
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
            && method == "OPTIONS";
        let res = self.service.call(req).await.expect("the service answers");
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body()).await.unwrap_or_default().to_vec();
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !preflight {
            crate::contract::check_response(&method, &uri, status.as_u16(), content_type, &body);
        } else if !status.is_success() {
            assert_eq!(
                content_type,
                Some("application/problem+json"),
                "refused preflight"
            );
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(test::TestRequest::get().uri(path)).await
    }

    pub async fn request(&self, method: Method, path: &str) -> Answer {
        self.send(test::TestRequest::default().method(method).uri(path))
            .await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.send(test::TestRequest::post().uri(path).set_json(body))
            .await
    }

    /// Sends raw bytes with the given content type (or none).
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        let mut req = test::TestRequest::post().uri(path).set_payload(body);
        if let Some(ct) = content_type {
            req = req.insert_header((header::CONTENT_TYPE, ct));
        }
        self.send(req).await
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.db.url, DatabaseUrl::Postgres(_))
    }
}

/// A district of `residents` synthetic residents, written by `seed-demo` into the app's database.
/// The tests on it compare many reports taken by one admin, so `REPORT_RATE_LIMIT` is off.
pub async fn seeded_district(residents: u64) -> (TestApp, crate::session::Session) {
    let app = spawn_app_with(|c| c.auth.route_limits.report = 0).await;
    let url = app.db.url.clone();
    let keys = app.state.config.keys.clone();
    actix_web::web::block(move || {
        fenghua_registry::demo::seed(
            &url,
            &keys,
            &fenghua_registry::demo::Options {
                residents,
                seed: 20261206,
                force: false,
            },
            &mut |_, _, _| {},
        )
    })
    .await
    .unwrap()
    .expect("seed-demo writes the district");
    let admin = app.admin().await;
    (app, admin)
}

// ---------------------------------------------------------------------------------------------
// Requests, fixtures and checks the test modules share. Each exists once, here: a module that
// needs a variant builds it on these.
// ---------------------------------------------------------------------------------------------

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a real date")
}

/// How the API shows an ID number or a certificate number: the region only, then the
/// certificate's category, grade and reissue suffix (issue 9: birth date, sequence and check
/// character hidden).
pub fn masked(number: &str) -> String {
    format!("{}************{}", &number[..6], &number[18..])
}

/// The number of certificate rows in the database, of every resident.
pub async fn certificate_rows(app: &TestApp) -> i64 {
    fenghua_registry::db::run(&app.state.pool, |conn| {
        Ok(certificates::table.count().get_result::<i64>(conn)?)
    })
    .await
    .unwrap()
}

/// The service's today (the day every date rule is checked against).
pub fn today() -> NaiveDate {
    fenghua_registry::domain::today()
}

/// `today` moved by `days`, as `YYYY-MM-DD`.
pub fn days_from_today(days: i64) -> String {
    (today() + chrono::Duration::days(days)).to_string()
}

pub fn resident_path(resident: &str) -> String {
    format!("/api/v1/residents/{resident}")
}

/// The smallest valid registration.
pub fn resident_body(number: &str, name: &str, town: &str) -> Value {
    json!({ "id_number": number, "name": name, "town_code": town })
}

/// Registers `body` (`POST /api/v1/residents`), asserting 201; returns the resident.
pub async fn register_resident(app: &TestApp, who: &Session, body: Value) -> Value {
    let answer = app.create_resident(who, &body).await;
    assert_eq!(answer.status, 201, "register {body}: {}", answer.text());
    answer.json()
}

/// The `id` of an object the API answered.
#[track_caller]
pub fn id_of(object: &Value) -> String {
    object["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {object}"))
        .to_owned()
}

/// Registers the holder of `id_number` (registered 2010-01-01 unless `extra` says otherwise);
/// returns its id.
pub async fn register_with(
    app: &TestApp,
    who: &Session,
    id_number: &str,
    name: &str,
    town: &str,
    extra: Value,
) -> String {
    let mut body = json!({
        "id_number": id_number,
        "name": name,
        "town_code": town,
        "registered_on": "2010-01-01",
    });
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    id_of(&register_resident(app, who, body).await)
}

/// Registers the holder of `id_number` with `name` in `town`; returns its id.
pub async fn register_named(
    app: &TestApp,
    who: &Session,
    id_number: &str,
    name: &str,
    town: &str,
) -> String {
    register_with(app, who, id_number, name, town, json!({})).await
}

/// Registers a resident born on `birth` (named 居民`sequence`, registered 2010-01-01 unless
/// `extra` says otherwise) and returns its id and ID number.
pub async fn register(
    app: &TestApp,
    who: &Session,
    birth: &str,
    sequence: u16,
    town: &str,
    extra: Value,
) -> (String, String) {
    let number = id_number("330283", birth, sequence);
    let name = format!("居民{sequence}");
    let resident = register_with(app, who, &number, &name, town, extra).await;
    (resident, number)
}

/// A certificate for the holder of `number` in `category` (its code): its number is
/// the ID number, then the category's digit and the grade.
pub fn certificate_body(number: &str, category: &str, grade: i32, issued_on: &str) -> Value {
    let digit = Category::parse(category).expect("a category").digit();
    json!({
        "number": format!("{number}{digit}{grade}"),
        "category": category,
        "grade": grade,
        "issued_on": issued_on,
    })
}

/// `POST /residents/{id}/certificates` as `who`.
pub async fn issue_certificate(
    app: &TestApp,
    who: &Session,
    resident: &str,
    body: &Value,
) -> Answer {
    app.post_as(
        who,
        &format!("{}/certificates", resident_path(resident)),
        body,
    )
    .await
}

/// Issues a certificate that must be issued (201); returns it.
pub async fn issued_certificate(
    app: &TestApp,
    who: &Session,
    resident: &str,
    body: &Value,
) -> Value {
    let answer = issue_certificate(app, who, resident, body).await;
    assert_eq!(answer.status, 201, "certificate {body}: {}", answer.text());
    answer.json()
}

/// Issues a certificate of `category` and `grade` to the holder of `number`; returns its id.
pub async fn certify(
    app: &TestApp,
    who: &Session,
    resident: &str,
    number: &str,
    category: &str,
    grade: i32,
    issued_on: &str,
) -> String {
    let body = certificate_body(number, category, grade, issued_on);
    id_of(&issued_certificate(app, who, resident, &body).await)
}

/// Adds a record to a section of the file (`rehab-needs`, `education`, …), asserting 201;
/// returns it.
pub async fn record(
    app: &TestApp,
    who: &Session,
    resident: &str,
    route: &str,
    body: Value,
) -> Value {
    let answer = app
        .post_as(who, &format!("{}/{route}", resident_path(resident)), &body)
        .await;
    assert_eq!(answer.status, 201, "{route} {body}: {}", answer.text());
    answer.json()
}

/// Moves the resident to `town` on `moved_on` (`POST …/moves`), asserting 201 and the new town.
pub async fn move_to(app: &TestApp, who: &Session, resident: &str, town: &str, moved_on: &str) {
    let answer = app
        .post_as(
            who,
            &format!("{}/moves", resident_path(resident)),
            &json!({"town_code": town, "moved_on": moved_on}),
        )
        .await;
    assert_eq!(answer.status, 201, "move: {}", answer.text());
    assert_eq!(answer.json()["town_code"], town);
}

/// Grants the subsidy `body` describes (`kind`, `start_month`, …), asserting 201; returns the
/// grant.
pub async fn subsidy_granted(app: &TestApp, who: &Session, resident: &str, body: &Value) -> Value {
    let answer = app
        .post_as(who, &format!("{}/subsidies", resident_path(resident)), body)
        .await;
    assert_eq!(answer.status, 201, "grant {body}: {}", answer.text());
    answer.json()
}

/// Like [`subsidy_granted`]; returns the grant's id.
pub async fn grant_subsidy(app: &TestApp, who: &Session, resident: &str, body: Value) -> String {
    id_of(&subsidy_granted(app, who, resident, &body).await)
}

/// Grants a subsidy (`living` or `nursing`) from `start_month` (`YYYY-MM`); returns the grant's
/// id. It always gives an override reason, so a fixture may pay someone not eligible on purpose
/// (for an eligible resident the reason is ignored).
pub async fn grant(
    app: &TestApp,
    who: &Session,
    resident: &str,
    kind: &str,
    start_month: &str,
) -> String {
    let body = json!({"kind": kind, "start_month": start_month, "override_reason": "测试数据"});
    grant_subsidy(app, who, resident, body).await
}

/// Acts on a grant (`suspend`, `resume`, `terminate`), asserting 200.
pub async fn grant_action(
    app: &TestApp,
    who: &Session,
    resident: &str,
    grant: &str,
    action: &str,
    body: Value,
) {
    let path = format!("{}/subsidies/{grant}/{action}", resident_path(resident));
    let answer = app.post_as(who, &path, &body).await;
    assert_eq!(answer.status, 200, "{action} {body}: {}", answer.text());
}

/// The district's 12 towns in code order, as `by_town` lists them.
pub const TOWNS: [(&str, &str); 12] = [
    ("330213001", "锦屏街道"),
    ("330213002", "岳林街道"),
    ("330213003", "江口街道"),
    ("330213004", "西坞街道"),
    ("330213005", "萧王庙街道"),
    ("330213006", "方桥街道"),
    ("330213007", "尚田街道"),
    ("330213008", "莼湖街道"),
    ("330213100", "溪口镇"),
    ("330213106", "裘村镇"),
    ("330213107", "大堰镇"),
    ("330213108", "松岙镇"),
];

pub fn town_name(code: &str) -> &'static str {
    TOWNS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
        .unwrap_or_else(|| panic!("{code} is not a town of the district"))
}

/// A PATCH of `path` with an optional `If-Match`, to send later (or several at once).
pub fn patch_request(path: &str, if_match: Option<&str>, body: &Value) -> test::TestRequest {
    let mut req = test::TestRequest::patch().uri(path).set_json(body);
    if let Some(etag) = if_match {
        req = req.insert_header((header::IF_MATCH, etag));
    }
    req
}

/// PATCH with an optional `If-Match`.
pub async fn patch(
    app: &TestApp,
    who: &Session,
    path: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Answer {
    app.send_as(who, patch_request(path, if_match, body)).await
}

/// PATCH of `path` under the ETag it has now (read first, asserting 200).
pub async fn patch_current(app: &TestApp, who: &Session, path: &str, body: &Value) -> Answer {
    let current = app.get_as(who, path).await;
    assert_eq!(current.status, 200, "{}", current.text());
    patch(app, who, path, Some(&etag(&current)), body).await
}

/// Changes a resident (with its current ETag), asserting 200.
pub async fn change_resident(app: &TestApp, who: &Session, resident: &str, body: Value) {
    let answer = patch_current(app, who, &resident_path(resident), &body).await;
    assert_eq!(answer.status, 200, "change {body}: {}", answer.text());
}

/// `GET /residents/{id}/file`, asserting 200: the body and its ETag.
pub async fn file_with_etag(app: &TestApp, who: &Session, resident: &str) -> (Value, String) {
    let answer = app
        .get_as(who, &format!("{}/file", resident_path(resident)))
        .await;
    assert_eq!(answer.status, 200, "file: {}", answer.text());
    (answer.json(), etag(&answer))
}

/// `GET /residents/{id}/file`, asserting 200.
pub async fn file_of(app: &TestApp, who: &Session, resident: &str) -> Value {
    file_with_etag(app, who, resident).await.0
}

/// The `(field, code)` of each entry of a list of errors (a problem's, an import row's).
#[track_caller]
pub fn field_codes(errors: &Value) -> Vec<(String, String)> {
    errors
        .as_array()
        .unwrap_or_else(|| panic!("no list of errors: {errors}"))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The `(field, code)` pairs of a 422 problem, asserting it is one.
#[track_caller]
pub fn field_errors(answer: &Answer) -> Vec<(String, String)> {
    let problem = answer.problem(422, "validation_failed");
    field_codes(&problem["errors"])
}

/// Asserts a 422 naming `field`, with `code` unless it is `None`.
#[track_caller]
pub fn assert_invalid(answer: &Answer, field: &str, code: Option<&str>) {
    let errors = field_errors(answer);
    assert!(
        errors
            .iter()
            .any(|(f, c)| f == field && code.is_none_or(|code| c == code)),
        "expected {field}/{code:?} among {errors:?}"
    );
}

/// The audit events of `action`, oldest first.
pub async fn events(app: &TestApp, action: &str) -> Vec<AuditRow> {
    app.audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

/// The `changes` an audit event recorded, asserting it recorded some.
pub fn changes(event: &AuditRow) -> Value {
    serde_json::from_str(event.changes.as_deref().expect("changes recorded")).unwrap()
}

/// A caseworker of 锦屏 and a resident of 溪口 it must not reach (made by an admin).
pub async fn out_of_town(app: &TestApp, admin: &Session) -> (Session, String) {
    let outsider = app.session("jinping", Role::Caseworker, &[JINPING]).await;
    let (resident, _) = register(app, admin, "1975-04-04", 901, XIKOU, json!({})).await;
    (outsider, resident)
}

/// Asserts that the last `count` access_denied events are `who`'s attempts on `resident`.
pub async fn assert_denied(app: &TestApp, who: &Session, resident: &str, count: usize) {
    let denied = events(app, "access_denied").await;
    let about: Vec<_> = denied
        .iter()
        .filter(|e| e.resident_id.as_deref() == Some(resident))
        .collect();
    assert_eq!(about.len(), count, "one access_denied event per attempt");
    for event in about {
        assert_eq!(event.actor_username.as_deref(), Some(who.username.as_str()));
        assert_eq!(event.outcome, "denied");
    }
}

/// `GET /api/v1/audit-events/verify` as `who`, asserting 200: the chain's report.
pub async fn verify_chain(app: &TestApp, who: &Session) -> Value {
    let answer = app.get_as(who, "/api/v1/audit-events/verify").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// Runs SQL on the app's own database (on PostgreSQL, in the test's schema): the database's
/// refusal, if it refuses.
pub async fn try_sql(app: &TestApp, statements: impl Into<String>) -> Result<(), String> {
    let statements = statements.into();
    fenghua_registry::db::run(&app.state.pool, move |conn| {
        Ok(conn.batch_execute(&statements).map_err(|e| e.to_string()))
    })
    .await
    .unwrap()
}

/// Runs SQL on the app's own database, which must accept it.
pub async fn sql(app: &TestApp, statements: impl Into<String>) {
    if let Err(e) = try_sql(app, statements).await {
        panic!("SQL failed: {e}");
    }
}
