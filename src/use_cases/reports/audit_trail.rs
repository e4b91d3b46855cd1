//! The audit trail as a file an auditor keeps: the events asked for, in chain order, each with
//! its hashes, and the chain's head and verification at the time of the export.
//!
//! Keeping the head's hash is what lets an auditor prove later that nothing before it was
//! changed: each event's hash covers its columns and the hash before it, so the same hash at
//! the same `seq` in a later verification means the same trail up to there.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Action, AuditContext, ChainReport, Event};
use crate::db::audit::AuditRow;
use crate::db::reports::{self as store, ExportFilter};
use crate::db::{self, DbConn};
use crate::error::AppError;

use super::csv;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailFormat {
    Csv,
    Ndjson,
}

impl TrailFormat {
    pub const OFFERED: &'static [(&'static str, &'static str, TrailFormat)] = &[
        ("csv", "text/csv", TrailFormat::Csv),
        ("ndjson", "application/x-ndjson", TrailFormat::Ndjson),
    ];

    pub fn content_type(self) -> &'static str {
        match self {
            TrailFormat::Csv => "text/csv; charset=utf-8",
            TrailFormat::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            TrailFormat::Csv => "csv",
            TrailFormat::Ndjson => "ndjson",
        }
    }
}

/// The most events one export holds; narrow the filter for more.
pub const MAX_EVENTS: usize = 200_000;
const PAGE: i64 = 5_000;

/// One end of the period: a plain date is a whole day in Beijing time (`from` its start, `to`
/// its end), an RFC 3339 instant is itself. `to` is exclusive for an instant.
pub fn bound(field: &str, text: &str, end: bool) -> Result<NaiveDateTime, AppError> {
    let bad = || {
        AppError::field(
            field,
            "invalid_date",
            "a date (YYYY-MM-DD, a whole day in Beijing time) or an RFC 3339 instant",
        )
    };
    if text.len() == 10 {
        let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
        let day = if end {
            day.succ_opt().ok_or_else(bad)?
        } else {
            day
        };
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
        return Ok(midnight - chrono::Duration::hours(8));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .map_err(|_| bad())
}

/// One event as exported: every stored column.
#[derive(Debug, Serialize)]
struct EventLine<'a> {
    record: &'static str,
    seq: i64,
    occurred_at: String,
    actor_id: &'a Option<String>,
    actor_username: &'a Option<String>,
    actor_role: &'a Option<String>,
    action: &'a str,
    entity_type: &'a Option<String>,
    entity_id: &'a Option<String>,
    resident_id: &'a Option<String>,
    request_id: &'a Option<String>,
    client_address: &'a Option<String>,
    outcome: &'a str,
    changes: Option<serde_json::Value>,
    prev_hash: &'a str,
    hash: &'a str,
}

/// The export's closing record.
#[derive(Debug, Serialize)]
struct ChainLine<'a> {
    record: &'static str,
    #[serde(flatten)]
    chain: &'a ChainReport,
    exported_events: usize,
    exported_at: String,
    filter: &'a serde_json::Value,
    hash_recipe: &'static str,
}

/// How an event's hash is made (see [`audit::link_hash`]), for whoever checks it by hand.
pub const HASH_RECIPE: &str = "hash = hex(SHA-256(JSON array [seq, occurred_at as \
    YYYY-MM-DDTHH:MM:SS.ffffffZ, actor_id, actor_username, actor_role, action, entity_type, \
    entity_id, resident_id, request_id, client_address, outcome, changes as compact JSON text \
    with sorted keys or null, prev_hash], written compactly)); prev_hash of seq 1 is 64 zeros; \
    each prev_hash is the hash of the event before";

/// `occurred_at` as the hash reads it.
fn instant(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The events matching `filter` and the chain's state, read together.
pub struct Export {
    pub bytes: Vec<u8>,
    pub chain: ChainReport,
    pub events: usize,
}

/// Exports the events matching `filter` in chain order, with the chain's head and its
/// verification, and records the export in the trail (after reading it, so the file holds
/// the trail as it was before).
pub fn export(
    conn: &mut DbConn,
    ctx: &AuditContext,
    recorder: &audit::batch::Recorder,
    filter: &ExportFilter,
    described: serde_json::Value,
    format: TrailFormat,
) -> Result<Export, AppError> {
    let (rows, chain) = crate::db::read_snapshot(conn, |conn| {
        let mut rows: Vec<AuditRow> = Vec::new();
        let mut after = 0;
        loop {
            let page = store::export_page(conn, filter, after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            rows.extend(page);
            if rows.len() > MAX_EVENTS {
                return Err(AppError::field(
                    "to",
                    "too_many_events",
                    format!("more than {MAX_EVENTS} events match; narrow the period"),
                ));
            }
        }
        // A read-only snapshot: the chain is checked, no checkpoint recorded.
        let (chain, _) = audit::check(conn, audit::Walk::Incremental)?;
        Ok((rows, chain))
    })?;
    let exported_at = db::now()
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let bytes = match format {
        TrailFormat::Ndjson => ndjson(&rows, &chain, &exported_at, &described),
        TrailFormat::Csv => csv_file(&rows, &chain, &exported_at, &described),
    };
    recorder.record_read(
        conn,
        ctx,
        Event::new(Action::AuditExport).changes(json!({
            "filter": described,
            "format": format.extension(),
            "events": rows.len(),
            "head_seq": chain.head_seq,
            "valid": chain.valid,
        })),
    )?;
    Ok(Export {
        bytes,
        events: rows.len(),
        chain,
    })
}

fn line(row: &AuditRow) -> EventLine<'_> {
    EventLine {
        record: "event",
        seq: row.seq,
        occurred_at: instant(row.occurred_at),
        actor_id: &row.actor_user_id,
        actor_username: &row.actor_username,
        actor_role: &row.actor_role,
        action: &row.action,
        entity_type: &row.entity_type,
        entity_id: &row.entity_id,
        resident_id: &row.resident_id,
        request_id: &row.request_id,
        client_address: &row.client_address,
        outcome: &row.outcome,
        changes: row
            .changes
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()),
        prev_hash: &row.prev_hash,
        hash: &row.hash,
    }
}

