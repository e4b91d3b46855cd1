//! Group commit of the events of reads (DESIGN §6).
//!
//! Reading a file is audited, and the answer may only leave once its event is durable. Giving
//! every read its own write transaction puts each read behind the writers' lock and an fsync of
//! its own; instead a read hands its event to [`Recorder::record_read`], which queues it for
//! one writer thread. That thread, with a connection of its own, takes every event waiting (up
//! to `max_batch`), appends them in one write transaction — one extension of the chain, one
//! commit; on PostgreSQL one statement when no other writer moved the chain's head since its
//! last batch ([`db::read_audit`]) — and only then tells each waiting read its sequence
//! number. A read whose batch failed gets the error, never its answer; a read that finds the
//! queue full waits at most `queue_wait` for room and then answers 503 with `Retry-After`.
//! Readers never take the writers' lock themselves; the writer thread holds it for the batch's
//! short transaction.
//! Writes append their events in their own transactions, as before ([`super::append`]); both
//! take the writers' lock ([`db::write_transaction`], [`db::audit_only_transaction`]), so the
//! chain stays one total order.
//!
//! A read that rendered a file may hand the rendered view along
//! ([`Recorder::record_read_keeping`]): the writer keeps it in the same transaction
//! ([`db::file_views`]), so a read never writes on its own.
//!
//! A read of a file that may be kept rendered goes to the writer whole
//! ([`Recorder::read_kept_file`]): the writer looks up the kept files of every such read in
//! the batch with one statement, appends the event of each one it answers, and hands the
//! answers back once they are committed. Such a read takes no pooled connection and no
//! blocking thread; one whose file is not kept is told so and renders it the usual way.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{AuditContext, Event};
use crate::db::file_views::{self, FileViewRow, KeptLookup};
use crate::db::{self, DatabaseUrl, DbConn, Pool, PoolSettings};
use crate::domain::role::Scope;
use crate::error::AppError;

/// How long a read waits for its batch to commit before it answers 503. A batch waits for the
/// writers' lock like any writer (on SQLite at most its busy timeout); this bounds the rest.
/// The event of a read that gave up may still be committed: an event without an answer is
/// harmless, an answer without an event is what must never happen.
const COMMIT_WAIT: Duration = Duration::from_secs(30);

/// How long the writer thread waits for its own connection before failing a batch.
const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// The group commit of read events (DESIGN §6, [`Recorder`]): reads queue their
/// events for one writer, which appends up to `max_batch` of them in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAuditConfig {
    /// Events waiting for the writer at most (`READ_AUDIT_QUEUE`).
    pub queue_capacity: usize,
    /// Events appended in one transaction at most (`READ_AUDIT_MAX_BATCH`).
    pub max_batch: usize,
    /// How long a read waits for room in a full queue before it answers 503 with
    /// `Retry-After` (`READ_AUDIT_QUEUE_WAIT_MS`).
    pub queue_wait: Duration,
}

impl Default for ReadAuditConfig {
    fn default() -> Self {
        ReadAuditConfig {
            queue_capacity: 4096,
            max_batch: 512,
            queue_wait: Duration::from_millis(1000),
        }
    }
}

/// Records the events of reads: batched by a writer thread in the service, each in a
/// transaction of its own on the command line. Cheap to clone (all clones share the writer);
/// the writer thread stops once the last clone is dropped and the queue is empty.
#[derive(Clone)]
pub struct Recorder {
    writer: Option<Arc<Writer>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("batched", &self.writer.is_some())
            .finish()
    }
}

/// One read waiting for the writer, and where its outcome goes.
struct Job {
    ctx: AuditContext,
    work: Work,
}

enum Work {
    /// A read's event, to append.
    Event {
        event: Event,
        /// A file the read rendered, to keep for the next read.
        view: Option<FileViewRow>,
        reply: mpsc::SyncSender<Result<i64, AppError>>,
    },
    /// A read of a file that may be kept rendered, to serve if it is.
    KeptFile {
        read: KeptFileRead,
        reply: oneshot::Sender<Result<Option<KeptFile>, AppError>>,
    },
}

