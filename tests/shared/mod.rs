//! What every test binary shares (`api`, `cli`, `write_load`, `read_audit_crash`): the
//! PostgreSQL of the PostgreSQL-only tests, a free port, valid ID numbers. Each binary includes
//! it with `mod shared;` (the API suite with `#[path]`).

use std::net::TcpListener;

/// The database `.ci/run` provides.
pub const CI_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL of a PostgreSQL-only test: `TEST_DATABASE_URL`; under CI (`CI` set, as
/// `.ci/run` sets it), where PostgreSQL is always there, the CI database when that is not set,
/// so the SQLite pass runs these tests too and a missing database fails them; otherwise none,
/// and the test skips, saying so.
pub fn postgres_admin_url() -> Option<String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(url) = set("TEST_DATABASE_URL") {
        return Some(url);
    }
    if set("CI").is_some() {
        return Some(CI_DATABASE_URL.to_owned());
    }
    eprintln!("skipped: TEST_DATABASE_URL is not set (set it to postgres://… to run)");
    None
}

/// A port nobody listens on at the moment.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().unwrap().port()
}

/// A valid ID number (GB 11643) of `region`, born on `birth` (`YYYY-MM-DD`), with a three-digit
/// sequence whose parity gives the sex (odd: male, even: female).
pub fn id_number(region: &str, birth: &str, sequence: u16) -> String {
    let birth = chrono::NaiveDate::parse_from_str(birth, "%Y-%m-%d").expect("a YYYY-MM-DD date");
    fenghua_registry::domain::id_number::compose(region, birth, sequence)
        .as_str()
        .to_owned()
}
