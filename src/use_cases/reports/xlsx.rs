//! Excel workbooks (XLSX): one sheet per table, numbers as numbers, percentages formatted as
//! percentages, the header row frozen and filterable.

use rust_xlsxwriter::{DocProperties, Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::tables::{Cell, Table};
use crate::error::AppError;

/// The tables as one workbook, in order; `title` goes into the document's properties.
pub fn workbook(title: &str, tables: &[Table]) -> Result<Vec<u8>, AppError> {
    workbook_with_text_columns(title, tables, &[])
}

/// [`workbook`], the columns `text_columns` (from 0) of every sheet formatted as text, so what
/// is typed there later (an ID number) stays as typed instead of becoming a number.
pub fn workbook_with_text_columns(
    title: &str,
    tables: &[Table],
    text_columns: &[u16],
) -> Result<Vec<u8>, AppError> {
    build(title, tables, text_columns).map_err(|e| AppError::internal(format!("xlsx: {e}")))
}

fn build(title: &str, tables: &[Table], text_columns: &[u16]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title(title)
            .set_author("奉化区残疾人联合会 一人一档系统"),
    );
    let styles = Styles {
        header: Format::new()
            .set_bold()
            .set_background_color("D9E1F2")
            .set_align(FormatAlign::Center),
        integer: Format::new().set_num_format("0"),
        percent: Format::new().set_num_format("0.00%"),
        suppressed: Format::new().set_align(FormatAlign::Center),
        text: Format::new().set_num_format("@"),
        text_columns,
    };
    for table in tables {
        let sheet = book.add_worksheet();
        write_table(sheet, table, &styles)?;
    }
    book.save_to_buffer()
}

struct Styles<'a> {
    header: Format,
    integer: Format,
    percent: Format,
    suppressed: Format,
    text: Format,
    text_columns: &'a [u16],
}

fn write_table(sheet: &mut Worksheet, table: &Table, styles: &Styles) -> Result<(), XlsxError> {
    sheet.set_name(&table.name)?;
    for (col, name) in table.header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *name, &styles.header)?;
    }
    for (col, width) in table.widths.iter().enumerate() {
        sheet.set_column_width(col as u16, *width)?;
    }
    for col in styles.text_columns {
        sheet.set_column_format(*col, &styles.text)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(text) if styles.text_columns.contains(&col) => {
                    sheet.write_string_with_format(r, col, text, &styles.text)?;
                }
                Cell::Text(text) => {
                    sheet.write_string(r, col, text)?;
                }
                Cell::Int(n) => {
                    sheet.write_number_with_format(r, col, *n as f64, &styles.integer)?;
                }
                Cell::Percent(p) => {
                    sheet.write_number_with_format(r, col, *p / 100.0, &styles.percent)?;
                }
                Cell::Suppressed => {
                    sheet.write_string_with_format(
                        r,
                        col,
                        super::figures::SUPPRESSED,
                        &styles.suppressed,
                    )?;
                }
                Cell::Empty => {}
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    if !table.header.is_empty() {
        sheet.autofilter(0, 0, table.rows.len() as u32, table.header.len() as u16 - 1)?;
    }
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(0, 0)?;
    Ok(())
}