/// A read of a whole file that the writer serves when the file is kept rendered
/// ([`Recorder::read_kept_file`]).
#[derive(Debug, Clone)]
pub struct KeptFileRead {
    pub public_id: String,
    /// What the view must have been rendered for ([`file_views`]).
    pub rendered_for: String,
    /// The reader's towns.
    pub scope: Scope,
    /// The event of the read when it is answered.
    pub answered: Event,
    /// The event of the read when the resident is outside `scope` (answered 404).
    pub refused: Event,
}

/// A kept file as the writer served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptFile {
    /// The resident's version the file shows.
    pub version: i32,
    pub body: String,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Set when the last [`Recorder`] is gone: the writer drains the queue and stops.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job arrives or the queue closes.
    arrived: Condvar,
    /// Signalled when the writer takes jobs out of the queue.
    room: Condvar,
    settings: ReadAuditConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue itself consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread's side of the queue: dropping it (with the last `Recorder`) closes the
/// queue. The thread finishes the jobs already queued and stops on its own; nobody waits for
/// it (a batch may be waiting for the writers' lock).
struct Writer {
    shared: Arc<Shared>,
    kept: Mutex<KeptFiles>,
}

/// The files this process knows to be kept rendered for one `rendered_for` (a new day starts
/// it afresh), by a hash of the resident's `public_id`: a read of any other file goes straight
/// to rendering instead of asking the writer first, which would make it wait for two batches.
/// Only a hint: a file forgotten since (changed) is looked up and found missing, one kept by
/// another process is rendered once more.
#[derive(Default)]
struct KeptFiles {
    rendered_for: String,
    files: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl KeptFiles {
    /// Files noted at most before the hint starts afresh (16 bytes each).
    const CAPACITY: usize = 4_000_000;

    fn note(&mut self, public_id: &str, rendered_for: &str) {
        if self.rendered_for != rendered_for || self.files.len() >= Self::CAPACITY {
            self.files.clear();
            rendered_for.clone_into(&mut self.rendered_for);
        }
        let hash = self.hasher.hash_one(public_id);
        self.files.insert(hash);
    }

    fn may_hold(&self, public_id: &str, rendered_for: &str) -> bool {
        self.rendered_for == rendered_for && self.files.contains(&self.hasher.hash_one(public_id))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_all();
    }
}

impl Recorder {
    /// Starts the writer thread with a pool of one connection of its own to `url`, so a batch
    /// never waits for a connection that a waiting read holds.
    pub fn start(url: &DatabaseUrl, settings: ReadAuditConfig) -> Result<Self, db::ConnectError> {
        let pool = db::connect_pool(
            url,
            &PoolSettings {
                max_size: 1,
                checkout_timeout: CONNECTION_WAIT,
                // A batch is a few short statements; a stuck one fails the batch's reads.
                statement_timeout: Some(Duration::from_secs(30)),
            },
        )?;
        Ok(Self::with_pool(pool, settings))
    }

    /// Starts the writer thread over `pool` (of which it uses one connection at a time).
    pub fn with_pool(pool: Pool, settings: ReadAuditConfig) -> Self {
        let settings = ReadAuditConfig {
            queue_capacity: settings.queue_capacity.max(1),
            max_batch: settings.max_batch.max(1),
            ..settings
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            arrived: Condvar::new(),
            room: Condvar::new(),
            settings,
        });
        std::thread::Builder::new()
            .name("read-audit".to_owned())
            .spawn({
                let shared = shared.clone();
                move || write_batches(&shared, &pool)
            })
            .expect("the read-audit writer thread starts");
        Recorder {
            writer: Some(Arc::new(Writer {
                shared,
                kept: Mutex::default(),
            })),
        }
    }

    /// Without a writer thread: every event in a transaction of its own on the caller's
    /// connection (the command line, which reads little and alone).
    pub fn direct() -> Self {
        Recorder { writer: None }
    }

    /// Appends the event of a read and returns its sequence number once it is committed; only
    /// then may the read be answered. Batched with the events of concurrent reads. Errors:
    /// 503 (`Retry-After`) when the queue stays full for the configured wait or the commit
    /// does not come in time, 5xx when the batch's transaction failed.
    ///
    /// Called inside a write transaction (a read step of a change, which already holds the
    /// writers' lock), the event is appended in that transaction instead: the writer thread
    /// would wait for that very lock. Do not call it inside [`db::read_snapshot`]: record the
    /// read after the snapshot.
    pub fn record_read(
        &self,
        conn: &mut DbConn,
        ctx: &AuditContext,
        event: Event,
    ) -> Result<i64, AppError> {
        self.record_read_keeping(conn, ctx, event, None)
    }

