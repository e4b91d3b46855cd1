//! The resident import's files for Excel: the template to fill in (the Chinese header of every
//! column and one example row) and the report of an import as CSV (one line per reason a row was
//! rejected, then the counts).

use chrono::NaiveDate;

use crate::domain::certificate::{Category, CertificateNumber, Grade};
use crate::domain::id_number;
use crate::domain::resident::{HouseholdFlag, HouseholdStatus};
use crate::error::AppError;
use crate::messages::Lang;
use crate::use_cases::residents::import::ImportReport;
use crate::use_cases::residents::import_columns::{self, ImportColumn};

use super::exports::{spreadsheet, spreadsheet_with_text_columns, File};
use super::tables::{Cell, Table};
use super::Format;

/// The town of the example row: 锦屏街道, in the area tree of every install.
pub const EXAMPLE_TOWN: &str = "330213001";

/// The example row's resident: plainly not a person (named 示例, born 1990-01-01 with the
/// sequence 999), with an ID number that passes its check so the row imports as it is.
pub fn example_id_number() -> id_number::IdNumber {
    let birth = NaiveDate::from_ymd_opt(1990, 1, 1).expect("a date");
    id_number::compose("330213", birth, 999)
}

/// The example row, cell by cell in the order of [`ImportColumn::ALL`]: a multiple disability
/// (多重残疾), so the certificate columns all show how they are filled.
fn example_row() -> Vec<Cell> {
    let id = example_id_number();
    let certificate = CertificateNumber::compose(&id, Category::Multiple, 2, 0);
    ImportColumn::ALL
        .iter()
        .map(|column| {
            let text = match column {
                ImportColumn::IdNumber => id.as_str().to_owned(),
                ImportColumn::Name => "张三（示例）".to_owned(),
                ImportColumn::TownCode => EXAMPLE_TOWN.to_owned(),
                ImportColumn::Address => "锦屏街道示例路1号".to_owned(),
                ImportColumn::Phone => "13800000000".to_owned(),
                ImportColumn::HouseholdStatus => HouseholdStatus::Dibao.label().to_owned(),
                ImportColumn::HouseholdStatusSince => "2024-03-01".to_owned(),
                ImportColumn::HouseholdFlags => HouseholdFlag::MultipleDisabled.label().to_owned(),
                ImportColumn::WorkCapacity => "否".to_owned(),
                ImportColumn::RegisteredOn => "2024-03-01".to_owned(),
                ImportColumn::CertificateNumber => certificate.clone(),
                ImportColumn::CertificateCategory => Category::Multiple.label().to_owned(),
                ImportColumn::CertificateGrade => Grade::Two.label().to_owned(),
                ImportColumn::CertificateComponents => format!(
                    "{}、{}",
                    Category::Visual.label(),
                    Category::Physical.label()
                ),
                ImportColumn::CertificateIssuedOn => "2024-03-01".to_owned(),
                _ => String::new(),
            };
            if text.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(text)
            }
        })
        .collect()
}

fn width(column: ImportColumn) -> f64 {
    match column {
        ImportColumn::IdNumber => 22.0,
        ImportColumn::CertificateNumber => 24.0,
        ImportColumn::Address => 24.0,
        ImportColumn::CertificateComponents | ImportColumn::HouseholdFlags => 20.0,
        _ => 16.0,
    }
}

/// The template as a CSV file (with a BOM) or a workbook whose ID number, phone and certificate
/// number columns are formatted as text.
pub fn template(format: Format) -> Result<File, AppError> {
    let table = Table {
        name: "残疾人信息导入".to_owned(),
        header: ImportColumn::ALL.iter().map(|c| c.label()).collect(),
        rows: vec![example_row()],
        widths: ImportColumn::ALL.iter().map(|c| width(*c)).collect(),
    };
    let text_columns: Vec<u16> = ImportColumn::ALL
        .iter()
        .enumerate()
        .filter(|(_, c)| import_columns::DIGIT_STRINGS.contains(c))
        .map(|(i, _)| i as u16)
        .collect();
    spreadsheet_with_text_columns(
        table,
        "残疾人信息导入模板",
        "residents_import_template",
        format,
        &text_columns,
    )
}

const REPORT_HEADER: [&str; 4] = ["行号", "列", "原因代码", "原因"];

/// The report of an import as CSV: a line per reason a row was rejected (its line in the file,
/// the column's Chinese header, the reason's code and the reason in Chinese), then a line per
/// count (`合计`, the count's name, its key in the JSON report, the number).
pub fn report_csv(report: &ImportReport) -> Result<File, AppError> {
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for rejected in &report.rejected {
        for error in &rejected.errors {
            rows.push(vec![
                Cell::Int(rejected.row as i64),
                Cell::Text(import_columns::header_of(&error.field).to_owned()),
                Cell::Text(error.code.clone()),
                Cell::Text(error.message_in(Lang::Zh)),
            ]);
        }
    }
    for (name, key, count) in [
        ("读取行数", "rows", report.rows),
        ("新增", "created", report.created),
        ("更新", "updated", report.updated),
        ("未变", "unchanged", report.unchanged),
        ("拒绝", "rejected", report.rejected.len()),
    ] {
        rows.push(vec![
            Cell::Text("合计".to_owned()),
            Cell::Text(name.to_owned()),
            Cell::Text(key.to_owned()),
            Cell::Int(count as i64),
        ]);
    }
    let stamp = super::beijing_now();
    let table = Table {
        name: "导入报告".to_owned(),
        header: REPORT_HEADER.to_vec(),
        rows,
        widths: vec![8.0, 18.0, 22.0, 60.0],
    };
    spreadsheet(
        table,
        &format!("残疾人信息导入报告（{}）", stamp.format("%Y-%m-%d %H%M")),
        &format!("residents_import_report_{}", stamp.format("%Y%m%d_%H%M")),
        Format::Csv,
    )
}
