//! The files of the indicator routes: a report, one indicator, a gap list, the reconciliation,
//! a snapshot — each as CSV, XLSX or HTML.

use chrono::NaiveDate;
use serde_json::json;

use crate::access::Requester;
use crate::audit::{Action, Event};
use crate::db::{self, DbConn};
use crate::domain::eligibility::SubsidyKind;
use crate::domain::indicators::definition::IndicatorCode;
use crate::domain::role::Scope;
use crate::error::AppError;
use crate::use_cases::indicators::{self, Gap};

use super::figures::{Persons, ReportData, Suppression};
use super::html::{self, Provenance, SnapshotNote};
use super::snapshots::{self, Frozen};
use super::tables::{self, Table};
use super::{beijing, csv, xlsx, Format, PLAN_TITLE};

/// A file to send.
#[derive(Debug)]
pub struct File {
    pub format: Format,
    pub bytes: Vec<u8>,
    /// What and as of when, in Chinese.
    pub name: String,
    /// The same in ASCII, for old clients.
    pub fallback: String,
}

/// One table as a CSV or XLSX file named `name` (and `fallback` in ASCII), each with the
/// format's extension added.
pub fn spreadsheet(
    table: Table,
    name: &str,
    fallback: &str,
    format: Format,
) -> Result<File, AppError> {
    spreadsheet_with_text_columns(table, name, fallback, format, &[])
}

/// [`spreadsheet`], the columns `text_columns` of the workbook formatted as text (a template,
/// where ID numbers are typed).
pub fn spreadsheet_with_text_columns(
    table: Table,
    name: &str,
    fallback: &str,
    format: Format,
    text_columns: &[u16],
) -> Result<File, AppError> {
    let bytes = match format {
        Format::Csv => csv::table(&table),
        Format::Xlsx => xlsx::workbook_with_text_columns(name, &[table], text_columns)?,
        Format::Json | Format::Html => {
            return Err(AppError::internal("a spreadsheet is a CSV or XLSX file"))
        }
    };
    Ok(File {
        format,
        bytes,
        name: format!("{name}.{}", format.extension()),
        fallback: format!("{fallback}.{}", format.extension()),
    })
}

/// A file holds a whole list: one scan, one audited read, not one per page.
const WHOLE_LIST: i64 = i64::MAX;

fn provenance(snapshot: Option<SnapshotNote>) -> Provenance {
    Provenance {
        generated_at: beijing(db::now()),
        snapshot,
    }
}

/// The report (or one of its indicators) as a file, with the gap lists asked for as extra
/// sheets of a workbook.
pub struct ReportRequest<'a> {
    pub day: NaiveDate,
    pub area: Option<&'a str>,
    /// One indicator only.
    pub code: Option<IndicatorCode>,
    /// Gap lists to add (XLSX only).
    pub gaps: Vec<IndicatorCode>,
    pub format: Format,
    pub suppress_below: i64,
}

pub fn report(conn: &mut DbConn, who: &Requester, asked: ReportRequest) -> Result<File, AppError> {
    if asked.format != Format::Xlsx && !asked.gaps.is_empty() {
        return Err(AppError::field(
            "gaps",
            "xlsx_only",
            "gap lists are added as sheets of a workbook: ask for format=xlsx",
        ));
    }
    if let Some(code) = asked.gaps.iter().find(|c| !c.has_gap_list()) {
        return Err(AppError::field(
            "gaps",
            "no_gap_list",
            format!("{code} has no gap list"),
        ));
    }
    let mut persons = Persons::default();
    let (report, ()) = indicators::report_visiting(
        conn,
        who.scope,
        asked.day,
        asked.area,
        |_, town, evaluation| persons.add(town, evaluation),
        |_| Ok(()),
    )?;
    let mut data = report;
    if let Some(code) = asked.code {
        data.items.retain(|i| i.code == code);
    }
    let mut extra = Vec::new();
    for &code in &asked.gaps {
        let items = all_gaps(conn, who, code, asked.day, asked.area)?;
        let name = data_name(&report_name(&data, code));
        extra.push(tables::gaps(&format!("缺口-{name}"), &items));
    }
    let what = match asked.code {
        Some(code) => format!("{}{}", data.area.name, report_name(&data, code)),
        None => format!("{}残疾人事业发展主要指标", data.area.name),
    };
    let fallback = match asked.code {
        Some(code) => format!("indicator_{code}_{}_{}", data.area.code, data.as_of),
        None => format!("indicators_{}_{}", data.area.code, data.as_of),
    };
    let file = render(
        &data,
        &persons,
        asked.suppress_below,
        asked.format,
        &provenance(None),
        extra,
        format!("{what}（截至{}）", data.as_of),
        fallback,
    )?;
    record_export(
        conn,
        who,
        Event::new(Action::ReportExport).changes(json!({
            "as_of": asked.day,
            "area": data.area.code,
            "indicator": asked.code,
            "gaps": asked.gaps,
            "format": file.format.extension(),
        })),
    )?;
    Ok(file)
}

