//! The webhook worker: claims due outbox events with a lease, POSTs each to its client's URL,
//! signed, and records every attempt; a failed attempt is retried with exponential backoff and
//! jitter until the attempts run out. It runs on its own thread with a blocking HTTP client
//! (ureq, rustls), so it never holds an async worker.
//!
//! Delivery is at least once: the event id travels in the body and in `X-Event-Id` for the
//! client to deduplicate. Several instances on one database share the outbox through the lease
//! (`claimed_until`): each due event is claimed by one of them, and the claims of an instance
//! that stopped run out and are taken over.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng;

use super::clients::webhook_secret;
use super::idempotency;
use super::model::{backoff, signature, DeliveryState};
use crate::db::integration::{self as store, AttemptOutcome, EventRow};
use crate::db::{self, Pool};
use crate::error::AppError;
use crate::protect::Protector;

/// The worker's timing, from the environment in production and set directly by tests.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Names this instance in claims and attempts.
    pub instance: String,
    /// How often to look for due events when there were none.
    pub poll_interval: Duration,
    /// How long a claim holds; longer than a delivery can take.
    pub lease: Duration,
    pub http_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Attempts before an event is marked failed (an admin may replay it).
    pub max_attempts: i32,
    /// Events claimed at a time.
    pub batch: i64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl WorkerSettings {
    /// `WEBHOOK_POLL_INTERVAL_MS` (1000), `WEBHOOK_LEASE_SECS` (60), `WEBHOOK_TIMEOUT_SECS`
    /// (10), `WEBHOOK_BACKOFF_BASE_MS` (5000), `WEBHOOK_BACKOFF_MAX_SECS` (3600),
    /// `WEBHOOK_MAX_ATTEMPTS` (12), `WEBHOOK_BATCH` (20).
    pub fn from_env() -> Self {
        let http_timeout = Duration::from_secs(env_u64("WEBHOOK_TIMEOUT_SECS", 10).max(1));
        WorkerSettings {
            instance: default_instance(),
            poll_interval: Duration::from_millis(env_u64("WEBHOOK_POLL_INTERVAL_MS", 1000).max(10)),
            lease: Duration::from_secs(env_u64("WEBHOOK_LEASE_SECS", 60)).max(http_timeout * 3),
            http_timeout,
            backoff_base: Duration::from_millis(env_u64("WEBHOOK_BACKOFF_BASE_MS", 5000)),
            backoff_max: Duration::from_secs(env_u64("WEBHOOK_BACKOFF_MAX_SECS", 3600)),
            max_attempts: env_u64("WEBHOOK_MAX_ATTEMPTS", 12).clamp(1, 100) as i32,
            batch: env_u64("WEBHOOK_BATCH", 20).clamp(1, 500) as i64,
        }
    }
}

/// The host's name (when known), the process id and a random suffix.
pub fn default_instance() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "instance".to_owned());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &tag[..8])
}

#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    fn is_set(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps up to `timeout`; true when stopped meanwhile.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    fn set(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_all();
    }
}

/// A running worker. Stopping it (or dropping it) lets the delivery in flight finish.
pub struct WebhookWorker {
    stop: Arc<StopSignal>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookWorker {
    pub fn start(pool: Pool, protector: Arc<Protector>, settings: WorkerSettings) -> Self {
        let stop = Arc::new(StopSignal::default());
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("webhook-worker".to_owned())
            .spawn(move || run(&pool, &protector, &settings, &signal))
            .expect("the webhook worker thread starts");
        WebhookWorker {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the worker and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.set();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WebhookWorker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn agent(settings: &WorkerSettings) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(settings.http_timeout))
        .http_status_as_error(false)
        // A redirect is not an acceptance: the client registers the URL that answers.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .build()
        .into()
}

fn run(pool: &Pool, protector: &Protector, settings: &WorkerSettings, stop: &StopSignal) {
    tracing::info!(instance = %settings.instance, "webhook worker started");
    let agent = agent(settings);
    let mut last_purge: Option<Instant> = None;
    while !stop.is_set() {
        let worked = match tick(pool, protector, settings, &agent, stop) {
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(%error, "webhook worker: a round failed");
                0
            }
        };
        if last_purge.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_purge = Some(Instant::now());
            if let Ok(mut conn) = db::checkout(pool) {
                match idempotency::purge(&mut conn) {
                    Ok(n) if n > 0 => tracing::info!(forgotten = n, "idempotency keys expired"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "idempotency keys not purged"),
                }
            }
        }
        if worked == 0 && stop.wait(settings.poll_interval) {
            break;
        }
    }
    tracing::info!(instance = %settings.instance, "webhook worker stopped");
}

