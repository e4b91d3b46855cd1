//! `spawn_app()`: the real service, in-process, against a brand-new database.
//!
//! SQLite by default (a temporary file per test). With `TEST_DATABASE_URL=postgres://…` each
//! test gets its own PostgreSQL schema in that database, dropped when the test ends.

use std::path::PathBuf;
use std::time::Duration;

use actix_http::Request;
use actix_web::body::{to_bytes, BoxBody};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::test;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;

use fenghua_registry::config::{AuthConfig, Config, FieldKeys, ReportConfig, Secret};
use fenghua_registry::db::{DatabaseUrl, PoolSettings};
use fenghua_registry::secrets::AppEnv;
use fenghua_registry::startup::{self, AppState};

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