fn ndjson(
    rows: &[AuditRow],
    chain: &ChainReport,
    exported_at: &str,
    filter: &serde_json::Value,
) -> Vec<u8> {
    let mut out = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut out, &line(row)).expect("writing to memory");
        out.push(b'\n');
    }
    let closing = ChainLine {
        record: "chain",
        chain,
        exported_events: rows.len(),
        exported_at: exported_at.to_owned(),
        filter,
        hash_recipe: HASH_RECIPE,
    };
    serde_json::to_writer(&mut out, &closing).expect("writing to memory");
    out.push(b'\n');
    out
}

pub const CSV_HEADER: [&str; 17] = [
    "序号",
    "时间（UTC）",
    "操作人ID",
    "操作人",
    "角色",
    "操作代码",
    "操作",
    "对象类型",
    "对象ID",
    "居民ID",
    "请求ID",
    "客户端地址",
    "结果",
    "变更内容",
    "前一哈希",
    "本条哈希",
    "说明",
];

fn csv_file(
    rows: &[AuditRow],
    chain: &ChainReport,
    exported_at: &str,
    filter: &serde_json::Value,
) -> Vec<u8> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                instant(r.occurred_at),
                opt(&r.actor_user_id),
                opt(&r.actor_username),
                opt(&r.actor_role),
                r.action.clone(),
                Action::parse(&r.action)
                    .map(|a| a.label().to_owned())
                    .unwrap_or_default(),
                opt(&r.entity_type),
                opt(&r.entity_id),
                opt(&r.resident_id),
                opt(&r.request_id),
                opt(&r.client_address),
                r.outcome.clone(),
                opt(&r.changes),
                r.prev_hash.clone(),
                r.hash.clone(),
                String::new(),
            ]
        })
        .collect();
    // The closing rows: the first column starts with `#`, so a program reading events skips
    // them; a person reads them at the bottom of the sheet.
    let broken = chain
        .first_broken
        .as_ref()
        .map_or_else(|| "无".to_owned(), |b| format!("{} {}", b.seq, b.problem));
    let closing = [
        (
            "#审计链核验",
            if chain.valid { "通过" } else { "未通过" }.to_owned(),
        ),
        ("#核验起点（已签名检查点序号）", chain.from_seq.to_string()),
        ("#已核验事件数", chain.events_checked.to_string()),
        (
            "#链头序号",
            chain.head_seq.map(|s| s.to_string()).unwrap_or_default(),
        ),
        ("#链头哈希", chain.head_hash.clone().unwrap_or_default()),
        ("#首个断链", broken),
        ("#导出事件数", rows.len().to_string()),
        ("#导出时间（UTC）", exported_at.to_owned()),
        ("#筛选条件", filter.to_string()),
        ("#哈希算法", HASH_RECIPE.to_owned()),
        (
            "#单元格前缀",
            "以 = + - @ 开头的文本单元格前加了一个英文单引号（防止被表格软件当作公式），\
             核算哈希前请去掉；NDJSON 格式按原值导出"
                .to_owned(),
        ),
    ];
    for (key, value) in closing {
        lines.push(vec![key.to_owned(), value]);
    }
    csv::rows(&CSV_HEADER, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_date_is_a_whole_day_in_beijing() {
        let from = bound("from", "2026-06-01", false).unwrap();
        let to = bound("to", "2026-06-01", true).unwrap();
        assert_eq!(from.to_string(), "2026-05-31 16:00:00");
        assert_eq!(to.to_string(), "2026-06-01 16:00:00");
        let instant = bound("from", "2026-06-01T08:00:00+08:00", false).unwrap();
        assert_eq!(instant.to_string(), "2026-06-01 00:00:00");
        assert!(bound("from", "2026-13-01", false).is_err());
        assert!(bound("to", "yesterday", true).is_err());
    }
}
