//! A report as rows for printing: a table on a terminal, a sheet of a
//! workbook. The values stay numbers (a workbook wants numbers); the text
//! forms are for the terminal.

use cppcc_proto::reports::v1::{FigureUnit, GetAnnualReportResponse, Section};

/// One figure, ready to print.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The section's name in Chinese, e.g. 委员.
    pub section: &'static str,
    /// The figure's stable key, e.g. `members.total`.
    pub key: String,
    /// The figure's label, e.g. 委员总数.
    pub label: String,
    /// What the values measure.
    pub unit: FigureUnit,
    /// The year's value.
    pub year: f64,
    /// The term's value to date, when there is one.
    pub term: Option<f64>,
}

impl Row {
    /// The year's value as printed: `338`, `82.5%`, `500,000.00`.
    pub fn year_text(&self) -> String {
        format_value(self.unit, self.year)
    }

    /// The term's value as printed; empty when there is none.
    pub fn term_text(&self) -> String {
        self.term
            .map(|v| format_value(self.unit, v))
            .unwrap_or_default()
    }
}

/// A section left out of a report, ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingRow {
    /// The section's name in Chinese.
    pub section: &'static str,
    /// The gRPC code name, e.g. `UNAVAILABLE`.
    pub code: String,
    /// The status message.
    pub message: String,
}

/// The report's figures as rows, in the report's order.
pub fn rows(report: &GetAnnualReportResponse) -> Vec<Row> {
    report
        .figures
        .iter()
        .map(|f| Row {
            section: section_name(f.section()),
            key: f.key.clone(),
            label: f.label.clone(),
            unit: f.unit(),
            year: f.year_value,
            term: f.term_value,
        })
        .collect()
}

/// The report's missing sections as rows.
pub fn missing_rows(report: &GetAnnualReportResponse) -> Vec<MissingRow> {
    report
        .missing
        .iter()
        .map(|m| MissingRow {
            section: section_name(m.section()),
            code: m.code.clone(),
            message: m.message.clone(),
        })
        .collect()
}

/// A section's name in Chinese, as a report prints it.
pub fn section_name(section: Section) -> &'static str {
    match section {
        Section::Members => "委员",
        Section::Proposals => "提案",
        Section::Consultations => "协商",
        Section::Opinions => "社情民意",
        Section::Unspecified => "其他",
    }
}

/// A value as printed: a count whole, a ratio as a percentage to one
/// decimal, yuan to the fen with thousands separated.
pub fn format_value(unit: FigureUnit, value: f64) -> String {
    match unit {
        FigureUnit::Ratio => format!("{:.1}%", value * 100.0),
        FigureUnit::Yuan => {
            let fen = (value * 100.0).round() as i64;
            let sign = if fen < 0 { "-" } else { "" };
            let fen = fen.unsigned_abs();
            format!("{sign}{}.{:02}", thousands(fen / 100), fen % 100)
        }
        FigureUnit::Count | FigureUnit::Unspecified => format!("{}", value.round() as i64),
    }
}

/// `n` with a comma between every three digits.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use cppcc_proto::reports::v1::{Figure, MissingPart};

    use super::*;

    #[test]
    fn values_print_by_their_unit() {
        assert_eq!(format_value(FigureUnit::Count, 338.0), "338");
        assert_eq!(format_value(FigureUnit::Ratio, 0.825), "82.5%");
        assert_eq!(format_value(FigureUnit::Ratio, 0.0), "0.0%");
        assert_eq!(format_value(FigureUnit::Yuan, 500_000.0), "500,000.00");
        assert_eq!(format_value(FigureUnit::Yuan, 123.45), "123.45");
        assert_eq!(format_value(FigureUnit::Yuan, 1_234_567.8), "1,234,567.80");
        assert_eq!(format_value(FigureUnit::Yuan, -1000.0), "-1,000.00");
    }

    #[test]
    fn figures_and_missing_parts_become_rows() {
        let report = GetAnnualReportResponse {
            figures: vec![
                Figure {
                    key: "members.total".into(),
                    label: "委员总数".into(),
                    section: Section::Members as i32,
                    unit: FigureUnit::Count as i32,
                    year_value: 338.0,
                    term_value: None,
                },
                Figure {
                    key: "proposals.filing_rate".into(),
                    label: "立案率".into(),
                    section: Section::Proposals as i32,
                    unit: FigureUnit::Ratio as i32,
                    year_value: 0.8,
                    term_value: Some(0.825),
                },
            ],
            missing: vec![MissingPart {
                section: Section::Opinions as i32,
                code: "UNAVAILABLE".into(),
                message: "tcp connect error".into(),
            }],
            ..Default::default()
        };
        let rows = rows(&report);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].section, rows[0].year_text(), rows[0].term_text()),
            ("委员", "338".to_owned(), String::new())
        );
        assert_eq!(
            (rows[1].section, rows[1].year_text(), rows[1].term_text()),
            ("提案", "80.0%".to_owned(), "82.5%".to_owned())
        );
        assert_eq!(
            missing_rows(&report),
            [MissingRow {
                section: "社情民意",
                code: "UNAVAILABLE".into(),
                message: "tcp connect error".into(),
            }]
        );
    }
}
