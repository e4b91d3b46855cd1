//! The whole file read in one snapshot (`db::file`): on PostgreSQL one statement that aggregates
//! every section to JSON, on SQLite one query per section in a read transaction. The single
//! statement must give exactly the rows, in exactly the order, that each section's own query
//! gives. A file read again unchanged on the same day is sent as it was kept (`db::file_views`).

use diesel::prelude::*;
use serde_json::{json, Value};

use fenghua_registry::audit::batch::KeptFileRead;
use fenghua_registry::audit::{Action, AuditContext, Event};
use fenghua_registry::db;
use fenghua_registry::db::schema::{file_views, residents};
use fenghua_registry::domain::role::{Role, Scope};
use fenghua_registry::error::AppError;

use crate::helpers::{
    assert_denied, certify, change_resident, events, file_with_etag, grant, move_to, out_of_town,
    record, register, resident_path, seeded_district, spawn_app, today, verify_chain, TestApp,
};
use crate::session::{JINPING, XIKOU};

#[actix_web::test]
async fn the_one_statement_file_holds_what_the_section_queries_hold() {
    let (app, _admin) = seeded_district(80).await;
    let (files, sections_seen) = db::run(&app.state.pool, |conn| {
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

/// The kept view of `resident`'s file (`db::file_views`): its version, what it was rendered
/// for, and its body.
async fn kept_view(app: &TestApp, resident: &str) -> Option<(i32, String, String)> {
    let resident = resident.to_owned();
    db::run(&app.state.pool, move |conn| {
        Ok(file_views::table
            .inner_join(residents::table.on(residents::id.eq(file_views::resident_id)))
            .filter(residents::public_id.eq(resident))
            .select((
                file_views::version,
                file_views::rendered_for,
                file_views::body,
            ))
            .first(conn)
            .optional()?)
    })
    .await
    .unwrap()
}

/// Marks the kept view of `resident`'s file (its address becomes [`MARKER`]), leaving what it
/// is kept for: a read that sends the mark sent the kept view.
async fn mark_kept(app: &TestApp, resident: &str) {
    mark_kept_for(app, resident, None).await;
}

/// [`mark_kept`], and says it was rendered for `rendered_for` instead, when given.
async fn mark_kept_for(app: &TestApp, resident: &str, rendered_for: Option<&str>) {
    let (_, kept_for, body) = kept_view(app, resident).await.expect("a view was kept");
    let mut marked: Value = serde_json::from_str(&body).unwrap();
    marked["resident"]["address"] = json!(MARKER);
    let marked = marked.to_string();
    let rendered_for = rendered_for.map_or(kept_for, str::to_owned);
    let resident = resident.to_owned();
    let changed = db::run(&app.state.pool, move |conn| {
        let id: i64 = residents::table
            .filter(residents::public_id.eq(resident))
            .select(residents::id)
            .first(conn)?;
        Ok(
            diesel::update(file_views::table.filter(file_views::resident_id.eq(id)))
                .set((
                    file_views::body.eq(marked),
                    file_views::rendered_for.eq(rendered_for),
                ))
                .execute(conn)?,
        )
    })
    .await
    .unwrap();
    assert_eq!(changed, 1);
}

const MARKER: &str = "(the kept view)";

fn is_marked(file: &Value) -> bool {
    file["resident"]["address"] == MARKER
}

/// A read renders the file once and keeps it; the next read of the unchanged file on the same
/// day sends it again, with the same ETag. It holds only what a response holds: the ID number
/// and the phone masked.
#[actix_web::test]
async fn a_file_read_again_unchanged_is_sent_as_kept() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, number) = register(
        &app,
        &admin,
        "1971-02-03",
        41,
        JINPING,
        json!({"phone": "13812345678"}),
    )
    .await;
    let (first, etag) = file_with_etag(&app, &admin, &resident).await;
    let (version, rendered_for, body) = kept_view(&app, &resident).await.expect("kept");
    assert_eq!(format!("\"{version}\""), etag);
    assert_eq!(
        rendered_for,
        format!("{}/{}", today(), app.state.config.certificate_expiring_days)
    );
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), first);
    assert!(!body.contains(&number), "no whole ID number is kept");
    assert!(!body.contains("13812345678"), "no whole phone is kept");
    assert!(body.contains("138****5678"));

    mark_kept(&app, &resident).await;
    let (again, again_etag) = file_with_etag(&app, &admin, &resident).await;
    assert!(is_marked(&again), "the kept view is what is sent: {again}");
    assert_eq!(again_etag, etag);
    let reads = events(&app, "file_read").await;
    assert_eq!(reads.len(), 2, "each read is audited, kept or not");
}

