//! Reports auditors take away (DESIGN §4, §6): the indicator figures, gap lists and the
//! subsidy reconciliation as CSV, XLSX or a printable HTML page; frozen snapshots of the
//! figures that can be checked later against the data; the audit trail as a file.
//!
//! Rendering ([`csv`], [`xlsx`], [`html`]) is pure: result structs in, bytes out. Every file
//! shows a town's figure about fewer residents than the configured threshold as suppressed
//! ([`figures::Suppression`]); the JSON for staff keeps the numbers.

pub mod audit_trail;
pub mod csv;
pub mod digest;
pub mod exports;
pub mod figures;
pub mod html;
pub mod import_sheets;
pub mod resident_list;
pub mod snapshots;
pub mod tables;
pub mod work_queue;
pub mod xlsx;

use crate::error::AppError;

/// The plan the indicators measure.
pub const PLAN_TITLE: &str = "奉化区残疾人事业发展“十四五”规划";

/// What a report can be delivered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    Html,
}

pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl Format {
    /// Name (the `format` parameter), media type, format.
    pub const OFFERED: &'static [(&'static str, &'static str, Format)] = &[
        ("json", "application/json", Format::Json),
        ("csv", "text/csv", Format::Csv),
        ("xlsx", XLSX_TYPE, Format::Xlsx),
        ("html", "text/html", Format::Html),
    ];

    /// What a list of residents answers: a page of JSON, or the whole list as a file for
    /// Excel (the resident search, the work queues).
    pub const LISTS: &'static [(&'static str, &'static str, Format)] = &[
        ("json", "application/json", Format::Json),
        ("csv", "text/csv", Format::Csv),
        ("xlsx", XLSX_TYPE, Format::Xlsx),
    ];

    /// The `format` asked for, else the best the `Accept` header takes, else JSON.
    pub fn choose(asked: Option<&str>, accept: Option<&str>) -> Result<Format, AppError> {
        negotiate(asked, accept, Format::OFFERED, Format::Json)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => XLSX_TYPE,
            Format::Html => "text/html; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Html => "html",
        }
    }
}

/// Picks a format: the `format` parameter when given (an unknown name is `422` on `format`),
/// else the offered media type the `Accept` header weighs highest (ties: the order offered),
/// else `default`.
pub fn negotiate<T: Copy>(
    asked: Option<&str>,
    accept: Option<&str>,
    offered: &[(&'static str, &'static str, T)],
    default: T,
) -> Result<T, AppError> {
    if let Some(name) = asked {
        return offered
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, f)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = offered.iter().map(|(n, _, _)| *n).collect();
                AppError::field("format", "invalid", format!("one of {}", names.join(", ")))
            });
    }
    let Some(accept) = accept else {
        return Ok(default);
    };
    let mut best: Option<(f32, usize)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        // Only exact media types choose a file; `*/*` and `text/*` leave the default.
        if let Some(i) = offered.iter().position(|(_, m, _)| *m == media) {
            let better = match best {
                None => true,
                Some((q, j)) => quality > q || (quality == q && i < j),
            };
            if better {
                best = Some((quality, i));
            }
        }
    }
    Ok(best.map_or(default, |(_, i)| offered[i].2))
}

/// `Content-Disposition` for a file named `name` (Chinese allowed): RFC 6266 with the UTF-8
/// name in `filename*` (RFC 8187) and `fallback`, plain ASCII, for old clients. HTML opens in
/// the browser (`inline`) so it can be printed; other files download.
pub fn content_disposition(inline: bool, name: &str, fallback: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = fallback
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// RFC 8187 `value-chars`: attr-char as it is, every other byte as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Now in Beijing time, for the names of files.
pub fn beijing_now() -> chrono::NaiveDateTime {
    crate::db::now() + chrono::Duration::hours(8)
}

/// A time as people in the district read it: `2026-12-01 09:30:05（北京时间）`.
pub fn beijing(utc: chrono::NaiveDateTime) -> String {
    let local = utc + chrono::Duration::hours(8);
    format!("{}（北京时间）", local.format("%Y-%m-%d %H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_parameter_wins_over_accept() {
        let f = Format::choose(Some("xlsx"), Some("text/csv")).unwrap();
        assert_eq!(f, Format::Xlsx);
        assert!(Format::choose(Some("pdf"), None).is_err());
    }

    #[test]
    fn accept_chooses_by_quality_then_order_and_wildcards_keep_json() {
        let choose = |accept| Format::choose(None, Some(accept)).unwrap();
        assert_eq!(choose("text/csv"), Format::Csv);
        assert_eq!(choose("text/html, text/csv;q=0.9"), Format::Html);
        assert_eq!(choose("text/html;q=0.5, text/csv"), Format::Csv);
        assert_eq!(choose(XLSX_TYPE), Format::Xlsx);
        assert_eq!(choose("*/*"), Format::Json);
        assert_eq!(choose("text/*"), Format::Json);
        assert_eq!(choose("text/csv;q=0, application/json"), Format::Json);
        assert_eq!(choose("image/png"), Format::Json);
        assert_eq!(Format::choose(None, None).unwrap(), Format::Json);
    }

    #[test]
    fn a_chinese_file_name_goes_in_filename_star() {
        let header = content_disposition(false, "奉化区 指标（截至2026-06-30）.csv", "a b.csv");
        assert_eq!(
            header,
            "attachment; filename=\"a_b.csv\"; filename*=UTF-8''%E5%A5%89%E5%8C%96%E5%8C%BA\
             %20%E6%8C%87%E6%A0%87%EF%BC%88%E6%88%AA%E8%87%B32026-06-30%EF%BC%89.csv"
        );
        assert!(content_disposition(true, "x.html", "x.html").starts_with("inline; "));
    }
}