/// One round: claims due events and delivers them; returns how many were claimed.
fn tick(
    pool: &Pool,
    protector: &Protector,
    settings: &WorkerSettings,
    agent: &ureq::Agent,
    stop: &StopSignal,
) -> Result<usize, AppError> {
    let now = db::now();
    let lease_until = now
        + chrono::Duration::from_std(settings.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
    let events = {
        let mut conn = db::checkout(pool)?;
        store::claim_due(
            &mut conn,
            &settings.instance,
            now,
            lease_until,
            settings.batch,
        )?
    };
    let claimed = events.len();
    for event in events {
        if stop.is_set() {
            // Unsent claims run out with their lease and are taken over.
            break;
        }
        deliver(pool, protector, settings, agent, &event, lease_until)?;
    }
    Ok(claimed)
}

/// What one POST gave: the status code, or why there was none.
fn post(
    agent: &ureq::Agent,
    url: &str,
    secret: &str,
    event: &EventRow,
) -> (Option<i32>, Option<String>) {
    let t = chrono::Utc::now().timestamp();
    let sent = agent
        .post(url)
        .header("X-Signature", signature(secret, t, &event.body))
        .header("X-Event-Id", event.public_id.as_str())
        .header("X-Event-Type", event.event_type.as_str())
        .header("User-Agent", "fenghua-registry-webhooks")
        .content_type("application/json")
        .send(event.body.as_str());
    match sent {
        Ok(response) => {
            let code = i32::from(response.status().as_u16());
            let error = (!(200..300).contains(&code)).then(|| format!("answered {code}"));
            (Some(code), error)
        }
        Err(e) => (None, Some(e.to_string().chars().take(300).collect())),
    }
}

fn deliver(
    pool: &Pool,
    protector: &Protector,
    settings: &WorkerSettings,
    agent: &ureq::Agent,
    event: &EventRow,
    claimed_until: chrono::NaiveDateTime,
) -> Result<(), AppError> {
    let client = {
        let mut conn = db::checkout(pool)?;
        store::client_by_id(&mut conn, event.client_id)?
    };
    let started_at = db::now();
    let clock = Instant::now();
    let (status_code, error) = match (&client.webhook_url, webhook_secret(protector, &client)) {
        _ if client.disabled => (None, Some("the client is disabled".to_owned())),
        (Some(url), Some(secret)) => post(agent, url, &secret, event),
        _ => (None, Some("the client has no webhook URL".to_owned())),
    };
    let attempt = event.attempts + 1;
    let now = db::now();
    let (state, next_attempt_at) = if error.is_none() {
        (DeliveryState::Delivered, now)
    } else if attempt >= settings.max_attempts {
        (DeliveryState::Failed, now)
    } else {
        let wait = backoff(
            attempt,
            settings.backoff_base,
            settings.backoff_max,
            rand::thread_rng().gen::<f64>(),
        );
        let wait = chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1));
        (DeliveryState::Pending, now + wait)
    };
    let outcome = AttemptOutcome {
        event_id: event.id,
        instance: &settings.instance,
        claimed_until,
        attempt,
        started_at,
        duration_ms: clock.elapsed().as_millis() as i64,
        status_code,
        error: error.as_deref(),
        state: state.as_str(),
        next_attempt_at,
        now,
    };
    let mut conn = db::checkout(pool)?;
    let kept = db::write_transaction(&mut conn, |conn| store::record_attempt(conn, &outcome))?;
    match (kept, state) {
        (false, _) => tracing::warn!(
            event = %event.public_id,
            "webhook claim ran out before the attempt was recorded; another instance took it"
        ),
        (true, DeliveryState::Delivered) => {
            tracing::info!(event = %event.public_id, attempt, "webhook delivered")
        }
        (true, _) => tracing::warn!(
            event = %event.public_id,
            attempt,
            state = state.as_str(),
            error = error.as_deref().unwrap_or(""),
            "webhook not accepted"
        ),
    }
    Ok(())
}
