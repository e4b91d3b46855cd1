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

fn malformed(detail: String) -> AppError {
    AppError::bad_request("malformed_csv", detail)
}

/// Reads the whole file, or refuses it: its header names only `known` columns, each once, and
/// every `required` one. Returns the columns the file has and its rows.
pub fn read(
    bytes: &[u8],
    known: &[&'static str],
    required: &[&str],
) -> Result<(Vec<&'static str>, Vec<Row>), AppError> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| malformed("the header line cannot be read".to_owned()))?
        .clone();
    // A refusal names a cell by its position, never by what it holds: a file without its
    // header line has an ID number where a column name should be, and an error is shown,
    // logged and kept far beyond the import.
    if headers.iter().any(looks_like_data) {
        return Err(malformed(format!(
            "the first line is not a header: it holds data (an ID number, a date or a number) \
             where column names belong; add a header line naming the columns ({})",
            known.join(", ")
        )));
    }
    let mut columns: Vec<&'static str> = Vec::new();
    for (position, header) in headers.iter().enumerate() {
        let name = header.trim().to_ascii_lowercase();
        match known.iter().find(|c| **c == name) {
            Some(column) if !columns.contains(column) => columns.push(column),
            Some(column) => return Err(malformed(format!("the column {column} appears twice"))),
            None => {
                return Err(malformed(format!(
                    "column {} of the header line is not a known column; the columns are {}",
                    position + 1,
                    known.join(", ")
                )))
            }
        }
    }
    for required in required {
        if !columns.contains(required) {
            return Err(malformed(format!("the column {required} is missing")));
        }
    }
    let mut rows = Vec::new();
    let mut lines = LineCounter::new(text.as_bytes());
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            // The csv reader's own words stay out of the answer.
            malformed(format!(
                "line {line} cannot be read: a quote is not closed, or the line has another \
                 number of cells than the header"
            ))
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
