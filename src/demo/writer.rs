//! Synthetic residents as SQL: multi-row `INSERT` statements of literals (every value is ours,
//! strings still escaped), executed as text in large transactions. The backend-specific parts
//! are all in [`Dialect`].

use chrono::{Datelike, NaiveDate};
use rand::rngs::StdRng;
use rand::RngCore;
use serde::Serialize;

use super::generator::{District, Grant, Person, Record};
use crate::db::DbConn;
use crate::protect::Protector;
use crate::use_cases::residents::view::context;
use crate::use_cases::sections::{Index, Section};

/// Rows per `INSERT` statement.
const ROWS_PER_STATEMENT: usize = 500;

/// What differs between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of(conn: &DbConn) -> Self {
        match conn {
            DbConn::Sqlite(_) => Dialect::Sqlite,
            DbConn::Postgres(_) => Dialect::Postgres,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    }

    /// Settings of the loading session. SQLite: in WAL mode `synchronous=NORMAL` keeps the file
    /// consistent and skips an fsync per commit (a crash may lose the last transactions, which
    /// a re-run with `--force` or a fresh database makes good), and a larger page cache for the
    /// random keys of the unique indexes. PostgreSQL: commits without waiting for the WAL flush.
    pub fn session(self) -> &'static str {
        match self {
            Dialect::Sqlite => "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -262144;",
            Dialect::Postgres => "SET synchronous_commit = off",
        }
    }

    /// Settings of a connection that loads rows, beyond [`Dialect::session`], tried and
    /// skipped when refused. PostgreSQL checks a foreign key with a query per row (a quarter
    /// of the load's time); in the `replica` role it does not, which only a superuser may
    /// set. Safe here: each batch writes its residents before the rows that refer to them,
    /// and the SQLite load, which keeps checking, proves the generator's keys.
    pub fn bulk_session(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SET session_replication_role = replica"),
        }
    }

    /// Starts a loading transaction: SQLite takes the write lock at once.
    pub fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// PostgreSQL's `GENERATED ALWAYS AS IDENTITY` takes an explicit id only when told.
    fn explicit_id(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "OVERRIDING SYSTEM VALUE ",
        }
    }

    /// After loading the residents from `first_id` on: their names' pairs (name search), which
    /// the triggers on `residents` write unless the load ran without triggers (PostgreSQL's
    /// replica role, [`Dialect::bulk_session`]). SQLite's triggers always run.
    pub fn name_grams_after_load(self, first_id: i64) -> Option<String> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(format!(
                "INSERT INTO resident_name_grams (gram, resident_id) \
                 SELECT g, r.id FROM residents r, resident_name_grams_of(r.name) AS g \
                 WHERE r.id >= {first_id} ON CONFLICT DO NOTHING; ANALYZE resident_name_grams"
            )),
        }
    }

    /// After loading: PostgreSQL's identity sequences moved past the explicit ids, and fresh
    /// planner statistics. SQLite needs neither (its row ids follow the largest id).
    pub fn after_load(self) -> String {
        match self {
            Dialect::Sqlite => String::new(),
            Dialect::Postgres => {
                let mut sql = String::new();
                for table in TABLES.iter().filter(|t| t.explicit_id) {
                    sql.push_str(&format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                         GREATEST((SELECT MAX(id) FROM {0}), 1));\n",
                        table.name
                    ));
                }
                let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
                sql.push_str(&format!("ANALYZE {};\n", names.join(", ")));
                sql
            }
        }
    }
}

pub struct Table {
    pub name: &'static str,
    columns: &'static str,
    /// Rows carry their id (children refer to it without reading it back).
    explicit_id: bool,
}

pub const RESIDENTS: usize = 0;
pub const HOUSEHOLD_STATUSES: usize = 1;
pub const CERTIFICATES: usize = 2;
pub const SUBSIDY_GRANTS: usize = 3;
pub const GRANT_SUSPENSIONS: usize = 4;
pub const FILE_RECORDS: usize = 5;
pub const HOME_MODIFICATIONS: usize = 6;
pub const RESIDENT_MOVES: usize = 7;

