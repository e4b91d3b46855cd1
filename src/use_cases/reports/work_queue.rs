//! A work queue as a file for Excel: CSV with a byte-order mark or XLSX, Chinese headers and
//! labels, identifiers masked.

use crate::domain::certificate::{Category, CertificateState};
use crate::domain::eligibility::SubsidyKind;
use crate::domain::home_modification::CaseStatus;
use crate::domain::indicators::rules::GapReason;
use crate::domain::resident::HouseholdStatus;
use crate::domain::work_queue::WorkQueue;
use crate::error::AppError;
use crate::use_cases::work_queues::WorkItem;

use super::exports::File;
use super::tables::{Cell, Table};
use super::Format;

const HEADER: [&str; 11] = [
    "档案编号",
    "姓名",
    "身份证号（脱敏）",
    "镇（街道）代码",
    "镇（街道）",
    "事项编号",
    "状态",
    "类别",
    "起始日期",
    "天数",
    "待办",
];

const WIDTHS: [f64; 11] = [
    38.0, 10.0, 20.0, 14.0, 12.0, 38.0, 16.0, 12.0, 12.0, 8.0, 22.0,
];

pub fn file(queue: WorkQueue, items: &[WorkItem], format: Format) -> Result<File, AppError> {
    let rows = items
        .iter()
        .map(|item| {
            let text = |s: &str| Cell::Text(s.to_owned());
            vec![
                text(&item.resident_id),
                text(&item.name),
                text(&item.id_number),
                text(&item.town_code),
                text(&item.town_name),
                item.subject_id.as_deref().map_or(Cell::Empty, text),
                text(state_label(&item.state)),
                item.kind
                    .as_deref()
                    .map_or(Cell::Empty, |k| text(kind_label(k))),
                item.since
                    .map_or(Cell::Empty, |d| Cell::Text(d.to_string())),
                item.days.map_or(Cell::Empty, Cell::Int),
                text(queue.label()),
            ]
        })
        .collect();
    let stamp = super::beijing_now();
    let table = Table {
        name: "待办".to_owned(),
        header: HEADER.to_vec(),
        rows,
        widths: WIDTHS.to_vec(),
    };
    super::exports::spreadsheet(
        table,
        &format!(
            "待办-{}（{}导出）",
            queue.label(),
            stamp.format("%Y-%m-%d %H%M")
        ),
        &format!(
            "work_queue_{}_{}",
            queue.as_str(),
            stamp.format("%Y%m%d_%H%M")
        ),
        format,
    )
}

/// The label of a state code (each queue's codes are distinct).
fn state_label(code: &str) -> &str {
    CertificateState::parse(code)
        .map(CertificateState::label)
        .or_else(|| CaseStatus::parse(code).map(CaseStatus::label))
        .or_else(|| GapReason::parse(code).map(GapReason::label))
        .unwrap_or(match code {
            "suspended" => "暂停中",
            "ended" => "已终止",
            other => other,
        })
}

fn kind_label(code: &str) -> &str {
    Category::parse(code)
        .map(Category::label)
        .or_else(|| SubsidyKind::parse(code).map(SubsidyKind::label))
        .or_else(|| HouseholdStatus::parse(code).map(HouseholdStatus::label))
        .unwrap_or(code)
}
