//! A write load over HTTP and the check that every write it got acknowledged is stored
//! (`write_load.rs`): writers that each, in turn, register a resident, add a section record to
//! one of a few residents, change the one shared resident under `If-Match`, and import a small
//! CSV file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::json;

use super::{get, send, Answer};

/// 锦屏街道, a town of the district the migrations create.
const TOWN: &str = "330213001";
/// Residents that receive the section records.
const RECORD_TARGETS: usize = 8;
/// Rows of each imported file (`LOAD_IMPORT_ROWS`, default 3).
fn import_rows() -> usize {
    static ROWS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ROWS.get_or_init(|| env_number("LOAD_IMPORT_ROWS", 3).max(1))
}

/// A setting from the environment, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        _ => default,
    }
}

/// A fresh valid ID number on every call (in this process).
fn next_id_number() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let k = NEXT.fetch_add(1, Ordering::Relaxed);
    let birth =
        NaiveDate::from_ymd_opt(1940, 1, 1).unwrap() + chrono::Days::new(u64::from(k / 900));
    fenghua_registry::domain::id_number::compose("330283", birth, 100 + (k % 900) as u16)
        .as_str()
        .to_owned()
}

/// When the writers stop.
pub enum Stop {
    /// After this long.
    After(Duration),
    /// When [`Load::stop`] is called.
    Manual,
}

/// What the service acknowledged (answered 2xx).
#[derive(Default, Debug)]
pub struct Acks {
    /// Registered residents: id and address.
    pub created: Vec<(String, String)>,
    /// Section records: resident and record id.
    pub records: Vec<(String, String)>,
    /// Changes of the shared resident: the version each was made on (`If-Match`), the version
    /// it answered, and the address it set.
    pub patches: Vec<(i64, i64, String)>,
    /// The addresses of the imported rows.
    pub imported: Vec<String>,
}

impl Acks {
    /// Acknowledged requests (an import of many rows is one).
    pub fn len(&self) -> usize {
        self.created.len()
            + self.records.len()
            + self.patches.len()
            + self.imported.len() / import_rows()
    }
}

/// Everything the writers saw.
#[derive(Default, Debug)]
pub struct Outcome {
    pub acks: Acks,
    /// Requests answered, by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Answers that are faults: a 5xx, or "database is locked" in any answer.
    pub faults: Vec<String>,
    /// Requests that got no whole answer.
    pub unanswered: usize,
    /// Changes of the shared resident that were sent and not answered 2xx or 4xx (they may or
    /// may not have been stored).
    pub unsettled_patches: usize,
    pub elapsed: Duration,
    pub writers: usize,
    /// The shared resident, and the residents that receive the records.
    fixture: Fixture,
}

#[derive(Default, Debug, Clone)]
struct Fixture {
    shared: String,
    record_targets: Vec<String>,
}

/// Writers running.
pub struct Load {
    stop: Arc<AtomicBool>,
    outcome: Arc<Mutex<Outcome>>,
    acked: Arc<AtomicUsize>,
    writers: Vec<JoinHandle<()>>,
    deadline: Option<Instant>,
    started: Instant,
}

/// A writer's view of the service.
struct Writer {
    port: u16,
    token: String,
    fixture: Fixture,
    outcome: Arc<Mutex<Outcome>>,
    acked: Arc<AtomicUsize>,
}

