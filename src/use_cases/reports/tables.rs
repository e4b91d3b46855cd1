//! The tables a CSV file or a spreadsheet holds: a header of Chinese column names and rows of
//! typed cells, so the spreadsheet keeps numbers as numbers and percentages as percentages.

use crate::domain::eligibility::SubsidyKind;
use crate::domain::indicators::definition::IndicatorKind;
use crate::use_cases::indicators::{Gap, KindSummary, Mismatch};

use super::figures::{self, ReportData, Suppression, SUPPRESSED};

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A percentage in percent (66.67 for 66.67 %).
    Percent(f64),
    /// A figure suppressed (see [`Suppression`]).
    Suppressed,
    Empty,
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn opt_text(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    /// As a CSV file writes it.
    pub fn plain(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Percent(p) => figures::number(*p),
            Cell::Suppressed => SUPPRESSED.to_owned(),
            Cell::Empty => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet's name in a workbook (at most 31 characters).
    pub name: String,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// Column widths in characters, for a workbook.
    pub widths: Vec<f64>,
}

pub const INDICATOR_HEADER: [&str; 15] = [
    "指标代码",
    "指标名称",
    "指标类型",
    "指标属性",
    "区域代码",
    "区域名称",
    "分子",
    "分母",
    "数值",
    "单位",
    "目标值",
    "达标要求",
    "是否达标",
    "指标定义版本",
    "统计日期",
];

/// Every indicator: the area's figure, then each town's, one row each.
pub fn indicators(report: &ReportData, suppression: &Suppression) -> Table {
    let mut rows = Vec::new();
    for item in &report.items {
        for shown in figures::shown(item, suppression) {
            let hide = |cell: Cell| {
                if shown.suppressed {
                    Cell::Suppressed
                } else {
                    cell
                }
            };
            let value = match (item.kind, shown.value) {
                (_, None) => Cell::Empty,
                (IndicatorKind::Count, Some(v)) => Cell::Int(v as i64),
                (_, Some(v)) => Cell::Percent(v),
            };
            let target = match (item.kind, item.target) {
                (_, None) => Cell::Empty,
                (IndicatorKind::Count, Some(t)) => Cell::Int(t as i64),
                (_, Some(t)) => Cell::Percent(t),
            };
            rows.push(vec![
                Cell::text(item.code.as_str()),
                Cell::text(&item.name),
                Cell::text(item.kind.label()),
                Cell::text(figures::attribute(item.binding)),
                Cell::text(&shown.place_code),
                Cell::text(&shown.place_name),
                hide(Cell::Int(shown.numerator)),
                hide(shown.denominator.map_or(Cell::Empty, Cell::Int)),
                hide(value),
                Cell::text(figures::unit(item.kind)),
                target,
                Cell::text(figures::requirement(item)),
                hide(Cell::text(figures::verdict(shown.met))),
                Cell::Int(item.definition_version.into()),
                Cell::text(item.as_of.to_string()),
            ]);
        }
    }
    Table {
        name: "指标（分镇街道）".to_owned(),
        header: INDICATOR_HEADER.to_vec(),
        rows,
        widths: vec![
            30.0, 34.0, 8.0, 8.0, 12.0, 12.0, 12.0, 12.0, 10.0, 6.0, 10.0, 18.0, 8.0, 8.0, 12.0,
        ],
    }
}

pub const GAP_HEADER: [&str; 8] = [
    "序号",
    "居民编号",
    "姓名",
    "身份证号",
    "镇（街道）代码",
    "镇（街道）",
    "原因代码",
    "原因",
];

/// A gap list, one row per resident (per town for the homes for the disabled). `name` names
/// the sheet.
pub fn gaps(name: &str, items: &[Gap]) -> Table {
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, gap)| {
            vec![
                Cell::Int(i as i64 + 1),
                Cell::opt_text(gap.resident_id.as_deref()),
                Cell::opt_text(gap.name.as_deref()),
                Cell::opt_text(gap.id_number.as_deref()),
                Cell::text(&gap.town_code),
                Cell::text(&gap.town_name),
                Cell::text(gap.reason.as_str()),
                Cell::text(gap.reason.label()),
            ]
        })
        .collect();
    Table {
        name: sheet_name(name),
        header: GAP_HEADER.to_vec(),
        rows,
        widths: vec![6.0, 38.0, 10.0, 22.0, 14.0, 12.0, 24.0, 22.0],
    }
}

pub const SUMMARY_HEADER: [&str; 5] = [
    "补贴",
    "符合条件人数",
    "发放中人数",
    "符合条件未发放",
    "发放中但不符合条件",
];

pub fn reconciliation_summary(summary: &[KindSummary]) -> Table {
    let rows = summary
        .iter()
        .map(|s| {
            vec![
                Cell::text(subsidy_label(s.kind)),
                Cell::Int(s.eligible),
                Cell::Int(s.paid),
                Cell::Int(s.eligible_not_paid),
                Cell::Int(s.paid_not_eligible),
            ]
        })
        .collect();
    Table {
        name: "汇总".to_owned(),
        header: SUMMARY_HEADER.to_vec(),
        rows,
        widths: vec![16.0, 14.0, 14.0, 16.0, 20.0],
    }
}

pub const MISMATCH_HEADER: [&str; 10] = [
    "序号",
    "补贴",
    "核对结果",
    "居民编号",
    "姓名",
    "身份证号",
    "镇（街道）代码",
    "镇（街道）",
    "原因代码",
    "原因",
];

pub fn reconciliation_items(items: &[Mismatch]) -> Table {
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            vec![
                Cell::Int(i as i64 + 1),
                Cell::text(subsidy_label(m.kind)),
                Cell::text(m.finding.label()),
                Cell::text(&m.resident_id),
                Cell::text(&m.name),
                Cell::text(&m.id_number),
                Cell::text(&m.town_code),
                Cell::text(&m.town_name),
                Cell::text(
                    m.reasons
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                Cell::text(
                    m.reasons
                        .iter()
                        .map(|r| r.label())
                        .collect::<Vec<_>>()
                        .join("；"),
                ),
            ]
        })
        .collect();
    Table {
        name: "核对名单".to_owned(),
        header: MISMATCH_HEADER.to_vec(),
        rows,
        widths: vec![6.0, 16.0, 18.0, 38.0, 10.0, 22.0, 14.0, 12.0, 30.0, 30.0],
    }
}

pub fn subsidy_label(kind: SubsidyKind) -> &'static str {
    match kind {
        SubsidyKind::Living => "困难残疾人生活补贴",
        SubsidyKind::Nursing => "重度残疾人护理补贴",
    }
}

/// A valid worksheet name: at most 31 characters, none of `[]:*?/\`.
pub fn sheet_name(name: &str) -> String {
    name.chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect()
}

/// Key and value rows about a report (title, area, day …), for the sheet that explains it.
pub fn about(lines: &[(&str, String)]) -> Table {
    Table {
        name: "说明".to_owned(),
        header: vec!["项目", "内容"],
        rows: lines
            .iter()
            .map(|(k, v)| vec![Cell::text(*k), Cell::text(v.clone())])
            .collect(),
        widths: vec![16.0, 100.0],
    }
}
