//! Printable HTML pages: one self-contained file (styles inline, charts as inline SVG, no
//! script, no fonts, images or links from elsewhere), laid out for A4 landscape.

use std::fmt::Write;

use crate::domain::indicators::definition::IndicatorKind;
use crate::use_cases::indicators::{Gap, KindSummary, Mismatch};

use super::figures::{self, ItemData, ReportData, Suppression, SUPPRESSED};
use super::tables::subsidy_label;
use super::PLAN_TITLE;

/// What a page says about where its figures come from.
pub struct Provenance {
    /// When the file was made, as people read it (`2026-12-01 09:30（北京时间）`).
    pub generated_at: String,
    /// Set when the figures are a frozen snapshot.
    pub snapshot: Option<SnapshotNote>,
}

pub struct SnapshotNote {
    pub id: String,
    pub taken_at: String,
    pub taken_by: Option<String>,
    pub seal: String,
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
@page { size: A4 landscape; margin: 12mm; }
* { box-sizing: border-box; }
body { font-family: 'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', 'PingFang SC', sans-serif;
       color: #1a1a1a; margin: 0 auto; padding: 16px 20px; max-width: 1180px; font-size: 13px; line-height: 1.45; }
h1 { font-size: 21px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 0 0 10px; font-weight: normal; color: #333; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 0 0 10px; padding: 6px 10px; background: #f3f5f8; border-left: 4px solid #2f5597; }
.meta span b { font-weight: 600; margin-right: 4px; }
.notice { font-size: 12px; color: #444; border: 1px dashed #999; padding: 6px 10px; margin: 8px 0; }
.alert { color: #a61b1b; font-weight: 600; margin: 8px 0; }
.ok { color: #1d6b32; font-weight: 600; margin: 8px 0; }
.seal { font-family: monospace; font-size: 11px; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { border: 1px solid #b8bec8; padding: 3px 6px; vertical-align: middle; }
th { background: #d9e1f2; font-weight: 600; text-align: center; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.c { text-align: center; white-space: nowrap; }
tr.missed td { background: #fdecea; }
tr.missed td.name::before { content: '▲ '; color: #a61b1b; }
.below { color: #a61b1b; font-weight: 600; }
.met { color: #1d6b32; }
.sup { color: #555; font-weight: 700; background: #f1f1f1; }
.tag { display: inline-block; font-size: 11px; padding: 0 4px; border-radius: 3px; border: 1px solid #2f5597; color: #2f5597; }
.tag.binding { background: #2f5597; color: #fff; }
svg.bar { display: block; }
.towns { break-before: page; }
.towns td, .towns th { font-size: 11.5px; padding: 2px 4px; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
footer { font-size: 11px; color: #555; margin-top: 12px; }
@media print { body { padding: 0; max-width: none; } .notice { break-inside: avoid; } }
";

fn page(title: &str, body: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
    .into_bytes()
}

fn meta(out: &mut String, pairs: &[(&str, String)]) {
    out.push_str("<div class=\"meta\">");
    for (k, v) in pairs {
        let _ = write!(out, "<span><b>{}</b>{}</span>", escape(k), escape(v));
    }
    out.push_str("</div>\n");
}

fn snapshot_box(out: &mut String, provenance: &Provenance) {
    if let Some(s) = &provenance.snapshot {
        let _ = writeln!(
            out,
            "<div class=\"notice\"><b>冻结快照</b> 编号 {} · 冻结于 {}{} · 本页数字为冻结时的结果，\
             可用“核验”比对当前数据。<br>封存摘要（SHA-256）：<span class=\"seal\">{}</span></div>",
            escape(&s.id),
            escape(&s.taken_at),
            s.taken_by
                .as_deref()
                .map(|u| format!(" · 冻结人 {}", escape(u)))
                .unwrap_or_default(),
            escape(&s.seal),
        );
    }
}

/// A number cell, or the suppression mark.
fn cell(hidden: bool, text: String) -> String {
    if hidden {
        format!("<td class=\"n sup\" title=\"不足人数，不予显示\">{SUPPRESSED}</td>")
    } else {
        format!("<td class=\"n\">{}</td>", escape(&text))
    }
}

fn value_text(kind: IndicatorKind, value: Option<f64>) -> String {
    match value {
        None => "—".to_owned(),
        Some(v) => format!("{}{}", figures::number(v), figures::unit(kind)),
    }
}

/// The bar of a rate: its value against 0–100 %, the target as a line across; red and marked
/// when below the target.
pub fn bar(item: &ItemData) -> String {
    const W: f64 = 260.0;
    const H: f64 = 26.0;
    let x = |percent: f64| (percent.clamp(0.0, 100.0) / 100.0 * W * 100.0).round() / 100.0;
    let below = item.met == Some(false);
    let mut svg = format!(
        "<svg class=\"bar\" data-code=\"{}\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         role=\"img\" aria-label=\"{}\">",
        item.code.as_str(),
        escape(&format!(
            "{}：{}，目标{}{}",
            item.name,
            value_text(item.kind, item.value),
            figures::requirement(item),
            if below { "，未达标" } else { "" }
        )),
    );
    let _ = write!(
        svg,
        "<rect x=\"0\" y=\"5\" width=\"{W}\" height=\"14\" fill=\"#e8ebf0\"/>"
    );
    match item.value {
        Some(v) => {
            let color = match item.met {
                Some(false) => "#c0392b",
                Some(true) => "#2e8b57",
                None => "#7f8c8d",
            };
            let _ = write!(
                svg,
                "<rect class=\"value\" x=\"0\" y=\"5\" width=\"{}\" height=\"14\" fill=\"{color}\"/>",
                x(v)
            );
        }
        None => {
            let _ = write!(
                svg,
                "<text x=\"6\" y=\"16\" font-size=\"11\" fill=\"#555\">无统计对象</text>"
            );
        }
    }
    if let Some(t) = item.target {
        let tx = x(t);
        let _ = write!(
            svg,
            "<line class=\"target\" x1=\"{tx}\" y1=\"1\" x2=\"{tx}\" y2=\"25\" stroke=\"#1a1a1a\" \
             stroke-width=\"2\"/>"
        );
    }
    if below {
        let _ = write!(
            svg,
            "<text class=\"below-mark\" x=\"{}\" y=\"16\" font-size=\"11\" font-weight=\"bold\" \
             fill=\"#a61b1b\" text-anchor=\"end\">▼</text>",
            (x(item.target.unwrap_or(100.0)) - 4.0).max(10.0)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The indicator report as one page: the missed binding targets named at the top, the table
/// with a bar per rate (missed binding targets first), and the towns' figures.
pub fn report(report: &ReportData, suppression: &Suppression, provenance: &Provenance) -> Vec<u8> {
    let title = format!(
        "{}主要指标监测 {}（截至{}）",
        PLAN_TITLE, report.area.name, report.as_of
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<h2>主要指标监测报告</h2>\n",
        escape(PLAN_TITLE)
    );
    meta(
        &mut out,
        &[
            (
                "区域",
                format!("{}（{}）", report.area.name, report.area.code),
            ),
            ("统计日期", report.as_of.to_string()),
            ("指标定义版本", format!("第{}版", report.definition_version)),
            ("生成时间", provenance.generated_at.clone()),
        ],
    );
    snapshot_box(&mut out, provenance);
    out.push_str("</header>\n");

    let missed: Vec<&ItemData> = report
        .items
        .iter()
        .filter(|i| figures::missed_binding(i))
        .collect();
    if missed.is_empty() {
        out.push_str("<p class=\"ok\">约束性指标均未发现未达标。</p>\n");
    } else {
        let names: Vec<String> = missed.iter().map(|i| escape(&i.name)).collect();
        let _ = writeln!(
            out,
            "<p class=\"alert\">未达标的约束性指标（{}项）：{}</p>",
            missed.len(),
            names.join("、")
        );
    }

    out.push_str(
        "<table class=\"figures\">\n<thead><tr><th>序号</th><th>指标</th><th>属性</th>\
         <th>分子</th><th>分母</th><th>数值</th><th>目标</th><th>是否达标</th>\
         <th>对照目标</th></tr></thead>\n<tbody>\n",
    );
    for item in report.missed_binding_first() {
        let hidden = suppression.hides(item.code, &report.area.code);
        let number = item.code.index() + 1;
        let row_class = if figures::missed_binding(item) {
            " class=\"missed\""
        } else {
            ""
        };
        let verdict = if hidden {
            format!("<td class=\"c sup\">{SUPPRESSED}</td>")
        } else {
            let class = match item.met {
                Some(false) => "below",
                Some(true) => "met",
                None => "",
            };
            format!(
                "<td class=\"c {class}\">{}</td>",
                figures::verdict(item.met)
            )
        };
        let chart = if item.kind == IndicatorKind::Rate {
            if hidden {
                format!("<td class=\"c sup\">{SUPPRESSED}</td>")
            } else {
                format!("<td>{}</td>", bar(item))
            }
        } else {
            "<td class=\"c\">—</td>".to_owned()
        };
        let _ = writeln!(
            out,
            "<tr{row_class} data-code=\"{}\"><td class=\"c\">{number}</td><td class=\"name\">{}</td>\
             <td class=\"c\"><span class=\"tag{}\">{}</span></td>{}{}{}<td class=\"c\">{}</td>{verdict}{chart}</tr>",
            item.code.as_str(),
            escape(&item.name),
            if item.binding { " binding" } else { "" },
            figures::attribute(item.binding),
            cell(hidden, item.numerator.to_string()),
            cell(
                hidden,
                item.denominator.map_or("—".to_owned(), |d| d.to_string())
            ),
            cell(hidden, value_text(item.kind, item.value)),
            escape(&figures::requirement(item)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    let _ = writeln!(
        out,
        "<p class=\"notice\">{}</p>",
        escape(&suppression.notice())
    );

    if report.is_district() {
        towns_table(&mut out, report, suppression);
    }

    let _ = writeln!(
        out,
        "<footer>统计口径：以统计日为准，基数人群为当日未死亡、未迁出且持有有效残疾人证的居民，年龄按统计日周岁计算，\
         服务类指标的统计期为当年1月1日至统计日；居民计入其统计日所在的镇（街道）。比率保留两位小数，\
         是否达标按未四舍五入的比值判断。增速指标的分子、分母为人均收入合计（分）。机构数量的目标为全区目标，\
         不分镇（街道）判断。黑色竖线为目标值，红色为未达标。</footer>"
    );
    page(&title, &out)
}

fn towns_table(out: &mut String, report: &ReportData, suppression: &Suppression) {
    let towns = report.towns();
    out.push_str(
        "<section class=\"towns\">\n<h3>分镇（街道）情况</h3>\n<table>\n<thead><tr><th>指标</th>",
    );
    for t in &towns {
        let _ = write!(out, "<th>{}</th>", escape(&t.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for item in &report.items {
        let _ = write!(out, "<tr><td>{}</td>", escape(&item.name));
        for t in item.by_town.iter().flatten() {
            if suppression.hides(item.code, &t.town_code) {
                let _ = write!(out, "<td class=\"c sup\">{SUPPRESSED}</td>");
                continue;
            }
            let text = value_text(item.kind, t.value);
            match t.met {
                Some(false) => {
                    let _ = write!(out, "<td class=\"n below\">▼{}</td>", escape(&text));
                }
                _ => {
                    let _ = write!(out, "<td class=\"n\">{}</td>", escape(&text));
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n<p class=\"notice\">▼ 未达到目标；“—” 无统计对象或不作判断；“*” 不足人数，不予显示。</p>\n</section>\n");
}

/// A gap list as one page.
pub fn gaps(
    indicator_name: &str,
    area: &str,
    as_of: &str,
    items: &[Gap],
    provenance: &Provenance,
) -> Vec<u8> {
    let title = format!("{indicator_name}缺口名单 {area}（截至{as_of}）");
    let mut out = String::new();
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<h2>{}缺口名单</h2>\n",
        escape(PLAN_TITLE),
        escape(indicator_name)
    );
    meta(
        &mut out,
        &[
            ("区域", area.to_owned()),
            ("统计日期", as_of.to_owned()),
            ("人数", items.len().to_string()),
            ("生成时间", provenance.generated_at.clone()),
        ],
    );
    out.push_str("</header>\n<p class=\"notice\">名单列出计入该指标分母而未计入分子的对象及原因；姓名、身份证号已脱敏。名单按人列出，不作小数抑制，请按工作需要使用并妥善保管。</p>\n");
    out.push_str("<table>\n<thead><tr><th>序号</th><th>姓名</th><th>身份证号</th><th>镇（街道）</th><th>原因</th><th>居民编号</th></tr></thead>\n<tbody>\n");
    for (i, g) in items.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td class=\"c\">{}</td><td>{}</td><td class=\"c\">{}</td><td>{}</td><td>{}</td><td class=\"seal\">{}</td></tr>",
            i + 1,
            escape(g.name.as_deref().unwrap_or("—")),
            escape(g.id_number.as_deref().unwrap_or("—")),
            escape(&g.town_name),
            escape(g.reason.label()),
            escape(g.resident_id.as_deref().unwrap_or("—")),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    page(&title, &out)
}

/// The subsidy reconciliation as one page: the summary by subsidy, then every finding.
pub fn reconciliation(
    area: &str,
    as_of: &str,
    summary: &[KindSummary],
    items: &[Mismatch],
    provenance: &Provenance,
) -> Vec<u8> {
    let title = format!("两项补贴核对 {area}（截至{as_of}）");
    let mut out = String::new();
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<h2>两项补贴核对（一个不多，一个不少）</h2>\n",
        escape(PLAN_TITLE)
    );
    meta(
        &mut out,
        &[
            ("区域", area.to_owned()),
            ("统计日期", as_of.to_owned()),
            ("生成时间", provenance.generated_at.clone()),
        ],
    );
    out.push_str("</header>\n<table>\n<thead><tr><th>补贴</th><th>符合条件人数</th><th>发放中人数</th><th>符合条件未发放</th><th>发放中但不符合条件</th></tr></thead>\n<tbody>\n");
    for s in summary {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            subsidy_label(s.kind),
            s.eligible,
            s.paid,
            s.eligible_not_paid,
            s.paid_not_eligible
        );
    }
    out.push_str("</tbody>\n</table>\n<p class=\"notice\">名单按人列出，姓名、身份证号已脱敏，不作小数抑制，请妥善保管。</p>\n");
    out.push_str("<table>\n<thead><tr><th>序号</th><th>补贴</th><th>核对结果</th><th>姓名</th><th>身份证号</th><th>镇（街道）</th><th>原因</th></tr></thead>\n<tbody>\n");
    for (i, m) in items.iter().enumerate() {
        let reasons: Vec<&str> = m.reasons.iter().map(|r| r.label()).collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"c\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"c\">{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            subsidy_label(m.kind),
            escape(m.finding.label()),
            escape(&m.name),
            escape(&m.id_number),
            escape(&m.town_name),
            escape(&reasons.join("；")),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    page(&title, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::indicators::definition::{Comparator, IndicatorCode};
    use crate::use_cases::reports::figures::AreaData;
    use chrono::NaiveDate;

    fn rate(value: Option<f64>, met: Option<bool>) -> ItemData {
        ItemData {
            code: IndicatorCode::MedicalInsuranceRate,
            name: "残疾人城乡居民基本医疗保险参保率".into(),
            name_en: "x".into(),
            kind: IndicatorKind::Rate,
            numerator: 2,
            denominator: Some(3),
            value,
            target: Some(99.0),
            comparator: Comparator::Gt,
            met,
            binding: true,
            definition_version: 1,
            as_of: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            area: AreaData {
                code: "330213".into(),
                name: "奉化区".into(),
            },
            by_town: None,
        }
    }

    #[test]
    fn a_bar_below_target_is_red_and_marked() {
        let svg = bar(&rate(Some(66.67), Some(false)));
        assert!(svg.contains("fill=\"#c0392b\""));
        assert!(svg.contains("below-mark"));
        assert!(svg.contains("width=\"173.34\""), "{svg}");
        assert!(svg.contains("x1=\"257.4\""), "{svg}");
        let svg = bar(&rate(Some(100.0), Some(true)));
        assert!(svg.contains("fill=\"#2e8b57\"") && !svg.contains("below-mark"));
        assert!(bar(&rate(None, None)).contains("无统计对象"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