/// A kept view rendered for another day, or with another expiring window, is not sent: the
/// file is rendered again (certificates' statuses and the subsidies shown depend on the day).
#[actix_web::test]
async fn a_file_kept_for_another_day_is_rendered_again() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, _) = register(&app, &admin, "1971-02-03", 42, JINPING, json!({})).await;
    let (first, _) = file_with_etag(&app, &admin, &resident).await;
    mark_kept_for(&app, &resident, Some("2020-01-01/90")).await;
    let (again, _) = file_with_etag(&app, &admin, &resident).await;
    assert_eq!(again, first);
    let (_, rendered_for, _) = kept_view(&app, &resident).await.unwrap();
    assert!(
        rendered_for.starts_with(&today().to_string()),
        "{rendered_for}"
    );
}

/// Every change to a file moves the resident's version on, so a kept view of the file before
/// it is never sent after it: each change below is made after a read, with the kept view
/// replaced by a marker that must not come back.
#[actix_web::test]
async fn no_change_to_a_file_leaves_its_kept_view_in_use() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, number) = register(&app, &admin, "1965-07-08", 43, JINPING, json!({})).await;

    let mut changes = 0;
    let mut after_change = |what: &'static str| {
        changes += 1;
        let (app, admin, resident) = (&app, &admin, resident.clone());
        async move {
            let (file, _) = file_with_etag(app, admin, &resident).await;
            assert!(!is_marked(&file), "{what}: the kept view was sent");
            file
        }
    };

    file_with_etag(&app, &admin, &resident).await;
    mark_kept(&app, &resident).await;
    change_resident(
        &app,
        &admin,
        &resident,
        json!({"address": "锦屏街道南山路1号"}),
    )
    .await;
    let file = after_change("resident changed").await;
    assert_eq!(file["resident"]["address"], "锦屏街道南山路1号");

    mark_kept(&app, &resident).await;
    certify(
        &app,
        &admin,
        &resident,
        &number,
        "physical",
        2,
        "2024-03-01",
    )
    .await;
    let file = after_change("certificate issued").await;
    assert_eq!(file["certificates"].as_array().unwrap().len(), 1);

    mark_kept(&app, &resident).await;
    record(
        &app,
        &admin,
        &resident,
        "rehab-needs",
        json!({"type": "physical_therapy", "assessed_on": "2025-01-05"}),
    )
    .await;
    after_change("section record added").await;

    mark_kept(&app, &resident).await;
    grant(&app, &admin, &resident, "living", "2025-01").await;
    let file = after_change("subsidy granted").await;
    assert_eq!(file["subsidies"].as_array().unwrap().len(), 1);

    mark_kept(&app, &resident).await;
    move_to(&app, &admin, &resident, XIKOU, "2025-06-01").await;
    let file = after_change("moved").await;
    assert_eq!(file["moves"].as_array().unwrap().len(), 1);
    assert_eq!(changes, 5);
}

/// A change made to a file's rows outside the service (an operator's SQL, which does not move
/// the resident's version) forgets the file's kept view all the same: triggers on every table
/// of the file.
#[actix_web::test]
async fn a_change_made_outside_the_service_forgets_the_kept_view() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (resident, number) = register(&app, &admin, "1965-07-08", 44, JINPING, json!({})).await;
    certify(
        &app,
        &admin,
        &resident,
        &number,
        "physical",
        2,
        "2024-03-01",
    )
    .await;
    let (before, etag) = file_with_etag(&app, &admin, &resident).await;
    assert_eq!(before["certificates"][0]["grade"], 2);
    mark_kept(&app, &resident).await;
    db::run(&app.state.pool, |conn| {
        Ok(diesel::sql_query("UPDATE certificates SET grade = 3").execute(conn)?)
    })
    .await
    .unwrap();
    let (after, after_etag) = file_with_etag(&app, &admin, &resident).await;
    assert!(
        !is_marked(&after),
        "the kept view was sent after the change"
    );
    assert_eq!(after["certificates"][0]["grade"], 3);
    assert_eq!(
        after_etag, etag,
        "the operator's SQL did not move the version"
    );
}

