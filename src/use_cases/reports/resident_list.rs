//! The resident search as a file for Excel (CSV with a byte-order mark, or XLSX): every
//! resident the search finds, with Chinese headers and labels, identifiers masked as the search
//! shows them, scoped to the caller's towns, and the export audited as one read.

use serde_json::json;

use crate::access::Requester;
use crate::audit::{Action, Event};
use crate::db::residents::ResidentFilter;
use crate::db::DbConn;
use crate::error::AppError;
use crate::use_cases::residents::{self, SearchItem};

use super::exports::File;
use super::tables::{Cell, Table};
use super::Format;

/// Residents read per search page while the file is built.
const PAGE: i64 = 1_000;

/// A file holds at most this many residents (the district registers about 20,000).
pub const MAX_ROWS: i64 = 200_000;

const HEADER: [&str; 17] = [
    "档案编号",
    "姓名",
    "身份证号（脱敏）",
    "性别",
    "出生年份",
    "镇（街道）代码",
    "镇（街道）",
    "村（社区）代码",
    "联系电话（脱敏）",
    "困难类别",
    "档案状态",
    "登记日期",
    "残疾类别",
    "残疾等级",
    "证件状态",
    "证件有效期至",
    "版本",
];

const WIDTHS: [f64; 17] = [
    38.0, 10.0, 20.0, 6.0, 9.0, 14.0, 12.0, 16.0, 16.0, 10.0, 10.0, 12.0, 10.0, 9.0, 10.0, 14.0,
    6.0,
];

/// The search's residents as a file. Read a page at a time, each page its own snapshot.
pub fn export(
    conn: &mut DbConn,
    who: &Requester,
    filter: ResidentFilter,
    format: Format,
) -> Result<File, AppError> {
    let audited = json!({
        "format": format.extension(),
        "q": filter.name,
        "town": filter.town,
        "village": filter.village,
        "category": filter.category,
        "grade": filter.grade,
        "status": filter.status,
        "household_status": filter.household_status,
        "certificate_expiring_before": filter.certificate_expiring_before,
    });
    let mut filter = filter;
    let mut rows = Vec::new();
    loop {
        let page = residents::search(conn, who, filter.clone(), PAGE)?;
        if page.total > MAX_ROWS {
            return Err(AppError::field(
                "format",
                "too_many_rows",
                format!(
                    "{} residents match; a file holds at most {MAX_ROWS}: narrow the filters",
                    page.total
                ),
            ));
        }
        rows.extend(page.items.iter().map(row));
        match page.next {
            Some(after) => filter.after_id = after,
            None => break,
        }
    }
    let event = Event::new(Action::ResidentExport).changes(json!({
        "filters": audited,
        "rows": rows.len(),
    }));
    who.recorder.record_read(conn, who.audit, event)?;

    let stamp = super::beijing_now();
    let table = Table {
        name: "残疾人名单".to_owned(),
        header: HEADER.to_vec(),
        rows,
        widths: WIDTHS.to_vec(),
    };
    super::exports::spreadsheet(
        table,
        &format!("残疾人名单（{}导出）", stamp.format("%Y-%m-%d %H%M")),
        &format!("residents_{}", stamp.format("%Y%m%d_%H%M")),
        format,
    )
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn opt(s: Option<impl Into<String>>) -> Cell {
    s.map_or(Cell::Empty, text)
}

fn row(item: &SearchItem) -> Vec<Cell> {
    let r = &item.resident;
    let c = item.certificate.as_ref();
    vec![
        text(&r.id),
        text(&r.fields.name),
        text(&r.id_number),
        text(r.sex.label()),
        Cell::Int(r.birth_year.into()),
        text(&r.fields.town_code),
        text(&item.town_name),
        opt(r.fields.village_code.clone()),
        opt(r.fields.phone.clone()),
        text(r.household_status.label()),
        text(r.status.label()),
        text(r.fields.registered_on.to_string()),
        opt(c.map(|c| c.category.label())),
        c.map_or(Cell::Empty, |c| Cell::Int(c.grade.into())),
        opt(c.map(|c| c.status.label())),
        opt(c.map(|c| c.valid_until.to_string())),
        Cell::Int(r.version.into()),
    ]
}