/// The tables filled, parents before children.
pub const TABLES: [Table; 8] = [
    Table {
        name: "residents",
        columns: "id, public_id, id_number_enc, id_number_index, name, sex, birth_date, \
                  town_code, village_code, address, phone_enc, guardian_name, \
                  guardian_phone_enc, household_flags, work_capacity, registered_on, \
                  deceased_on, moved_out_on, created_at, updated_at, version",
        explicit_id: true,
    },
    Table {
        name: "household_statuses",
        columns: "resident_id, status, since, until, created_at",
        explicit_id: false,
    },
    Table {
        name: "certificates",
        columns: "public_id, resident_id, category, components, grade, reissue, issued_on, \
                  valid_until, status, cancelled_on, cancel_reason, created_at",
        explicit_id: false,
    },
    Table {
        name: "subsidy_grants",
        columns: "id, public_id, resident_id, kind, start_month, monthly_amount_fen, \
                  eligible_at_start, override_reason, terminated_on, terminate_reason, \
                  decided_by, created_at, updated_at, version",
        explicit_id: true,
    },
    Table {
        name: "grant_suspensions",
        columns: "grant_id, resident_id, suspended_on, resumed_on, reason, created_at",
        explicit_id: false,
    },
    Table {
        name: "file_records",
        columns: "public_id, resident_id, section, kind, start_on, end_on, natural_key, data, \
                  created_at, updated_at, version, holds",
        explicit_id: false,
    },
    Table {
        name: "home_modifications",
        columns: "public_id, resident_id, status, applied_on, assessed_on, assessment, \
                  started_on, completed_on, cancelled_on, cancel_reason, items, cost_fen, \
                  created_at, updated_at, version",
        explicit_id: false,
    },
    Table {
        name: "resident_moves",
        columns: "public_id, resident_id, from_town, from_village, to_town, to_village, \
                  moved_on, created_at",
        explicit_id: false,
    },
];

/// The statements of one table being written, and its rows.
#[derive(Default)]
struct Statements {
    sql: String,
    /// Rows in the statement still open.
    open_rows: usize,
    total: u64,
}

/// Multi-row INSERT statements of every table, built row by row.
pub struct Inserts {
    dialect: Dialect,
    tables: [Statements; 8],
}

impl Inserts {
    pub fn new(dialect: Dialect) -> Self {
        Inserts {
            dialect,
            tables: Default::default(),
        }
    }

    /// Starts a row of `table`; it ends when the returned writer drops.
    pub fn row(&mut self, table: usize) -> Row<'_> {
        let def = &TABLES[table];
        let out = &mut self.tables[table];
        if out.open_rows == 0 {
            out.sql.push_str("INSERT INTO ");
            out.sql.push_str(def.name);
            out.sql.push_str(" (");
            out.sql.push_str(def.columns);
            out.sql.push_str(") ");
            if def.explicit_id {
                out.sql.push_str(self.dialect.explicit_id());
            }
            out.sql.push_str("VALUES\n(");
        } else {
            out.sql.push_str(",\n(");
        }
        Row { out, first: true }
    }

    /// Rows written per table.
    pub fn counts(&self) -> [u64; 8] {
        let mut counts = [0; 8];
        for (count, table) in counts.iter_mut().zip(&self.tables) {
            *count = table.total;
        }
        counts
    }

    /// Every statement, parents before children.
    pub fn finish(mut self) -> String {
        let size = self.tables.iter().map(|t| t.sql.len() + 2).sum();
        let mut sql = String::with_capacity(size);
        for table in &mut self.tables {
            if table.open_rows > 0 {
                table.sql.push_str(";\n");
                table.open_rows = 0;
            }
            sql.push_str(&table.sql);
        }
        sql
    }
}

/// One row's values, comma-separated as they are added.
pub struct Row<'a> {
    out: &'a mut Statements,
    first: bool,
}

impl Drop for Row<'_> {
    fn drop(&mut self) {
        self.out.sql.push(')');
        self.out.open_rows += 1;
        self.out.total += 1;
        if self.out.open_rows >= ROWS_PER_STATEMENT {
            self.out.sql.push_str(";\n");
            self.out.open_rows = 0;
        }
    }
}

impl Row<'_> {
    fn next(&mut self) -> &mut String {
        if !self.first {
            self.out.sql.push(',');
        }
        self.first = false;
        &mut self.out.sql
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        push_literal(self.next(), value);
        self
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    pub fn null(&mut self) -> &mut Self {
        self.next().push_str("NULL");
        self
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        self.next().push_str(&value.to_string());
        self
    }

    pub fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    pub fn boolean(&mut self, value: bool) -> &mut Self {
        self.next().push_str(if value { "TRUE" } else { "FALSE" });
        self
    }

    pub fn opt_boolean(&mut self, value: Option<bool>) -> &mut Self {
        match value {
            Some(v) => self.boolean(v),
            None => self.null(),
        }
    }

    pub fn date(&mut self, value: NaiveDate) -> &mut Self {
        push_date(self.next(), value);
        self
    }

    pub fn opt_date(&mut self, value: Option<NaiveDate>) -> &mut Self {
        match value {
            Some(v) => self.date(v),
            None => self.null(),
        }
    }

    /// A literal already quoted (the timestamp shared by every row).
    pub fn quoted(&mut self, literal: &str) -> &mut Self {
        self.next().push_str(literal);
        self
    }
}