/// A kept file goes to the readers the file's towns allow, like a rendered one: a caseworker of
/// another town gets the 404 of a resident that does not exist, audited as denied; one of the
/// resident's town gets the kept file.
#[actix_web::test]
async fn a_kept_file_is_sent_only_within_the_readers_towns() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (outsider, resident) = out_of_town(&app, &admin).await;
    let local = app.session("xikou", Role::Caseworker, &[XIKOU]).await;
    file_with_etag(&app, &admin, &resident).await;
    mark_kept(&app, &resident).await;

    let refused = app
        .get_as(&outsider, &format!("{}/file", resident_path(&resident)))
        .await;
    refused.problem(404, "not_found");
    assert!(!refused.text().contains(MARKER));
    assert_denied(&app, &outsider, &resident, 1).await;

    let (file, _) = file_with_etag(&app, &local, &resident).await;
    assert!(is_marked(&file), "the kept view is what is sent: {file}");
    let reads = events(&app, "file_read").await;
    assert_eq!(
        reads.len(),
        2,
        "the admin's read and the local caseworker's"
    );
    assert_eq!(reads[1].actor_username.as_deref(), Some("xikou"));
    assert_eq!(reads[1].resident_id.as_deref(), Some(resident.as_str()));
    assert_eq!(verify_chain(&app, &admin).await["valid"], true);
}

/// The read-audit writer serves a read whose file is kept, appending its event before it
/// answers; a read of a file not kept gets no event from it and is told to render the file;
/// a resident that does not exist is 404 without an event.
#[actix_web::test]
async fn the_read_audit_writer_serves_kept_files_and_only_those() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (kept, _) = register(&app, &admin, "1971-02-03", 43, JINPING, json!({})).await;
    let (not_kept, _) = register(&app, &admin, "1972-02-03", 44, JINPING, json!({})).await;
    let (first, etag) = file_with_etag(&app, &admin, &kept).await;
    let rendered_for = kept_view(&app, &kept).await.unwrap().1;
    let read = |public_id: &str| KeptFileRead {
        public_id: public_id.to_owned(),
        rendered_for: rendered_for.clone(),
        scope: Scope::All,
        answered: Event::new(Action::FileRead).resident(public_id.to_owned()),
        refused: Event::new(Action::AccessDenied).resident(public_id.to_owned()),
    };
    let recorder = &app.state.recorder;
    let ctx = AuditContext::default();
    let before = app.audit_events().await.len();

    let served = recorder.read_kept_file(&ctx, read(&kept)).await.unwrap();
    let served = served.expect("the kept file is served");
    assert_eq!(format!("\"{}\"", served.version), etag);
    assert_eq!(serde_json::from_str::<Value>(&served.body).unwrap(), first);
    let after = app.audit_events().await;
    assert_eq!(
        after.len(),
        before + 1,
        "its event is committed before the answer"
    );
    assert_eq!(after.last().unwrap().action, "file_read");

    // A file this process has not kept, known or not, is not even looked up.
    let unknown = uuid::Uuid::new_v4().to_string();
    for public_id in [&not_kept, &unknown] {
        let outcome = recorder.read_kept_file(&ctx, read(public_id)).await;
        assert_eq!(outcome.unwrap(), None);
    }
    // One noted as kept but forgotten since is looked up, and found missing.
    recorder.note_kept(&not_kept, &rendered_for);
    let outcome = recorder.read_kept_file(&ctx, read(&not_kept)).await;
    assert_eq!(outcome.unwrap(), None);
    recorder.note_kept(&unknown, &rendered_for);
    let missing = recorder.read_kept_file(&ctx, read(&unknown)).await;
    assert!(matches!(missing, Err(AppError::NotFound)), "{missing:?}");
    let events = app.audit_events().await.len();
    assert_eq!(events, before + 1, "no event for any of them");
}
