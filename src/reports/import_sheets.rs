//! The resident import's files for Excel: the template to fill in (the Chinese header of every
//! column and one example row) and the report of an import as CSV (one line per reason a row was
//! rejected, then the counts).

use chrono::NaiveDate;

use crate::domain::certificate::{Category, CertificateNumber, Grade};
use crate::domain::id_number;
use crate::domain::resident::{HouseholdFlag, HouseholdStatus};
use crate::error::AppError;
use crate::residents::import::ImportReport;
use crate::residents::import_columns::{self, ImportColumn};

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
                Cell::Text(
                    reason_in_chinese(&error.code)
                        .map_or_else(|| error.message.clone(), str::to_owned),
                ),
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

/// The reasons a row of a resident import can be rejected for, in Chinese. A code without one
/// here keeps its English message.
pub fn reason_in_chinese(code: &str) -> Option<&'static str> {
    Some(match code {
        "required" => "必填项为空",
        "invalid_length" => "身份证号应为18位",
        "invalid_characters" => "身份证号应为17位数字加1位数字或X",
        "invalid_birth_date" => "身份证号中的出生日期不是有效日期",
        "invalid_check_digit" => "身份证号校验位不符，可能有数字输错",
        "scientific_notation" => {
            "Excel 已将该数字转为科学计数法（如 3.30213E+17），后几位已丢失：请将该列设置为文本格式后重新录入"
        }
        "invalid_date" => "日期格式应为 YYYY-MM-DD",
        "invalid_boolean" => "应填写“是”或“否”",
        "unknown_code" => "不是可选的代码或名称",
        "invalid" => "填写不正确",
        "invalid_format" => "格式不正确",
        "invisible_character" => "含有不可见字符，请重新录入",
        "too_long" => "内容过长",
        "unknown_town" => "乡镇（街道）代码不存在",
        "unknown_village" => "村（社区）代码不存在",
        "not_in_town" => "该村（社区）不属于所填乡镇（街道）",
        "out_of_scope" => "该人员登记在您不负责的乡镇（街道）",
        "before_birth" => "日期早于出生日期",
        "in_future" => "日期晚于今天",
        "repeated_in_file" => "与文件中前面一行的身份证号重复",
        "differs_from_active" => "该人员已持有另一张有效残疾证，请通过证件操作办理",
        "holder_mismatch" => "残疾证号前18位应为持证人身份证号",
        "category_mismatch" => "残疾证号中的类别位与残疾类别不符",
        "grade_mismatch" => "残疾证号中的等级位与残疾等级不符",
        "not_allowed" => "只有多重残疾才填写构成类别",
        "not_after_issue" => "有效期应晚于发证日期",
        "out_of_range" => "超出允许范围",
        "not_after_current" => "日期应晚于当前户籍状态的起始日期",
        "before_certificate" => "日期早于残疾证发证日期",
        "duplicate_id_number" => "该身份证号已登记",
        "resident_not_active" => "该人员已死亡或迁出",
        "active_certificate_exists" => "该人员已持有有效残疾证",
        _ => return None,
    })
}