/// A string literal: single quotes doubled. Standard SQL on both backends (PostgreSQL has
/// `standard_conforming_strings` on: backslashes are plain characters).
pub fn push_literal(out: &mut String, value: &str) {
    out.push('\'');
    if value.contains('\'') {
        out.push_str(&value.replace('\'', "''"));
    } else {
        out.push_str(value);
    }
    out.push('\'');
}

/// `'YYYY-MM-DD'`, as both backends store a date.
fn push_date(out: &mut String, day: NaiveDate) {
    let (y, m, d) = (day.year(), day.month(), day.day());
    debug_assert!((1000..=9999).contains(&y));
    let digits = [
        b'\'',
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (d / 10) as u8,
        b'0' + (d % 10) as u8,
        b'\'',
    ];
    out.push_str(std::str::from_utf8(&digits).expect("ASCII"));
}

/// Public ids of the rows: UUID version 7, whose time is the run's start and whose counter
/// (chunk, row) grows in the order rows are written, so the unique indexes on `public_id` take
/// them at their right edge instead of all over the tree. The rest is random.
pub struct PublicIds {
    millis: u64,
    prefix: u64,
    counter: u64,
    rng: StdRng,
}

/// Bits of the counter that number rows within a chunk.
const ROW_BITS: u32 = 26;

impl PublicIds {
    pub fn new(millis: u64, chunk: u64, rng: StdRng) -> Self {
        PublicIds {
            millis,
            prefix: chunk << ROW_BITS,
            counter: 0,
            rng,
        }
    }

    pub fn next_id(&mut self) -> String {
        let counter = self.prefix | (self.counter & ((1 << ROW_BITS) - 1));
        self.counter += 1;
        let mut random = [0u8; 6];
        self.rng.fill_bytes(&mut random);
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&self.millis.to_be_bytes()[2..]);
        // 40 counter bits: 4 in rand_a's top nibble after the version, 8, then 6 after the
        // variant, 8, 8, 6; then random bits.
        b[6] = 0x70 | ((counter >> 36) & 0x0F) as u8;
        b[7] = (counter >> 28) as u8;
        b[8] = 0x80 | ((counter >> 22) & 0x3F) as u8;
        b[9] = (counter >> 14) as u8;
        b[10] = (counter >> 6) as u8;
        b[11] = (((counter & 0x3F) as u8) << 2) | (random[0] & 0x03);
        b[12..16].copy_from_slice(&random[1..5]);
        uuid::Uuid::from_bytes(b).hyphenated().to_string()
    }
}

/// A grant waiting for its id, which the writer gives in order.
pub struct PendingGrant {
    pub public_id: String,
    pub resident_id: i64,
    pub grant: Grant,
}

/// What one rendering needs besides the resident.
pub struct Renderer<'a> {
    pub protector: &'a Protector,
    pub district: &'a District,
    /// The quoted timestamp of every row's `created_at` and `updated_at`.
    pub now: &'a str,
}

