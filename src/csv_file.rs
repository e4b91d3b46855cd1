//! Reading a CSV file that people made, for the imports: UTF-8 (with or without a BOM) or GBK as
//! Excel in Chinese saves it; a header line naming known columns; each row with the line it
//! starts on, so a report can point at it. A file that cannot be read as a whole is refused
//! (`400 unreadable_file` or `malformed_csv`), and no refusal ever quotes a cell.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::{AppError, FieldError};

/// A row an import skipped, and why.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RejectedRow {
    /// The line in the file, the header being line 1.
    pub row: usize,
    pub errors: Vec<FieldError>,
}

/// Decodes the file: UTF-8 (a BOM is dropped) or, failing that, GB18030 (a superset of GBK).
pub fn decode(bytes: &[u8]) -> Result<String, AppError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        return Err(AppError::bad_request(
            "unreadable_file",
            "the file is neither UTF-8 nor GBK text",
        ));
    }
    Ok(text.into_owned())
}

/// One data row: its line number and its cells by column name.
pub struct Row {
    pub line: usize,
    cells: HashMap<&'static str, String>,
}

impl Row {
    /// The trimmed cell of `column`, `None` when the file has no such column or the cell is
    /// empty.
    pub fn get(&self, column: &str) -> Option<String> {
        self.cells
            .get(column)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// What a file is: CSV text, or an Excel workbook (`.xlsx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetFormat {
    Csv,
    Xlsx,
}

impl SheetFormat {
    /// The format a file's name says: `.xlsx` (any case) a workbook, anything else CSV.
    pub fn of_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("xlsx") => SheetFormat::Xlsx,
            _ => SheetFormat::Csv,
        }
    }

    /// The code of a file refused as a whole for its content.
    fn malformed_code(self) -> &'static str {
        match self {
            SheetFormat::Csv => "malformed_csv",
            SheetFormat::Xlsx => "malformed_xlsx",
        }
    }

    fn malformed(self, en: String, zh: String) -> AppError {
        AppError::bad_request_in(self.malformed_code(), en, zh)
    }
}

/// How a file's header names its columns.
pub struct Layout<'a> {
    /// The column codes, each also a header name.
    pub known: &'a [&'static str],
    /// Other header names of the columns (a Chinese header), with the code they name.
    pub names: &'a [(&'a str, &'static str)],
    pub required: &'a [&'static str],
}

impl Layout<'_> {
    /// The column a header cell names.
    fn column(&self, header: &str) -> Option<&'static str> {
        let key = header_key(header);
        self.known
            .iter()
            .copied()
            .find(|c| header_key(c) == key)
            .or_else(|| {
                self.names
                    .iter()
                    .find(|(name, _)| header_key(name) == key)
                    .map(|(_, c)| *c)
            })
    }

    /// The columns for a message: `id_number（身份证号）, name（姓名）`.
    /// A column as a person reads it: its Chinese header where it has one, else its code.
    fn name_of<'n>(&'n self, column: &'n str) -> &'n str {
        self.names
            .iter()
            .find(|(_, code)| *code == column)
            .map_or(column, |(name, _)| name)
    }

    fn listing(&self) -> String {
        self.known
            .iter()
            .map(|c| match self.names.iter().find(|(_, code)| code == c) {
                Some((name, _)) => format!("{c}（{name}）"),
                None => (*c).to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The columns the header cells name, in order, or the file's refusal.
    fn columns<'h>(
        &self,
        headers: impl Iterator<Item = &'h str> + Clone,
        format: SheetFormat,
    ) -> Result<Vec<&'static str>, AppError> {
        // A refusal names a cell by its position, never by what it holds: a file without its
        // header line has an ID number where a column name should be, and an error is shown,
        // logged and kept far beyond the import.
        if headers.clone().any(looks_like_data) {
            return Err(format.malformed(
                format!(
                    "the first line is not a header: it holds data (an ID number, a date or a \
                     number) where column names belong; add a header line naming the columns ({})",
                    self.listing()
                ),
                format!(
                    "第一行不是表头：列名的位置是数据（身份证号、日期或数字）；请加一行表头写明各列（{}）",
                    self.listing()
                ),
            ));
        }
        let mut columns: Vec<&'static str> = Vec::new();
        for (position, header) in headers.enumerate() {
            match self.column(header) {
                Some(column) if !columns.contains(&column) => columns.push(column),
                Some(column) => {
                    return Err(format.malformed(
                        format!("the column {column} appears twice"),
                        format!("“{}”列出现了两次", self.name_of(column)),
                    ))
                }
                None => {
                    return Err(format.malformed(
                        format!(
                        "column {} of the header line is not a known column; the columns are {}",
                        position + 1,
                        self.listing()
                    ),
                        format!(
                            "表头第 {} 列不是可导入的列；可导入的列为 {}",
                            position + 1,
                            self.listing()
                        ),
                    ))
                }
            }
        }
        for required in self.required {
            if !columns.contains(required) {
                return Err(format.malformed(
                    format!("the column {required} is missing"),
                    format!("缺少“{}”列", self.name_of(required)),
                ));
            }
        }
        Ok(columns)
    }
}