    /// [`record_read`](Self::record_read), keeping `view` (a file the read rendered) in the
    /// same transaction as the event.
    pub fn record_read_keeping(
        &self,
        conn: &mut DbConn,
        ctx: &AuditContext,
        event: Event,
        view: Option<FileViewRow>,
    ) -> Result<i64, AppError> {
        match &self.writer {
            Some(writer) if !in_transaction(conn) => writer.submit(ctx.clone(), event, view),
            _ => Ok(db::write_transaction(conn, |tx| {
                file_views::keep(tx, view.into_iter().collect())?;
                super::append(tx, ctx, event)
            })?),
        }
    }

    /// Serves `read` if its file is kept rendered for `read.rendered_for`: the file once the
    /// read's event is committed, or 404 (the refusal audited) when the resident is outside the
    /// reader's towns or does not exist. `None` when the file must be rendered, and when there
    /// is no writer thread or its queue is full: the read then goes the usual way
    /// ([`record_read_keeping`](Self::record_read_keeping)), which waits for room.
    pub async fn read_kept_file(
        &self,
        ctx: &AuditContext,
        read: KeptFileRead,
    ) -> Result<Option<KeptFile>, AppError> {
        let Some(writer) = &self.writer else {
            return Ok(None);
        };
        if !writer.kept().may_hold(&read.public_id, &read.rendered_for) {
            return Ok(None);
        }
        let shared = &writer.shared;
        let (reply, outcome) = oneshot::channel();
        {
            let mut queue = shared.lock();
            if queue.jobs.len() >= shared.settings.queue_capacity {
                return Ok(None);
            }
            queue.jobs.push_back(Job {
                ctx: ctx.clone(),
                work: Work::KeptFile { read, reply },
            });
        }
        shared.arrived.notify_one();
        match tokio::time::timeout(COMMIT_WAIT, outcome).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AppError::internal(
                "the read-audit writer stopped before answering a read",
            )),
            Err(_) => Err(not_committed_in_time()),
        }
    }

    /// Notes that the file of `public_id` is kept rendered for `rendered_for`, or is about to be
    /// (its view handed to [`record_read_keeping`](Self::record_read_keeping)): its next read
    /// goes to [`read_kept_file`](Self::read_kept_file) first.
    pub fn note_kept(&self, public_id: &str, rendered_for: &str) {
        if let Some(writer) = &self.writer {
            writer.kept().note(public_id, rendered_for);
        }
    }
}

impl Writer {
    fn kept(&self) -> MutexGuard<'_, KeptFiles> {
        // A panic while holding the lock leaves a hint, which may be wrong anyway.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn not_committed_in_time() -> AppError {
    AppError::Unavailable {
        cause: format!("the audit event of a read was not committed within {COMMIT_WAIT:?}"),
    }
}

/// Whether `conn` is inside a transaction (a failed look counts as inside: the append in
/// place then reports the connection's trouble itself).
fn in_transaction(conn: &mut DbConn) -> bool {
    !matches!(db::transaction_depth(conn), Ok(None))
}

fn queue_full() -> AppError {
    AppError::Unavailable {
        cause: "the audit writer's queue stayed full; the read was not answered".to_owned(),
    }
}

impl Writer {
    fn submit(
        &self,
        ctx: AuditContext,
        event: Event,
        view: Option<FileViewRow>,
    ) -> Result<i64, AppError> {
        let shared = &self.shared;
        let (reply, outcome) = mpsc::sync_channel(1);
        {
            let deadline = Instant::now() + shared.settings.queue_wait;
            let mut queue = shared.lock();
            while queue.jobs.len() >= shared.settings.queue_capacity {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(queue_full());
                }
                queue = shared
                    .room
                    .wait_timeout(queue, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            queue.jobs.push_back(Job {
                ctx,
                work: Work::Event { event, view, reply },
            });
        }
        shared.arrived.notify_one();
        match outcome.recv_timeout(COMMIT_WAIT) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(not_committed_in_time()),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(AppError::internal(
                "the read-audit writer stopped before committing the event",
            )),
        }
    }
}

