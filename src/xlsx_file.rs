//! Reading an Excel workbook (`.xlsx`) that people made, for the imports: the first worksheet
//! as rows of text, each cell the text a CSV export of it would hold — a date as `YYYY-MM-DD`,
//! a whole number as its digits, and a number Excel cannot hold exactly (more than 15 digits,
//! such as an ID number typed into a cell not formatted as text) as Excel shows it, in
//! scientific notation, so the import can say what happened to it.
//!
//! Cells are read one at a time (calamine's cell reader), never as a dense range: a workbook
//! naming a far corner cell (`XFD1048576`) costs nothing, and the text read is capped.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{DataRef, Reader, SheetType, Xlsx};

use crate::error::AppError;

/// At most this many cells with a value, and this much text, are read from a workbook (the
/// district registers about 20,000 residents; an import of 200,000 rows of 21 columns fits).
const MAX_CELLS: usize = 5_000_000;
const MAX_TEXT_BYTES: usize = 128 * 1024 * 1024;

/// Excel keeps 15 significant digits: a whole number beyond them is not the one typed.
const EXACT_DIGITS_BELOW: f64 = 1e15;

fn malformed(en: impl Into<String>, zh: impl Into<String>) -> AppError {
    AppError::bad_request_in("malformed_xlsx", en, zh)
}

/// The header (the first row with a value) and the rows after it, each with its row number in
/// the sheet and as many cells as the header has.
pub type Grid = (Vec<String>, Vec<(usize, Vec<String>)>);

/// Reads the first worksheet of a workbook, or refuses it: `400 unreadable_file` when it is not
/// a workbook, `400 malformed_xlsx` when it has no worksheet, no header, a value right of the
/// header's last column, or more cells than an import reads.
pub fn grid(bytes: &[u8]) -> Result<Grid, AppError> {
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(|_| {
        AppError::bad_request(
            "unreadable_file",
            "the file is not an Excel workbook (.xlsx) that can be read",
        )
    })?;
    let sheet = book
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| malformed("the workbook has no worksheet", "工作簿中没有工作表"))?;
    let mut reader = book
        .worksheet_cells_reader(&sheet)
        .map_err(|_| malformed("the first worksheet cannot be read", "第一个工作表无法读取"))?;
    // Row → (column → text), only cells with a value.
    let mut rows: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
    let (mut cells, mut text_bytes) = (0usize, 0usize);
    while let Some(cell) = reader
        .next_cell()
        .map_err(|_| malformed("the first worksheet cannot be read", "第一个工作表无法读取"))?
    {
        let text = cell_text(cell.get_value());
        if text.trim().is_empty() {
            continue;
        }
        cells += 1;
        text_bytes += text.len();
        if cells > MAX_CELLS || text_bytes > MAX_TEXT_BYTES {
            let mib = MAX_TEXT_BYTES / (1024 * 1024);
            return Err(malformed(
                format!(
                    "the worksheet holds more than an import reads ({MAX_CELLS} cells, {mib} MiB \
                     of text): split it into several files"
                ),
                format!(
                    "工作表超出一次导入可读取的量（{MAX_CELLS} 个单元格、{mib} MiB 文字）：请拆分为几个文件"
                ),
            ));
        }
        let (row, col) = cell.get_position();
        rows.entry(row).or_default().insert(col, text);
    }
    let first_column = rows
        .values()
        .filter_map(|cells| cells.keys().next().copied())
        .min()
        .unwrap_or(0);
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(malformed(
            "the first worksheet is empty: its first row names the columns",
            "第一个工作表是空的：其第一行应为列名",
        ));
    };
    let width = header
        .keys()
        .next_back()
        .map_or(0, |last| (last - first_column + 1) as usize);
    let header = spread(header, first_column, width);
    let mut records = Vec::new();
    for (row, cells) in rows {
        let line = row as usize + 1;
        if let Some(col) = cells.keys().find(|c| (*c - first_column) as usize >= width) {
            return Err(malformed(
                format!(
                    "row {line}: a value in column {}, right of the header's last column",
                    col + 1
                ),
                format!(
                    "第 {line} 行：第 {} 列有内容，在表头最后一列的右侧",
                    col + 1
                ),
            ));
        }
        records.push((line, spread(cells, first_column, width)));
    }
    Ok((header, records))
}

/// The cells of a row as `width` texts from `first_column` on, an absent cell empty.
fn spread(cells: BTreeMap<u32, String>, first_column: u32, width: usize) -> Vec<String> {
    let mut out = vec![String::new(); width];
    for (col, text) in cells {
        if let Some(slot) = out.get_mut((col - first_column) as usize) {
            *slot = text;
        }
    }
    out
}

/// A cell as the text a CSV export of it would hold.
fn cell_text(value: &DataRef) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(n) => n.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTime(dt) => number_text(dt.as_f64()),
        DataRef::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).to_owned(),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    }
}

/// A number as text: a whole number its digits while Excel holds it exactly, beyond that as
/// Excel shows it (`3.30213E+17`); a fraction in the shortest form that reads back the same.
pub fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < EXACT_DIGITS_BELOW {
        return format!("{}", f as i64);
    }
    if f.fract() == 0.0 && f.is_finite() {
        let shown = format!("{f:.5E}");
        return match shown.split_once('E') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}E+{exponent}")
            }
            _ => shown,
        };
    }
    f.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_csv_export_holds_them() {
        assert_eq!(number_text(13812345678.0), "13812345678");
        assert_eq!(number_text(330213196503141234.0), "3.30213E+17");
        assert_eq!(number_text(2.5), "2.5");
        assert_eq!(number_text(-3.0), "-3");
    }
}