fn report_name(data: &ReportData, code: IndicatorCode) -> String {
    data.items
        .iter()
        .find(|i| i.code == code)
        .map_or_else(|| code.label().to_owned(), |i| i.name.clone())
}

/// A name fit for a sheet: quotation marks dropped.
fn data_name(name: &str) -> String {
    name.chars().filter(|c| !"“”\"".contains(*c)).collect()
}

/// The figures as a file of `format` (not JSON).
#[allow(clippy::too_many_arguments)]
fn render(
    data: &ReportData,
    persons: &Persons,
    suppress_below: i64,
    format: Format,
    provenance: &Provenance,
    extra: Vec<Table>,
    name: String,
    fallback: String,
) -> Result<File, AppError> {
    let suppression = Suppression::decide(data, persons, suppress_below);
    let bytes = match format {
        Format::Csv => csv::table(&tables::indicators(data, &suppression)),
        Format::Html => html::report(data, &suppression, provenance),
        Format::Xlsx => {
            let mut sheets = vec![tables::indicators(data, &suppression)];
            sheets.extend(extra);
            let mut about = vec![
                ("规划", PLAN_TITLE.to_owned()),
                ("报表", name.clone()),
                ("区域", format!("{}（{}）", data.area.name, data.area.code)),
                ("统计日期", data.as_of.to_string()),
                ("指标定义版本", format!("第{}版", data.definition_version)),
                ("生成时间", provenance.generated_at.clone()),
            ];
            if let Some(s) = &provenance.snapshot {
                about.push(("快照编号", s.id.clone()));
                about.push(("冻结时间", s.taken_at.clone()));
                about.push(("封存摘要（SHA-256）", s.seal.clone()));
            }
            about.push(("小数抑制", suppression.notice()));
            sheets.push(tables::about(&about));
            xlsx::workbook(&name, &sheets)?
        }
        Format::Json => return Err(AppError::internal("JSON is not rendered as a file")),
    };
    Ok(File {
        format,
        bytes,
        name: format!("{name}.{}", format.extension()),
        fallback: format!("{fallback}.{}", format.extension()),
    })
}

fn record_export(conn: &mut DbConn, who: &Requester, event: Event) -> Result<(), AppError> {
    who.recorder.record_read(conn, who.audit, event)?;
    Ok(())
}

/// A snapshot as a file.
pub fn snapshot(
    conn: &mut DbConn,
    who: &Requester,
    id: &str,
    format: Format,
    suppress_below: i64,
) -> Result<File, AppError> {
    let Frozen {
        view,
        persons,
        taken_at,
    } = snapshots::get(conn, who.scope, id)?;
    let note = SnapshotNote {
        id: view.id.clone(),
        taken_at: beijing(taken_at),
        taken_by: view.taken_by.clone(),
        seal: view.seal.clone(),
    };
    let taken_day = (taken_at + chrono::Duration::hours(8)).date();
    let file = render(
        &view.report,
        &persons,
        suppress_below,
        format,
        &provenance(Some(note)),
        Vec::new(),
        format!(
            "{}主要指标快照（截至{}，{}冻结）",
            view.area.name, view.as_of, taken_day
        ),
        format!(
            "snapshot_{}_{}_{}",
            &view.id[..8.min(view.id.len())],
            view.area.code,
            view.as_of
        ),
    )?;
    record_export(
        conn,
        who,
        Event::new(Action::ReportExport)
            .entity("report_snapshots", view.id.clone())
            .changes(json!({
                "as_of": view.as_of,
                "area": view.area.code,
                "format": format.extension(),
            })),
    )?;
    Ok(file)
}

