//! The whole file read in one snapshot (`db::file`): on PostgreSQL one statement that aggregates
//! every section to JSON, on SQLite one query per section in a read transaction. The single
//! statement must give exactly the rows, in exactly the order, that each section's own query
//! gives.

use fenghua_registry::db;

use crate::helpers::seeded_district;

#[actix_web::test]
async fn the_one_statement_file_holds_what_the_section_queries_hold() {
    let (app, _admin) = seeded_district(80).await;
    let (files, sections_seen) = db::run(&app.state.pool, |conn| {
        use diesel::prelude::*;
        use fenghua_registry::db::schema::residents;
        let ids: Vec<String> = residents::table
            .select(residents::public_id)
            .order(residents::id)
            .load(conn)?;
        let mut sections_seen = [0usize; 8];
        for id in &ids {
            let one = db::file::load(conn, id)?.expect("a seeded resident has a file");
            let by_queries =
                db::read_snapshot(conn, |conn| Ok(db::file::load_by_queries(conn, id)?))?
                    .expect("and the section queries find it");
            assert_eq!(one, by_queries, "the file of resident {id}");
            for (seen, count) in sections_seen.iter_mut().zip([
                one.household.len(),
                one.certificates.len(),
                one.grants.len(),
                one.suspensions.len(),
                one.cases.len(),
                one.records.len(),
                one.moves.len(),
                one.records.iter().filter(|r| r.end_on.is_some()).count(),
            ]) {
                *seen += count;
            }
        }
        let missing = db::file::load(conn, "01a2499a-0000-7000-8000-000000000000")?;
        assert!(missing.is_none(), "no file for an unknown id");
        Ok((ids.len(), sections_seen))
    })
    .await
    .unwrap();
    assert_eq!(files, 80);
    // The comparison means something only if the district fills every section it compares.
    assert!(
        sections_seen.iter().all(|n| *n > 0),
        "sections with rows (household, certificates, grants, suspensions, cases, records, \
         moves, ended records): {sections_seen:?}"
    );
}
