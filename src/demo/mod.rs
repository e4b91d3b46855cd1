//! `seed-demo`: a synthetic district written straight into the database, for demonstrations
//! and benchmarks (DESIGN §9).
//!
//! The residents are stored exactly as the service stores them (ID and phone numbers encrypted
//! with the service's keys, the blind index, section records as their section types serialise)
//! so every API reads them back. They carry no audit events: this is demo data, never a record
//! of real people; one event records the seeding itself.
//!
//! The work: draw every resident's ID number first (one seeded stream, so numbers are distinct
//! and the same for a seed), then generate chunks of residents in parallel (each chunk its own
//! seeded stream, so the result does not depend on the number of threads) as SQL text, and
//! write the chunks in order over one connection in large transactions.

pub mod generator;
pub mod names;
pub mod writer;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde_json::json;

use crate::audit::{self, Action, Actor, AuditContext, Event};
use crate::config::FieldKeys;
use crate::db::areas::AreaRow;
use crate::db::district::NewFacilityRow;
use crate::db::{self, DatabaseUrl, DbConn};
use crate::domain::area::AreaLevel;
use crate::domain::id_number::IdNumber;
use crate::protect::Protector;
use crate::startup::StartError;
use generator::{District, Generator, Town, Village};
use writer::{Dialect, Inserts, PendingGrant, PublicIds, Renderer, TABLES};

/// Residents generated (and rendered) as one piece of work.
const CHUNK_RESIDENTS: usize = 2_000;
/// Residents committed per transaction.
const TRANSACTION_RESIDENTS: usize = 50_000;

#[derive(Debug, Clone)]
pub struct Options {
    pub residents: u64,
    pub seed: u64,
    /// Add to a database that already holds residents.
    pub force: bool,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub backend: &'static str,
    pub residents: u64,
    pub seed: u64,
    pub first_id: i64,
    /// The last day of the generated history.
    pub horizon: NaiveDate,
    /// Rows written per table, in the order of [`writer::TABLES`].
    pub rows: Vec<(&'static str, u64)>,
    pub villages_created: usize,
    pub facilities_created: usize,
    pub gdp_years_set: usize,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(
        "the database already holds {0} residents: seed-demo fills an empty registry with demo \
         data; give --force to add synthetic residents to it anyway"
    )]
    NotEmpty(i64),
    #[error("the database has no towns to put residents in (the areas table has none)")]
    NoTowns,
    #[error("writing the demo data failed after {committed} residents were committed: {source}")]
    Write {
        committed: u64,
        source: diesel::result::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("{0}")]
    Other(String),
}

/// Runs `seed-demo` from the command line: keys and database as the server finds them. It
/// writes as the tables' owner (`MIGRATION_DATABASE_URL`, else `DATABASE_URL`), as migrations
/// do: moving PostgreSQL's id sequences past the seeded ids needs the owner's rights.
pub fn command(
    global: &crate::cli::GlobalArgs,
    options: &Options,
) -> Result<(), Box<dyn std::error::Error>> {
    let url = crate::config::Config::migration_database_url(global)?;
    let keys = FieldKeys::resolve(global)?;
    println!(
        "seed-demo: {} synthetic residents, seed {}, into {}",
        options.residents,
        options.seed,
        url.redacted()
    );
    let summary = seed(&url, &keys, options, &mut |done, total, seconds| {
        println!("  committed {done}/{total} residents ({seconds:.1} s)");
    })?;
    println!(
        "seeded {} residents into {} in {:.1} s ({:.0} residents/s); ids from {}, history up to {}",
        summary.residents,
        summary.backend,
        summary.seconds,
        summary.residents as f64 / summary.seconds.max(1e-9),
        summary.first_id,
        summary.horizon
    );
    for (table, rows) in &summary.rows {
        println!("  {table:<20} {rows:>10}");
    }
    println!(
        "  {:<20} {:>10}\n  {:<20} {:>10}\n  {:<20} {:>10}",
        "villages (new)",
        summary.villages_created,
        "facilities (new)",
        summary.facilities_created,
        "gdp_growth (new)",
        summary.gdp_years_set
    );
    println!(
        "demo data: the synthetic records carry no audit events of their own; one \
         `resident_import` event records the seeding"
    );
    Ok(())
}