/// The writer thread: takes what is queued, serves the reads of kept files, appends the events
/// in one transaction, answers each read.
fn write_batches(shared: &Shared, pool: &Pool) {
    let mut conn: Option<db::PooledConn> = None;
    let mut head = None;
    loop {
        let jobs: Vec<Job> = {
            let mut queue = shared.lock();
            while queue.jobs.is_empty() && !queue.closed {
                queue = shared
                    .arrived
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if queue.jobs.is_empty() {
                return;
            }
            let n = queue.jobs.len().min(shared.settings.max_batch);
            queue.jobs.drain(..n).collect()
        };
        shared.room.notify_all();
        let mut appends = Vec::with_capacity(jobs.len());
        let mut views = Vec::new();
        let mut reads = Vec::new();
        for Job { ctx, work } in jobs {
            match work {
                Work::Event { event, view, reply } => {
                    views.extend(view);
                    appends.push(Append {
                        ctx,
                        event,
                        reply: Reply::Event(reply),
                    });
                }
                Work::KeptFile { read, reply } => reads.push((ctx, read, reply)),
            }
        }
        if !reads.is_empty() {
            match guarded(&mut conn, |conn| look_up_kept(pool, conn, &reads)) {
                Ok(found) => appends.extend(serve_kept(reads, &found)),
                Err(error) => {
                    tracing::error!(%error, reads = reads.len(), "kept files could not be looked up");
                    for (_, _, reply) in reads {
                        let _ = reply.send(Err(copy_of(&error)));
                    }
                }
            }
        }
        if appends.is_empty() {
            continue;
        }
        match guarded(&mut conn, |conn| {
            write_batch(pool, conn, &appends, views, &mut head)
        }) {
            Ok(seqs) => {
                for (append, seq) in appends.into_iter().zip(seqs) {
                    append.reply.committed(seq);
                }
            }
            Err(error) => {
                tracing::error!(%error, events = appends.len(), "a batch of read audit events failed");
                for append in appends {
                    append.reply.failed(&error);
                }
            }
        }
    }
}

/// An event to append, and what its read is told once it is committed.
struct Append {
    ctx: AuditContext,
    event: Event,
    reply: Reply,
}

enum Reply {
    /// The event's sequence number.
    Event(mpsc::SyncSender<Result<i64, AppError>>),
    /// The answer of a read of a kept file.
    KeptFile(
        oneshot::Sender<Result<Option<KeptFile>, AppError>>,
        Result<Option<KeptFile>, AppError>,
    ),
}

impl Reply {
    fn committed(self, seq: i64) {
        match self {
            Reply::Event(reply) => drop(reply.send(Ok(seq))),
            Reply::KeptFile(reply, answer) => drop(reply.send(answer)),
        }
    }

    fn failed(self, error: &AppError) {
        match self {
            Reply::Event(reply) => drop(reply.send(Err(copy_of(error)))),
            Reply::KeptFile(reply, _) => drop(reply.send(Err(copy_of(error)))),
        }
    }
}

/// Runs one step of the writer on its connection (checked out when it has none), a panic
/// taken as a failure. A connection that failed a step may be broken: it goes back to the pool
/// (which closes it if it no longer answers) and the next step takes one that answers.
fn guarded<T>(
    conn: &mut Option<db::PooledConn>,
    step: impl FnOnce(&mut Option<db::PooledConn>) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&mut *conn)))
        .unwrap_or_else(|_| Err(AppError::internal("the read-audit writer panicked")));
    if outcome.is_err() {
        if let Some(used) = conn.take() {
            db::give_back(used, &outcome);
        }
    }
    outcome
}

fn connection<'c>(
    pool: &Pool,
    conn: &'c mut Option<db::PooledConn>,
) -> Result<&'c mut db::PooledConn, AppError> {
    Ok(match conn {
        Some(conn) => conn,
        None => {
            let mut checked_out = db::checkout(pool)?;
            db::small_page_cache(&mut checked_out)?;
            conn.insert(checked_out)
        }
    })
}

