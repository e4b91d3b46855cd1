//! The indicators' per-resident values (`resident_facts`, issue 10): kept equal to the rows they
//! are made of, by every path that writes those rows, and never the cause of a stale figure.
//!
//! A district from `seed-demo` is read as of several days; then every resident is marked
//! stale, so the same reports are worked out from the fact tables themselves, and the answers
//! must be identical. A change made in SQL, behind the service's back, must count at once.

use serde_json::Value;

use fenghua_registry::db;

use crate::helpers::{seeded_district, sql, TestApp};
use crate::session::Session;

async fn count(app: &TestApp, table: &'static str) -> i64 {
    db::run(&app.state.pool, move |conn| {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let row: Count =
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(conn)?;
        Ok(row.n)
    })
    .await
    .unwrap()
}

const DAYS: [&str; 4] = ["2024-12-31", "2025-06-30", "2026-01-01", "2026-06-30"];

/// Everything a report, a gap list and the reconciliation answer on each of [`DAYS`].
async fn answers(app: &TestApp, admin: &Session) -> Vec<Value> {
    let mut all = Vec::new();
    for day in DAYS {
        for path in [
            format!("/api/v1/indicators?as_of={day}"),
            format!("/api/v1/indicators/living_subsidy_coverage/gaps?as_of={day}&limit=200"),
            format!("/api/v1/indicators/rehab_service_coverage/gaps?as_of={day}&limit=200"),
            format!("/api/v1/subsidies/reconciliation?as_of={day}"),
        ] {
            let answer = app.get_as(admin, &path).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text());
            all.push(answer.json());
        }
    }
    all
}

#[actix_web::test]
async fn the_kept_values_give_the_figures_the_fact_tables_give() {
    let (app, admin) = seeded_district(400).await;
    assert_eq!(count(&app, "resident_facts").await, 400);
    assert_eq!(count(&app, "resident_facts_stale").await, 0);

    let kept = answers(&app, &admin).await;
    // Not a district of nobody: the first report counts people.
    let denominators: i64 = kept[0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["denominator"].as_i64())
        .sum();
    assert!(denominators > 400, "{denominators}");

    // Every value stale: the reports read every resident from the fact tables instead.
    sql(
        &app,
        "INSERT INTO resident_facts_stale (resident_id) SELECT id FROM residents",
    )
    .await;
    let from_tables = answers(&app, &admin).await;
    assert_eq!(kept.len(), from_tables.len());
    for (i, (a, b)) in kept.iter().zip(&from_tables).enumerate() {
        assert_eq!(a, b, "answer {i} ({})", DAYS[i / 4]);
    }

    // The next write through the service rewrites what is stale before it commits.
    app.create_village(&admin, "330213001299", "测试村", "330213001")
        .await;
    assert_eq!(count(&app, "resident_facts_stale").await, 0);
    assert_eq!(count(&app, "resident_facts").await, 400);
    assert_eq!(answers(&app, &admin).await, kept);
}

#[actix_web::test]
async fn a_change_made_in_sql_counts_at_once() {
    let (app, admin) = seeded_district(60).await;
    let before = app
        .get_as(&admin, "/api/v1/indicators?as_of=2026-06-30")
        .await;
    assert_eq!(before.status, 200, "{}", before.text());
    let base: Vec<i64> = before.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["denominator"].as_i64())
        .collect();
    assert!(base.iter().any(|d| *d > 0), "{base:?}");

    // Everyone died in 2020, written by an operator straight into the table: the triggers mark
    // them stale, and the report reads them from their rows without waiting for a write.
    sql(&app, "UPDATE residents SET deceased_on = '2020-01-01'").await;
    assert_eq!(count(&app, "resident_facts_stale").await, 60);
    let after = app
        .get_as(&admin, "/api/v1/indicators?as_of=2026-06-30")
        .await;
    assert_eq!(after.status, 200, "{}", after.text());
    // The facility indicators (homes, care and child rehabilitation institutions) count
    // facilities, not residents, and income growth compares households' incomes.
    let about_residents = |code: &Value| {
        ![
            "home_for_disabled_coverage",
            "care_institutions",
            "child_rehab_institutions",
            "income_growth",
        ]
        .contains(&code.as_str().unwrap())
    };
    let items = after.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 14);
    for item in items.iter().filter(|i| about_residents(&i["code"])) {
        assert_eq!(item["denominator"], 0, "{}", item["code"]);
        assert_eq!(item["numerator"], 0, "{}", item["code"]);
    }
}

#[actix_web::test]
async fn every_table_the_values_are_made_of_marks_its_resident_stale() {
    let (app, _admin) = seeded_district(60).await;
    for (table, touch) in [
        ("residents", "UPDATE residents SET town_code = town_code WHERE id = (SELECT MIN(id) FROM residents)"),
        ("certificates", "UPDATE certificates SET grade = grade WHERE id = (SELECT MIN(id) FROM certificates)"),
        ("household_statuses", "UPDATE household_statuses SET since = since WHERE id = (SELECT MIN(id) FROM household_statuses)"),
        ("subsidy_grants", "UPDATE subsidy_grants SET kind = kind WHERE id = (SELECT MIN(id) FROM subsidy_grants)"),
        ("grant_suspensions", "UPDATE grant_suspensions SET reason = reason WHERE id = (SELECT MIN(id) FROM grant_suspensions)"),
        ("file_records", "UPDATE file_records SET kind = kind WHERE id = (SELECT MIN(id) FROM file_records)"),
        ("home_modifications", "UPDATE home_modifications SET status = status WHERE id = (SELECT MIN(id) FROM home_modifications)"),
        ("resident_moves", "UPDATE resident_moves SET moved_on = moved_on WHERE id = (SELECT MIN(id) FROM resident_moves)"),
    ] {
        assert!(count(&app, table).await > 0, "seed-demo wrote no {table}");
        sql(&app, "DELETE FROM resident_facts_stale").await;
        sql(&app, touch).await;
        assert_eq!(count(&app, "resident_facts_stale").await, 1, "{table}");
    }
}

/// A void (issue 14) is an update of its row: the triggers mark the resident stale, the next
/// write rewrites the kept value, and the kept values then give the answers the fact tables
/// give, void rows left out of both.
#[actix_web::test]
async fn a_void_marks_its_resident_stale_and_the_kept_values_follow() {
    let (app, admin) = seeded_district(60).await;
    for (i, table) in ["file_records", "subsidy_grants", "home_modifications"]
        .into_iter()
        .enumerate()
    {
        assert!(count(&app, table).await > 0, "seed-demo wrote no {table}");
        assert_eq!(count(&app, "resident_facts_stale").await, 0);
        sql(
            &app,
            &format!(
                "UPDATE {table} SET voided_at = CURRENT_TIMESTAMP, voided_by = 'operator', \
                 void_reason = 'test' WHERE id = (SELECT MIN(id) FROM {table})"
            ),
        )
        .await;
        assert_eq!(count(&app, "resident_facts_stale").await, 1, "{table}");
        app.create_village(
            &admin,
            &format!("33021300128{i}"),
            &format!("测试{i}村"),
            "330213001",
        )
        .await;
        assert_eq!(count(&app, "resident_facts_stale").await, 0, "{table}");
    }
    let kept = answers(&app, &admin).await;
    sql(
        &app,
        "INSERT INTO resident_facts_stale (resident_id) SELECT id FROM residents",
    )
    .await;
    assert_eq!(answers(&app, &admin).await, kept);
}