/// Seeds `options.residents` synthetic residents. `progress` hears of every commit: residents
/// committed, residents asked for, seconds so far.
pub fn seed(
    url: &DatabaseUrl,
    keys: &FieldKeys,
    options: &Options,
    progress: &mut dyn FnMut(u64, u64, f64),
) -> Result<Summary, SeedError> {
    let started = Instant::now();
    keys.install_audit_key();
    crate::startup::migrate_only(url)?;
    let mut conn = db::ConnectionManager::new(url.clone())
        .establish()
        .map_err(StartError::from)?;
    let existing = scalar(&mut conn, "SELECT COUNT(*) AS n FROM residents")?;
    if existing > 0 && !options.force {
        return Err(SeedError::NotEmpty(existing));
    }
    let dialect = Dialect::of(&conn);
    writer::execute(&mut conn, dialect.session())?;
    let protector = Protector::new(&keys.encryption.0, &keys.blind_index.0);
    let horizon = generator::default_horizon().min(crate::domain::today());

    let prepared = prepare_district(&mut conn, horizon)?;
    let policies = crate::use_cases::subsidies::policies(&mut conn)
        .map_err(|e| SeedError::Other(e.to_string()))?;
    let first_id = scalar(&mut conn, "SELECT COALESCE(MAX(id), 0) AS n FROM residents")? + 1;
    let mut next_grant_id = scalar(
        &mut conn,
        "SELECT COALESCE(MAX(id), 0) AS n FROM subsidy_grants",
    )? + 1;

    // The seed of this run: the seed itself on an empty database, so a seed gives one district.
    let run_seed = if first_id == 1 {
        options.seed
    } else {
        options.seed ^ (first_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    let taken = if existing > 0 {
        existing_indexes(&mut conn)?
    } else {
        HashSet::new()
    };
    let n = usize::try_from(options.residents).map_err(|e| SeedError::Other(e.to_string()))?;
    let is_taken = |number: &IdNumber| {
        !taken.is_empty() && taken.contains(&index_prefix(&protector.index.of(number.as_str())))
    };
    let identities = generator::identities(run_seed, n, horizon, &is_taken);
    drop(taken);

    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut now = String::new();
    writer::push_literal(&mut now, &db::now().format("%F %T%.f").to_string());
    let gen = Generator {
        district: &prepared.district,
        policies: &policies,
        horizon,
    };
    let renderer = Renderer {
        protector: &protector,
        district: &prepared.district,
        now: &now,
    };
    let chunks = n.div_ceil(CHUNK_RESIDENTS);
    let parallelism = std::thread::available_parallelism().map_or(1, |p| p.get());
    let workers = parallelism.saturating_sub(1).clamp(1, 8);
    // SQLite has one writer; a PostgreSQL server parses and inserts on several connections at
    // once, each with its own transactions over its own chunks.
    let sink_count = match dialect {
        Dialect::Sqlite => 1,
        Dialect::Postgres => parallelism.clamp(2, 4),
    };
    let mut sinks = Vec::with_capacity(sink_count);
    for _ in 0..sink_count {
        let mut sink = db::ConnectionManager::new(url.clone())
            .establish()
            .map_err(StartError::from)?;
        writer::execute(&mut sink, dialect.session())?;
        if let Some(sql) = dialect.bulk_session() {
            let _ = writer::execute(&mut sink, sql);
        }
        sinks.push(sink);
    }
    let next_chunk = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let committed = AtomicU64::new(0);
    let failure: Mutex<Option<diesel::result::Error>> = Mutex::new(None);
    let mut counts = [0u64; 8];
    let mut reported = 0;
    let (sender, receiver) = mpsc::sync_channel::<(usize, Chunk)>(workers + 1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (gen, renderer, identities) = (&gen, &renderer, &identities);
            let (next_chunk, stop) = (&next_chunk, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if index >= chunks {
                        break;
                    }
                    let work = ChunkWork {
                        index,
                        run_seed,
                        millis,
                        first_id,
                        dialect,
                    };
                    let chunk = work.build(gen, renderer, identities);
                    if sender.send((index, chunk)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut batches = Vec::with_capacity(sinks.len());
        for mut sink in sinks.drain(..) {
            let (to_sink, batches_in) = mpsc::sync_channel::<Batch>(1);
            batches.push(to_sink);
            let (committed, failure, stop) = (&committed, &failure, &stop);
            scope.spawn(move || {
                write_batches(&mut sink, dialect, batches_in, committed, failure, stop)
            });
        }
        reported = dispatch(
            dialect,
            &renderer,
            receiver,
            &batches,
            &mut next_grant_id,
            &mut counts,
            &committed,
            &mut |done| progress(done, options.residents, started.elapsed().as_secs_f64()),
        );
        drop(batches);
    });
    stop.store(true, Ordering::Relaxed);
    let committed = committed.load(Ordering::SeqCst);
    if let Some(source) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(SeedError::Write { committed, source });
    }
    if committed > reported {
        progress(
            committed,
            options.residents,
            started.elapsed().as_secs_f64(),
        );
    }
    if let Some(sql) = dialect.name_grams_after_load(first_id) {
        writer::execute(&mut conn, &sql)?;
    }
    writer::execute(&mut conn, &dialect.after_load())?;
    // The loading connections may run without triggers (PostgreSQL's replica role): mark the
    // new residents' indicator values stale here, then write them.
    writer::execute(
        &mut conn,
        &format!(
            "INSERT INTO resident_facts_stale (resident_id) SELECT id FROM residents \
             WHERE id >= {first_id} AND id NOT IN (SELECT resident_id FROM resident_facts_stale)"
        ),
    )?;
    db::catch_up_facts(&mut conn)?;

    let rows: Vec<(&'static str, u64)> = TABLES.iter().map(|t| t.name).zip(counts).collect();
    let ctx = AuditContext {
        actor: Actor {
            username: Some("(command line)".to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    let table_rows: serde_json::Map<String, serde_json::Value> = rows
        .iter()
        .map(|(t, n)| ((*t).to_owned(), json!(n)))
        .collect();
    audit::append_alone(
        &mut conn,
        &ctx,
        Event::new(Action::ResidentImport)
            .entity("seed_demo", format!("seed-{}", options.seed))
            .changes(json!({
                "seed_demo": {
                    "synthetic": true,
                    "residents": options.residents,
                    "seed": options.seed,
                    "first_id": first_id,
                    "rows": table_rows,
                }
            })),
    )?;
    Ok(Summary {
        backend: dialect.name(),
        residents: options.residents,
        seed: options.seed,
        first_id,
        horizon,
        rows,
        villages_created: prepared.villages_created,
        facilities_created: prepared.facilities_created,
        gdp_years_set: prepared.gdp_years_set,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[derive(QueryableByName)]
struct Scalar {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn scalar(conn: &mut DbConn, sql: &str) -> QueryResult<i64> {
    diesel::sql_query(sql)
        .get_result::<Scalar>(conn)
        .map(|r| r.n)
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id_number_index: String,
}

/// The first 8 bytes of a blind index (hex): enough to tell numbers apart here, where a false
/// match only makes the generator draw another number.
fn index_prefix(index: &str) -> u64 {
    u64::from_str_radix(index.get(..16).unwrap_or(index), 16).unwrap_or(0)
}

fn existing_indexes(conn: &mut DbConn) -> QueryResult<HashSet<u64>> {
    Ok(diesel::sql_query("SELECT id_number_index FROM residents")
        .load::<IndexRow>(conn)?
        .iter()
        .map(|r| index_prefix(&r.id_number_index))
        .collect())
}

/// A chunk of residents rendered: SQL for every table but the grants, which the writer
/// numbers in order.
struct Chunk {
    residents: usize,
    sql: String,
    counts: [u64; 8],
    grants: Vec<PendingGrant>,
}

struct ChunkWork {
    index: usize,
    run_seed: u64,
    millis: u64,
    first_id: i64,
    dialect: Dialect,
}

impl ChunkWork {
    fn build(&self, gen: &Generator, renderer: &Renderer, identities: &[IdNumber]) -> Chunk {
        let from = self.index * CHUNK_RESIDENTS;
        let to = (from + CHUNK_RESIDENTS).min(identities.len());
        let salt = self.index as u64;
        let mut rng = generator::stream(self.run_seed, salt);
        let mut ids = PublicIds::new(
            self.millis,
            salt,
            generator::stream(self.run_seed, salt | (1 << 40)),
        );
        let mut ins = Inserts::new(self.dialect);
        let mut grants = Vec::new();
        for (k, number) in identities[from..to].iter().enumerate() {
            let person = gen.person(&mut rng, self.first_id + (from + k) as i64, number.clone());
            renderer.person(&mut ins, &mut ids, &person, &mut grants);
        }
        let counts = ins.counts();
        Chunk {
            residents: to - from,
            sql: ins.finish(),
            counts,
            grants,
        }
    }
}

/// SQL for one connection to run: a chunk and its grants.
struct Batch {
    residents: usize,
    sql: String,
}

/// Takes the chunks in their order as they arrive, numbers their grants, and hands them to
/// the connections in turn. Reports progress as the connections commit; returns the count
/// last reported.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    dialect: Dialect,
    renderer: &Renderer,
    receiver: mpsc::Receiver<(usize, Chunk)>,
    sinks: &[mpsc::SyncSender<Batch>],
    next_grant_id: &mut i64,
    counts: &mut [u64; 8],
    committed: &AtomicU64,
    progress: &mut dyn FnMut(u64),
) -> u64 {
    let mut waiting: BTreeMap<usize, Chunk> = BTreeMap::new();
    let mut expected = 0;
    let mut reported = 0;
    for (index, chunk) in receiver {
        waiting.insert(index, chunk);
        while let Some(chunk) = waiting.remove(&expected) {
            let mut ins = Inserts::new(dialect);
            renderer.grants(&mut ins, &chunk.grants, next_grant_id);
            for (total, (a, b)) in counts.iter_mut().zip(chunk.counts.iter().zip(ins.counts())) {
                *total += a + b;
            }
            let mut sql = chunk.sql;
            sql.push_str(&ins.finish());
            let batch = Batch {
                residents: chunk.residents,
                sql,
            };
            if sinks[expected % sinks.len()].send(batch).is_err() {
                return reported;
            }
            expected += 1;
            let done = committed.load(Ordering::Relaxed);
            if done > reported {
                reported = done;
                progress(done);
            }
        }
    }
    reported
}

/// Runs the batches of one connection, committing every [`TRANSACTION_RESIDENTS`]. A failure
/// rolls the open transaction back, stops the others and is kept for the report.
fn write_batches(
    conn: &mut DbConn,
    dialect: Dialect,
    batches: mpsc::Receiver<Batch>,
    committed: &AtomicU64,
    failure: &Mutex<Option<diesel::result::Error>>,
    stop: &AtomicBool,
) {
    let mut open = 0;
    let run = || -> QueryResult<()> {
        for batch in batches {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if open == 0 {
                writer::execute(conn, dialect.begin())?;
            }
            writer::execute(conn, &batch.sql)?;
            open += batch.residents;
            if open >= TRANSACTION_RESIDENTS {
                writer::execute(conn, "COMMIT")?;
                committed.fetch_add(open as u64, Ordering::SeqCst);
                open = 0;
            }
        }
        if open > 0 {
            writer::execute(conn, "COMMIT")?;
            committed.fetch_add(open as u64, Ordering::SeqCst);
        }
        Ok(())
    };
    if let Err(e) = run() {
        let _ = writer::execute(conn, "ROLLBACK");
        stop.store(true, Ordering::SeqCst);
        failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(e);
    }
}

struct Prepared {
    district: District,
    villages_created: usize,
    facilities_created: usize,
    gdp_years_set: usize,
}

/// The demo's district data: villages for towns that have none (as `POST /api/v1/areas`
/// stores them), the facilities when there are none, and the GDP growth of years not yet set.
fn prepare_district(conn: &mut DbConn, horizon: NaiveDate) -> Result<Prepared, SeedError> {
    db::write_transaction(conn, |conn| {
        let areas = db::areas::all(conn)?;
        let now = db::now();
        let mut towns = Vec::new();
        let mut villages_created = 0;
        for town in areas.iter().filter(|a| a.level == AreaLevel::Town.as_str()) {
            let mut villages: Vec<Village> = areas
                .iter()
                .filter(|a| a.level == AreaLevel::Village.as_str())
                .filter(|a| a.parent_code.as_deref() == Some(town.code.as_str()))
                .map(|a| Village {
                    code: a.code.clone(),
                    name: a.name.clone(),
                })
                .collect();
            if villages.is_empty() {
                for (suffix, name) in names::villages_of(&town.code) {
                    let code = format!("{}{suffix}", town.code);
                    if areas.iter().any(|a| a.code == code) {
                        continue;
                    }
                    db::areas::insert(
                        conn,
                        &AreaRow {
                            code: code.clone(),
                            name: (*name).to_owned(),
                            level: AreaLevel::Village.as_str().to_owned(),
                            parent_code: Some(town.code.clone()),
                        },
                    )?;
                    villages_created += 1;
                    villages.push(Village {
                        code,
                        name: (*name).to_owned(),
                    });
                }
            }
            let (weight, low) = generator::town_plan(&town.code);
            towns.push(Town {
                code: town.code.clone(),
                name: town.name.clone(),
                weight,
                low,
                villages,
            });
        }
        if towns.is_empty() {
            return Err(SeedError::NoTowns);
        }

        let mut facilities_created = 0;
        if db::district::facilities(conn)?.is_empty() {
            for f in FACILITIES.iter().filter(|f| f.opened_on() <= horizon) {
                let Some(town) = towns.iter().find(|t| t.code == f.town) else {
                    continue;
                };
                db::district::insert_facility(
                    conn,
                    &NewFacilityRow {
                        public_id: uuid::Uuid::new_v4().to_string(),
                        kind: f.kind.to_owned(),
                        name: f.name.replace("{town}", &town.name),
                        town_code: town.code.clone(),
                        standardized: f.standardized,
                        opened_on: f.opened_on(),
                        closed_on: f.closed.map(|(y, m, d)| generator::ymd(y, m, d)),
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                facilities_created += 1;
            }
        }

        let known = db::district::gdp_growth(conn)?;
        let mut gdp_years_set = 0;
        for (year, bp) in generator::GDP_GROWTH_BP {
            if *year <= horizon.year() && !known.iter().any(|(y, _)| y == year) {
                db::district::set_gdp_growth(conn, *year, *bp, now)?;
                gdp_years_set += 1;
            }
        }
        Ok(Prepared {
            district: District::new(towns),
            villages_created,
            facilities_created,
            gdp_years_set,
        })
    })
}

struct FacilityPlan {
    kind: &'static str,
    name: &'static str,
    town: &'static str,
    standardized: bool,
    opened: (i32, u32, u32),
    closed: Option<(i32, u32, u32)>,
}

impl FacilityPlan {
    fn opened_on(&self) -> NaiveDate {
        generator::ymd(self.opened.0, self.opened.1, self.opened.2)
    }
}

const fn home(town: &'static str, opened: (i32, u32, u32)) -> FacilityPlan {
    FacilityPlan {
        kind: "home_for_disabled",
        name: "{town}残疾人之家",
        town,
        standardized: false,
        opened,
        closed: None,
    }
}

/// Homes for the disabled in eleven of the twelve towns (松岙镇 has none; some opened during the
/// plan period, one moved), one care institution, child rehabilitation (one standardized).
const FACILITIES: &[FacilityPlan] = &[
    home("330213001", (2018, 6, 1)),
    home("330213002", (2018, 9, 1)),
    home("330213003", (2019, 3, 15)),
    home("330213004", (2019, 5, 20)),
    home("330213005", (2019, 11, 1)),
    home("330213006", (2020, 4, 1)),
    home("330213007", (2022, 3, 1)),
    home("330213008", (2020, 6, 18)),
    home("330213100", (2018, 12, 1)),
    home("330213106", (2023, 5, 1)),
    FacilityPlan {
        closed: Some((2023, 6, 30)),
        ..home("330213107", (2021, 9, 1))
    },
    FacilityPlan {
        name: "{town}残疾人之家（新址）",
        ..home("330213107", (2024, 3, 1))
    },
    FacilityPlan {
        kind: "care_institution",
        name: "奉化区残疾人托养中心",
        town: "330213002",
        standardized: false,
        opened: (2019, 10, 1),
        closed: None,
    },
    FacilityPlan {
        kind: "child_rehab_institution",
        name: "奉化区残疾儿童康复中心",
        town: "330213001",
        standardized: true,
        opened: (2020, 9, 1),
        closed: None,
    },
    FacilityPlan {
        kind: "child_rehab_institution",
        name: "阳光康复幼儿园",
        town: "330213008",
        standardized: false,
        opened: (2022, 9, 1),
        closed: None,
    },
    FacilityPlan {
        kind: "rehab_institution",
        name: "{town}康复站",
        town: "330213100",
        standardized: false,
        opened: (2017, 5, 1),
        closed: None,
    },
];
