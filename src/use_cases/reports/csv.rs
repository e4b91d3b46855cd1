//! CSV files: UTF-8 with a byte-order mark, so Excel in Chinese opens them as they are, and a
//! header of Chinese column names.

use super::tables::Table;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One table as a CSV file.
pub fn table(table: &Table) -> Vec<u8> {
    rows(
        &table.header,
        table.rows.iter().map(|r| r.iter().map(|c| c.plain())),
    )
}

/// A header and rows of text as a CSV file (CRLF line ends, as RFC 4180 and Excel have them).
pub fn rows<R, C>(header: &[&str], rows: R) -> Vec<u8>
where
    R: IntoIterator<Item = C>,
    C: IntoIterator<Item = String>,
{
    let mut out = BOM.to_vec();
    {
        let mut writer = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .flexible(true)
            .from_writer(&mut out);
        writer.write_record(header).expect("writing to memory");
        for row in rows {
            writer
                .write_record(row.into_iter().map(|c| defuse(&c)))
                .expect("writing to memory");
        }
        writer.flush().expect("writing to memory");
    }
    out
}

/// A cell that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, a tab or a carriage
/// return first) gets a leading apostrophe, so text from a file cannot run in the auditor's
/// Excel. Numbers, including negative ones, stay numbers.
fn defuse(cell: &str) -> String {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::use_cases::reports::tables::Cell;

    #[test]
    fn a_file_starts_with_a_bom_and_keeps_chinese_and_quotes() {
        let t = Table {
            name: "x".into(),
            header: vec!["指标名称", "数值"],
            rows: vec![
                vec![
                    Cell::Text("“残疾人之家”覆盖率, 全区".into()),
                    Cell::Percent(66.67),
                ],
                vec![Cell::Text("=HYPERLINK(1)".into()), Cell::Percent(-1.5)],
                vec![Cell::Suppressed, Cell::Empty],
            ],
            widths: vec![],
        };
        let bytes = table(&t);
        assert!(bytes.starts_with(BOM));
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert_eq!(
            text,
            "指标名称,数值\r\n\"“残疾人之家”覆盖率, 全区\",66.67\r\n'=HYPERLINK(1),-1.5\r\n*,\r\n"
        );
    }
}