/// The whole gap list, a page at a time (each page's read is audited as the JSON one is).
fn all_gaps(
    conn: &mut DbConn,
    who: &Requester,
    code: IndicatorCode,
    day: NaiveDate,
    area: Option<&str>,
) -> Result<Vec<Gap>, AppError> {
    Ok(indicators::gaps(conn, who, code, day, area, WHOLE_LIST, None)?.items)
}

/// The area a list is of, by name: the one asked for, or the caller's default.
fn area_name(
    conn: &mut DbConn,
    scope: &Scope,
    area: Option<&str>,
) -> Result<(String, String), AppError> {
    let code = match (area, scope) {
        (Some(code), _) => code.to_owned(),
        (None, Scope::Towns(mine)) if mine.len() == 1 => mine[0].clone(),
        (None, _) => indicators::DISTRICT.to_owned(),
    };
    let name = crate::db::areas::all(conn)?
        .into_iter()
        .find(|a| a.code == code)
        .map(|a| a.name)
        .unwrap_or_default();
    Ok((code, name))
}

/// A gap list as a file: every item, not a page.
pub fn gaps(
    conn: &mut DbConn,
    who: &Requester,
    code: IndicatorCode,
    day: NaiveDate,
    area: Option<&str>,
    format: Format,
) -> Result<File, AppError> {
    let items = all_gaps(conn, who, code, day, area)?;
    let (area_code, area_name) = area_name(conn, who.scope, area)?;
    let indicator = code.label();
    let name = format!("{area_name}{}缺口名单（截至{day}）", data_name(indicator));
    let table = tables::gaps(&format!("缺口-{}", data_name(indicator)), &items);
    let bytes = match format {
        Format::Csv => csv::table(&table),
        Format::Xlsx => xlsx::workbook(&name, &[table])?,
        Format::Html => html::gaps(
            indicator,
            &format!("{area_name}（{area_code}）"),
            &day.to_string(),
            &items,
            &provenance(None),
        ),
        Format::Json => return Err(AppError::internal("JSON is not rendered as a file")),
    };
    Ok(File {
        format,
        bytes,
        name: format!("{name}.{}", format.extension()),
        fallback: format!("gaps_{code}_{area_code}_{day}.{}", format.extension()),
    })
}

/// The reconciliation as a file: the summary and every finding (CSV: the findings only).
pub fn reconciliation(
    conn: &mut DbConn,
    who: &Requester,
    day: NaiveDate,
    area: Option<&str>,
    kind: Option<SubsidyKind>,
    format: Format,
) -> Result<File, AppError> {
    let first = indicators::reconciliation(conn, who, day, area, kind, WHOLE_LIST, None)?;
    let items = first.items.as_slice();
    let area_label = format!("{}（{}）", first.area.name, first.area.code);
    let name = format!("{}两项补贴核对名单（截至{day}）", first.area.name);
    let bytes = match format {
        Format::Csv => csv::table(&tables::reconciliation_items(items)),
        Format::Xlsx => xlsx::workbook(
            &name,
            &[
                tables::reconciliation_summary(&first.summary),
                tables::reconciliation_items(items),
            ],
        )?,
        Format::Html => html::reconciliation(
            &area_label,
            &day.to_string(),
            &first.summary,
            items,
            &provenance(None),
        ),
        Format::Json => return Err(AppError::internal("JSON is not rendered as a file")),
    };
    Ok(File {
        format,
        bytes,
        name: format!("{name}.{}", format.extension()),
        fallback: format!(
            "reconciliation_{}_{day}.{}",
            first.area.code,
            format.extension()
        ),
    })
}