impl Load {
    /// What a server under load runs with: tokens that outlive a long run and, on SQLite, a
    /// pool of 40 connections, so that many writers at a time wait for the one write lock (the
    /// wait that ran out in "database is locked" before `db::sqlite_writers_queue`); on
    /// PostgreSQL the default pool (10), the shared server's connections being few.
    /// `LOAD_POOL_SIZE` sets the pool on either.
    pub fn server_env(postgres: bool) -> Vec<(&'static str, String)> {
        // Every writer is the one admin: its per-account allowances of imports and searches
        // (tested in tests/api/limits.rs) would answer 429 within seconds.
        let mut env = vec![
            ("ACCESS_TOKEN_TTL_SECS", "86400".to_owned()),
            ("IMPORT_RATE_LIMIT", "0".to_owned()),
            ("SEARCH_RATE_LIMIT", "0".to_owned()),
        ];
        match std::env::var("LOAD_POOL_SIZE")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(size) => env.push(("DB_POOL_SIZE", size)),
            None if !postgres => env.push(("DB_POOL_SIZE", "40".to_owned())),
            None => {}
        }
        env
    }

    /// Registers the shared resident and the record targets, then starts `writers` writers.
    pub fn start(port: u16, token: &str, writers: usize, stop: Stop) -> Load {
        let setup = Writer {
            port,
            token: token.to_owned(),
            fixture: Fixture::default(),
            outcome: Arc::default(),
            acked: Arc::default(),
        };
        let register = || {
            let answer = setup
                .register(&next_id_number(), "setup")
                .expect("the setup is answered");
            assert_eq!(answer.status, 201, "{}", answer.body);
            answer.json()["id"].as_str().unwrap().to_owned()
        };
        let fixture = Fixture {
            shared: register(),
            record_targets: (0..RECORD_TARGETS).map(|_| register()).collect(),
        };
        let outcome = Arc::new(Mutex::new(Outcome {
            writers,
            fixture: fixture.clone(),
            ..Outcome::default()
        }));
        let acked = Arc::new(AtomicUsize::new(0));
        let stop_flag = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let deadline = match stop {
            Stop::After(d) => Some(started + d),
            Stop::Manual => None,
        };
        let handles = (0..writers)
            .map(|w| {
                let writer = Writer {
                    port,
                    token: token.to_owned(),
                    fixture: fixture.clone(),
                    outcome: outcome.clone(),
                    acked: acked.clone(),
                };
                let stop = stop_flag.clone();
                thread::spawn(move || {
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst)
                            || deadline.is_some_and(|d| Instant::now() >= d)
                        {
                            break;
                        }
                        writer.one_write(w, n);
                    }
                })
            })
            .collect();
        Load {
            stop: stop_flag,
            outcome,
            acked,
            writers: handles,
            deadline,
            started,
        }
    }

    /// Writes acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::SeqCst)
    }

    /// Waits until `count` writes are acknowledged in all.
    pub fn wait_for_acks(&self, count: usize, patience: Duration) {
        let deadline = Instant::now() + patience;
        while self.acked() < count {
            assert!(
                Instant::now() < deadline,
                "only {} of {count} writes acknowledged in {patience:?}: {:?}",
                self.acked(),
                self.outcome.lock().unwrap().statuses
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the writers (after the request each has in flight) and answers what they saw.
    pub fn wait(self) -> Outcome {
        if self.deadline.is_none() {
            self.stop.store(true, Ordering::SeqCst);
        }
        for writer in self.writers {
            writer.join().expect("a writer panicked");
        }
        let mut outcome = std::mem::take(&mut *self.outcome.lock().unwrap());
        outcome.elapsed = self.started.elapsed();
        outcome
    }

    /// Stops the writers now, as [`Load::wait`] does.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The faults seen so far.
    pub fn faults(&self) -> usize {
        self.outcome.lock().unwrap().faults.len()
    }
}

impl Writer {
    fn register(&self, id_number: &str, address: &str) -> Option<Answer> {
        let body = json!({
            "id_number": id_number,
            "name": "负载测试",
            "town_code": TOWN,
            "registered_on": "2010-01-01",
            "address": address,
        });
        send(
            self.port,
            "POST",
            "/api/v1/residents",
            &self.token,
            "",
            Some(("application/json", &body.to_string())),
        )
    }

    /// Writer `w`'s `n`th write: each kind in turn, the writers out of step.
    fn one_write(&self, w: usize, n: usize) {
        match (w + n) % 4 {
            0 => {
                let address = format!("create w{w} n{n}");
                if let Some(answer) = self.seen(self.register(&next_id_number(), &address)) {
                    if answer.status == 201 {
                        let id = answer.json()["id"].as_str().unwrap().to_owned();
                        self.ack(|acks| acks.created.push((id, address)));
                    }
                }
            }
            1 => {
                let target = &self.fixture.record_targets[(w * 7 + n) % RECORD_TARGETS];
                let body = json!({"type": "physical_therapy", "assessed_on": "2024-03-01"});
                let answer = send(
                    self.port,
                    "POST",
                    &format!("/api/v1/residents/{target}/rehab-needs"),
                    &self.token,
                    "",
                    Some(("application/json", &body.to_string())),
                );
                if let Some(answer) = self.seen(answer) {
                    if answer.status == 201 {
                        let id = answer.json()["id"].as_str().unwrap().to_owned();
                        self.ack(|acks| acks.records.push((target.clone(), id)));
                    }
                }
            }
            2 => self.change_shared(w, n),
            _ => {
                let mut file = String::from("id_number,name,town_code,registered_on,address\n");
                let addresses: Vec<String> = (0..import_rows())
                    .map(|r| format!("import w{w} n{n} r{r}"))
                    .collect();
                for address in &addresses {
                    file.push_str(&format!(
                        "{},负载导入,{TOWN},2010-01-01,{address}\n",
                        next_id_number()
                    ));
                }
                let answer = send(
                    self.port,
                    "POST",
                    "/api/v1/imports/residents",
                    &self.token,
                    "",
                    Some(("text/csv; charset=utf-8", &file)),
                );
                if let Some(answer) = self.seen(answer) {
                    if answer.status == 200 {
                        let report = answer.json();
                        assert_eq!(report["created"], import_rows(), "{report}");
                        self.ack(|acks| acks.imported.extend(addresses));
                    }
                }
            }
        }
    }

    /// Reads the shared resident and changes its address under `If-Match` with the `ETag`
    /// read; a `412` (another writer changed it in between) is a right answer.
    fn change_shared(&self, w: usize, n: usize) {
        let path = format!("/api/v1/residents/{}", self.fixture.shared);
        let Some(read) = self.seen(get(self.port, &path, &self.token)) else {
            return;
        };
        if read.status != 200 {
            return;
        }
        let based_on = version(&read);
        let address = format!("patch w{w} n{n}");
        let body = json!({ "address": address }).to_string();
        let answer = send(
            self.port,
            "PATCH",
            &path,
            &self.token,
            &format!("If-Match: \"{based_on}\"\r\n"),
            Some(("application/json", &body)),
        );
        let settled = matches!(&answer, Some(a) if a.status < 500);
        if !settled {
            self.outcome.lock().unwrap().unsettled_patches += 1;
        }
        if let Some(answer) = self.seen(answer) {
            if answer.status == 200 {
                let version = version(&answer);
                assert_eq!(answer.json()["address"], address.as_str());
                self.ack(|acks| acks.patches.push((based_on, version, address)));
            }
        }
    }

    /// Counts an answer (or its absence) and records a fault.
    fn seen(&self, answer: Option<Answer>) -> Option<Answer> {
        let mut outcome = self.outcome.lock().unwrap();
        match &answer {
            None => outcome.unanswered += 1,
            Some(a) => {
                *outcome.statuses.entry(a.status).or_default() += 1;
                if a.status >= 500 || a.body.contains("database is locked") {
                    outcome.faults.push(format!(
                        "{} {} {}",
                        a.status,
                        a.header("content-type").unwrap_or(""),
                        a.body
                    ));
                }
            }
        }
        answer
    }

    fn ack(&self, record: impl FnOnce(&mut Acks)) {
        record(&mut self.outcome.lock().unwrap().acks);
        self.acked.fetch_add(1, Ordering::SeqCst);
    }
}

/// The version of an answer's `ETag` (`"3"`).
fn version(answer: &Answer) -> i64 {
    answer
        .header("etag")
        .expect("an ETag")
        .trim_matches('"')
        .parse()
        .expect("a numbered version")
}

impl Outcome {
    pub fn summary(&self, postgres: bool) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "{}: {} writers for {secs:.1} s; acknowledged {} writes ({:.0}/s): {} \
             residents registered, {} records added, {} changes of the shared resident, {} \
             rows imported; answers by status {:?}; {} faults; {} unanswered",
            if postgres { "PostgreSQL" } else { "SQLite" },
            self.writers,
            self.acks.len(),
            self.acks.len() as f64 / secs.max(0.001),
            self.acks.created.len(),
            self.acks.records.len(),
            self.acks.patches.len(),
            self.acks.imported.len(),
            self.statuses,
            self.faults.len(),
            self.unanswered,
        )
    }

    pub fn assert_every_kind_acknowledged(&self) {
        let a = &self.acks;
        assert!(
            !a.created.is_empty()
                && !a.records.is_empty()
                && !a.patches.is_empty()
                && !a.imported.is_empty(),
            "some kind of write was never acknowledged: {}",
            self.summary(false)
        );
    }

    /// Asserts that every acknowledged write is stored, as the service at `port` reads it.
    /// `settled`: every request was answered, so the shared resident's version counts exactly
    /// the acknowledged changes.
    pub fn assert_present(&self, port: u16, token: &str, settled: bool) {
        // Every resident, by id, with its address.
        let mut stored: HashMap<String, String> = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/residents?limit=200&cursor={c}"),
                None => "/api/v1/residents?limit=200".to_owned(),
            };
            let answer = get(port, &path, token).expect("the list is answered");
            assert_eq!(answer.status, 200, "{}", answer.body);
            let page = answer.json();
            for r in page["items"].as_array().unwrap() {
                stored.insert(
                    r["id"].as_str().unwrap().to_owned(),
                    r["address"].as_str().unwrap_or_default().to_owned(),
                );
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let lost: Vec<_> = self
            .acks
            .created
            .iter()
            .filter(|(id, address)| stored.get(id) != Some(address))
            .collect();
        assert!(lost.is_empty(), "registered and lost: {lost:?}");
        let addresses: HashSet<&String> = stored.values().collect();
        let lost: Vec<_> = self
            .acks
            .imported
            .iter()
            .filter(|a| !addresses.contains(a))
            .collect();
        assert!(lost.is_empty(), "imported and lost: {lost:?}");

        let mut records: HashSet<(String, String)> = HashSet::new();
        for target in &self.fixture.record_targets {
            let answer = get(port, &format!("/api/v1/residents/{target}/file"), token)
                .expect("the file is answered");
            assert_eq!(answer.status, 200, "{}", answer.body);
            for r in answer.json()["rehab_needs"].as_array().unwrap() {
                records.insert((target.clone(), r["id"].as_str().unwrap().to_owned()));
            }
        }
        let lost: Vec<_> = self
            .acks
            .records
            .iter()
            .filter(|r| !records.contains(*r))
            .collect();
        assert!(lost.is_empty(), "records added and lost: {lost:?}");

        // The shared resident: each acknowledged change was made on the version its writer
        // read and answered the next one, each at a version of its own, and the stored version
        // counts them (plus, after a kill, changes never answered).
        let answer = get(
            port,
            &format!("/api/v1/residents/{}", self.fixture.shared),
            token,
        )
        .expect("the shared resident is answered");
        assert_eq!(answer.status, 200, "{}", answer.body);
        let stored_version = version(&answer);
        let stored_address = answer.json()["address"].as_str().unwrap().to_owned();
        let stale: Vec<_> = self
            .acks
            .patches
            .iter()
            .filter(|(based_on, version, _)| *version != based_on + 1)
            .collect();
        assert!(
            stale.is_empty(),
            "changes acknowledged on a version other than the one they were made on (a lost \
             update): {stale:?}"
        );
        let mut versions: Vec<i64> = self.acks.patches.iter().map(|(_, v, _)| *v).collect();
        versions.sort_unstable();
        versions.dedup();
        assert_eq!(
            versions.len(),
            self.acks.patches.len(),
            "two acknowledged changes answered the same version (a lost update)"
        );
        let acked = self.acks.patches.len() as i64;
        let changes = stored_version - 1;
        assert!(
            changes >= acked && changes <= acked + self.unsettled_patches as i64,
            "the shared resident is at version {stored_version} after {acked} acknowledged \
             changes ({} unsettled)",
            self.unsettled_patches
        );
        if settled {
            assert_eq!(changes, acked, "every change was answered");
        }
        if let Some((_, _, address)) = self
            .acks
            .patches
            .iter()
            .find(|(_, v, _)| *v == stored_version)
        {
            assert_eq!(
                &stored_address, address,
                "the last change is the one stored"
            );
        }
    }
}