/// A header name as it is compared: without spaces or `*` marks, in lower case, with full-width
/// brackets as ASCII ones (`乡镇（街道）代码` = `乡镇(街道)代码`).
pub fn header_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// Reads a whole CSV file, or refuses it: its header names only `known` columns, each once, and
/// every `required` one. Returns the columns the file has and its rows.
pub fn read(
    bytes: &[u8],
    known: &[&'static str],
    required: &[&'static str],
) -> Result<(Vec<&'static str>, Vec<Row>), AppError> {
    let layout = Layout {
        known,
        names: &[],
        required,
    };
    read_sheet(bytes, SheetFormat::Csv, &layout)
}

/// Reads a whole file of `format` laid out as `layout`, or refuses it. Returns the columns the
/// file has and its rows (for a workbook, those of its first worksheet, lines being its rows).
pub fn read_sheet(
    bytes: &[u8],
    format: SheetFormat,
    layout: &Layout,
) -> Result<(Vec<&'static str>, Vec<Row>), AppError> {
    match format {
        SheetFormat::Csv => read_csv(bytes, layout),
        SheetFormat::Xlsx => {
            let (header, records) = crate::xlsx_file::grid(bytes)?;
            let columns = layout.columns(header.iter().map(String::as_str), format)?;
            let rows = records
                .into_iter()
                .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
                .map(|(line, cells)| Row {
                    line,
                    cells: columns.iter().copied().zip(cells).collect(),
                })
                .collect();
            Ok((columns, rows))
        }
    }
}

fn read_csv(bytes: &[u8], layout: &Layout) -> Result<(Vec<&'static str>, Vec<Row>), AppError> {
    let format = SheetFormat::Csv;
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| {
            format.malformed(
                "the header line cannot be read".to_owned(),
                "表头行无法读取".to_owned(),
            )
        })?
        .clone();
    let columns = layout.columns(headers.iter(), format)?;
    let mut rows = Vec::new();
    let mut lines = LineCounter::new(text.as_bytes());
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            // The csv reader's own words stay out of the answer.
            format.malformed(
                format!(
                    "line {line} cannot be read: a quote is not closed, or the line has another \
                     number of cells than the header"
                ),
                format!("第 {line} 行无法读取：有未闭合的引号，或该行的格数与表头不同"),
            )
        })?;
        // The line of the record in the file (the header is line 1; blank lines count).
        let line = lines.line_at(record.position().map_or(0, |p| p.byte() as usize));
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let cells = columns
            .iter()
            .copied()
            .zip(record.iter().map(str::to_owned))
            .collect();
        rows.push(Row { line, cells });
    }
    Ok((columns, rows))
}

/// Whether a header cell holds a value rather than a column name: digits (an ID number, a
/// phone, a code) or a date.
fn looks_like_data(cell: &str) -> bool {
    let cell = cell.trim();
    cell.chars().filter(char::is_ascii_digit).count() >= 4
}

/// Finds the line (from 1) of each record. The reader counts no blank lines and places a
/// record where the previous one ended, before the line breaks between them; so count every
/// line break up to the record's first character, carrying the count from record to record.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    breaks: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            offset: 0,
            breaks: 0,
        }
    }

    /// The line of the record the reader places at `offset` (offsets only grow).
    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.clamp(self.offset, self.text.len());
        self.breaks += self.text[self.offset..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.offset = offset;
        let between = self.text[offset..]
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .filter(|b| **b == b'\n')
            .count();
        self.breaks + between + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_their_line_in_the_file() {
        let text = "id_number,name,town_code\r\na,甲,330213001\r\n\r\nb,乙,330213001\n\"c\nd\",丙,330213001\ne,丁,330213001\n";
        let (columns, rows) = read(
            text.as_bytes(),
            &["id_number", "name", "town_code"],
            &["id_number"],
        )
        .unwrap();
        assert_eq!(columns, ["id_number", "name", "town_code"]);
        let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4, 5, 7]);
    }
}