impl Renderer<'_> {
    /// Adds a resident's rows (all but the grants, returned for the writer to number).
    pub fn person(
        &self,
        ins: &mut Inserts,
        ids: &mut PublicIds,
        p: &Person,
        grants: &mut Vec<PendingGrant>,
    ) {
        let town = &self.district.towns[p.town];
        let village = |town: usize, village: Option<usize>| {
            village.map(|v| self.district.towns[town].villages[v].code.as_str())
        };
        let public_id = ids.next_id();
        let number = p.number.as_str();
        let enc = |column: &str, value: &str| {
            self.protector
                .cipher
                .encrypt(value, &context(column, &public_id))
        };
        let flags = serde_json::to_string(&p.flags).expect("flags serialise");
        ins.row(RESIDENTS)
            .int(p.id)
            .text(&public_id)
            .text(&enc("id_number", number))
            .text(&self.protector.index.of(number))
            .text(&p.name)
            .text(p.number.sex().as_str())
            .date(p.birth)
            .text(&town.code)
            .opt_text(village(p.town, p.village))
            .opt_text(p.address.as_deref())
            .opt_text(p.phone.as_deref().map(|v| enc("phone", v)).as_deref())
            .opt_text(p.guardian_name.as_deref())
            .opt_text(
                p.guardian_phone
                    .as_deref()
                    .map(|v| enc("guardian_phone", v))
                    .as_deref(),
            )
            .text(&flags)
            .opt_boolean(p.work_capacity)
            .date(p.registered_on)
            .opt_date(p.deceased_on)
            .opt_date(p.moved_out_on)
            .quoted(self.now)
            .quoted(self.now)
            .int(1);

        for s in &p.statuses {
            ins.row(HOUSEHOLD_STATUSES)
                .int(p.id)
                .text(s.status.as_str())
                .date(s.since)
                .opt_date(s.until)
                .quoted(self.now);
        }

        for c in &p.certificates {
            let components = (!c.components.is_empty()).then(|| {
                serde_json::to_string(&c.components.iter().map(|c| c.as_str()).collect::<Vec<_>>())
                    .expect("codes serialise")
            });
            ins.row(CERTIFICATES)
                .text(&ids.next_id())
                .int(p.id)
                .text(c.category.as_str())
                .opt_text(components.as_deref())
                .int(i64::from(c.grade))
                .int(i64::from(c.reissue))
                .date(c.issued_on)
                .date(c.valid_until)
                .text(if c.cancelled_on.is_some() {
                    "cancelled"
                } else {
                    "active"
                })
                .opt_date(c.cancelled_on)
                .opt_text(c.cancel_reason.map(|r| r.as_str()))
                .quoted(self.now);
        }

        for r in &p.records {
            let (section, index, data) = match r {
                Record::RehabNeed(x) => parts(x),
                Record::RehabService(x) => parts(x),
                Record::AssistiveDevice(x) => parts(x),
                Record::Employment(x) => parts(x),
                Record::Training(x) => parts(x),
                Record::Education(x) => parts(x),
                Record::Insurance(x) => parts(x),
                Record::CultureService(x) => parts(x),
                Record::Income(x) => parts(x),
                Record::OtherBenefit(x) => parts(x),
            };
            ins.row(FILE_RECORDS)
                .text(&ids.next_id())
                .int(p.id)
                .text(section)
                .text(&index.kind)
                .date(index.start_on)
                .opt_date(index.end_on)
                .opt_text(index.natural_key.as_deref())
                .text(&data)
                .quoted(self.now)
                .quoted(self.now)
                .int(1)
                .boolean(index.holds);
        }

        for c in &p.cases {
            ins.row(HOME_MODIFICATIONS)
                .text(&ids.next_id())
                .int(p.id)
                .text(c.status.as_str())
                .date(c.applied_on)
                .opt_date(c.assessed_on)
                .opt_text(c.assessment.map(|a| a.as_str()))
                .opt_date(c.started_on)
                .opt_date(c.completed_on)
                .opt_date(c.cancelled_on)
                .opt_text(c.cancel_reason)
                .text(&serde_json::to_string(&c.items).expect("items serialise"))
                .opt_int(c.cost_fen)
                .quoted(self.now)
                .quoted(self.now)
                .int(1);
        }

        for m in &p.moves {
            ins.row(RESIDENT_MOVES)
                .text(&ids.next_id())
                .int(p.id)
                .text(&self.district.towns[m.from_town].code)
                .opt_text(village(m.from_town, m.from_village))
                .text(&self.district.towns[m.to_town].code)
                .opt_text(village(m.to_town, m.to_village))
                .date(m.moved_on)
                .quoted(self.now);
        }

        for g in &p.grants {
            grants.push(PendingGrant {
                public_id: ids.next_id(),
                resident_id: p.id,
                grant: g.clone(),
            });
        }
    }

    /// The grants of a chunk and their suspensions, numbered from `next_id`.
    pub fn grants(&self, ins: &mut Inserts, grants: &[PendingGrant], next_id: &mut i64) {
        for pending in grants {
            let id = *next_id;
            *next_id += 1;
            let g = &pending.grant;
            ins.row(SUBSIDY_GRANTS)
                .int(id)
                .text(&pending.public_id)
                .int(pending.resident_id)
                .text(g.kind.as_str())
                .date(g.start_month)
                .int(g.monthly_amount_fen)
                .boolean(g.eligible_at_start)
                .opt_text(g.override_reason)
                .opt_date(g.terminated_on)
                .opt_text(g.terminate_reason)
                .text("seed-demo")
                .quoted(self.now)
                .quoted(self.now)
                .int(1);
            for s in &g.suspensions {
                ins.row(GRANT_SUSPENSIONS)
                    .int(id)
                    .int(pending.resident_id)
                    .date(s.suspended_on)
                    .opt_date(s.resumed_on)
                    .text(s.reason)
                    .quoted(self.now);
            }
        }
    }
}

/// A section record as the service stores it: section, index and the record's JSON.
fn parts<S: Section + Serialize>(record: &S) -> (&'static str, Index, String) {
    (
        S::NAME,
        record.index(),
        serde_json::to_string(record).expect("records serialise"),
    )
}

/// Runs statements as text.
pub fn execute(conn: &mut DbConn, sql: &str) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if sql.is_empty() {
        return Ok(());
    }
    conn.batch_execute(sql)
}