type KeptReads = Vec<(
    AuditContext,
    KeptFileRead,
    oneshot::Sender<Result<Option<KeptFile>, AppError>>,
)>;

/// What the residents of `reads` have kept, by what it was rendered for and `public_id`: one
/// statement for each `rendered_for` (all reads of a day have one).
fn look_up_kept(
    pool: &Pool,
    conn: &mut Option<db::PooledConn>,
    reads: &KeptReads,
) -> Result<HashMap<(String, String), KeptLookup>, AppError> {
    let conn = connection(pool, conn)?;
    let mut wanted: HashMap<&str, Vec<&str>> = HashMap::new();
    for (_, read, _) in reads {
        wanted
            .entry(read.rendered_for.as_str())
            .or_default()
            .push(read.public_id.as_str());
    }
    let mut found = HashMap::new();
    for (rendered_for, public_ids) in wanted {
        for lookup in file_views::kept_of(conn, &public_ids, rendered_for)? {
            found.insert((rendered_for.to_owned(), lookup.public_id.clone()), lookup);
        }
    }
    Ok(found)
}

/// Answers the reads whose outcome needs no event at once (no such resident: 404; no kept
/// file: render it), and returns the events of the others with their answers.
fn serve_kept(reads: KeptReads, found: &HashMap<(String, String), KeptLookup>) -> Vec<Append> {
    let mut appends = Vec::with_capacity(reads.len());
    for (ctx, read, reply) in reads {
        let key = (read.rendered_for, read.public_id);
        let Some(lookup) = found.get(&key) else {
            let _ = reply.send(Err(AppError::NotFound));
            continue;
        };
        let (event, answer) = if !read.scope.allows(&lookup.town_code) {
            (read.refused, Err(AppError::NotFound))
        } else if let Some(body) = &lookup.body {
            let file = KeptFile {
                version: lookup.version,
                body: body.clone(),
            };
            (read.answered, Ok(Some(file)))
        } else {
            let _ = reply.send(Ok(None));
            continue;
        };
        appends.push(Append {
            ctx,
            event,
            reply: Reply::KeptFile(reply, answer),
        });
    }
    appends
}

/// Appends the events, and keeps the files the reads rendered, in one transaction; the events'
/// sequence numbers in order.
///
/// `head` is the chain's head as the writer's last batch left it (PostgreSQL): the events are
/// linked after it and written with the views in one statement that is its own transaction
/// ([`db::read_audit`]), unless another writer has moved the head since; then, and when the
/// head is not known, in a write transaction that reads it. It is the new head afterwards,
/// `None` after a failure.
fn write_batch(
    pool: &Pool,
    conn: &mut Option<db::PooledConn>,
    appends: &[Append],
    views: Vec<FileViewRow>,
    head: &mut Option<(i64, String)>,
) -> Result<Vec<i64>, AppError> {
    let conn = connection(pool, conn)?;
    let events = || appends.iter().map(|a| (&a.ctx, a.event.clone()));
    let mut linked = None;
    if let Some((seq, hash)) = head.take() {
        let rows = super::link_after((seq, hash.clone()), events());
        if db::read_audit::append_alone_after(conn, (seq, &hash), &rows, &views)? {
            linked = Some(rows);
        }
    }
    let rows = match linked {
        Some(rows) => rows,
        None => db::audit_only_transaction(conn, |tx| {
            file_views::keep(tx, views)?;
            let rows = super::link_after(super::head(tx)?, events());
            super::append_linked(tx, &rows)?;
            Ok::<_, diesel::result::Error>(rows)
        })?,
    };
    if matches!(&**conn, db::DbConn::Postgres(_)) {
        *head = rows.last().map(|last| (last.seq, last.hash.clone()));
    }
    Ok(rows.iter().map(|r| r.seq).collect())
}

/// The error of a failed batch, for each of its reads: 503 stays 503 (with `Retry-After`), any
/// other failure is a 500 with the same cause in the log.
fn copy_of(error: &AppError) -> AppError {
    match error {
        AppError::Unavailable { cause } => AppError::Unavailable {
            cause: cause.clone(),
        },
        other => AppError::internal(format!("the read's audit event was not written: {other}")),
    }
}
