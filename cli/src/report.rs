//! `cppcc report --year 2023`: the committee's annual report, asked of the
//! gateway (`cppcc.reports.v1.ReportService/GetAnnualReport`), printed as
//! a table and written as an Excel workbook.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet};
use unicode_width::UnicodeWidthStr as _;

use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_kit::client::Bearer;
use cppcc_proto::reports::v1::report_service_client::ReportServiceClient;
use cppcc_proto::reports::v1::{FigureUnit, GetAnnualReportRequest, GetAnnualReportResponse};
use cppcc_reports::{MissingRow, Row, code_name, missing_rows, rows};

use crate::local;

/// How long a minted token is good for: one report.
const TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

/// What `cppcc report` takes.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The year, e.g. 2023.
    #[arg(long)]
    pub year: i32,
    /// The committee id.
    #[arg(long, default_value = "suixian")]
    pub committee: String,
    /// The gateway to ask.
    #[arg(
        long,
        env = "CPPCC_GATEWAY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub gateway: String,
    /// A bearer token to ask with; without one, a leader's development
    /// token is signed with the data folder's key, as `cppcc token` does.
    #[arg(long, env = "CPPCC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The data folder holding the development key.
    #[arg(long, env = "CPPCC_DATA_DIR", default_value = ".cppcc")]
    pub data_dir: PathBuf,
    /// The workbook to write; `annual-report-{committee}-{year}.xlsx` when
    /// not given.
    #[arg(long)]
    pub xlsx: Option<PathBuf>,
    /// How long to wait for the report (its deadline, passed on).
    #[arg(long, default_value = "30s", value_parser = cppcc_kit::config::parse_duration)]
    pub timeout: Duration,
}

/// Asks for the report, prints it and writes the workbook.
pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        cppcc_kit::names::is_committee_id(&args.committee),
        "`{}` is not a committee id (lower-case letters, digits and `-`, e.g. `suixian`)",
        args.committee
    );
    let token = match &args.token {
        Some(token) => token.clone(),
        None => leader_token(&args.data_dir, &args.committee)?,
    };
    let channel = cppcc_kit::client::channel(&args.gateway)
        .with_context(|| format!("`{}` is not a gateway address", args.gateway))?;
    let mut client = ReportServiceClient::with_interceptor(channel, Bearer::new(&token));
    let mut request = tonic::Request::new(GetAnnualReportRequest {
        committee: cppcc_kit::names::committee_name(&args.committee),
        year: args.year,
    });
    request.set_timeout(args.timeout);
    let report = client
        .get_annual_report(request)
        .await
        .map_err(|s| {
            anyhow::anyhow!(
                "the report from {} failed: {} {}",
                args.gateway,
                code_name(s.code()),
                s.message()
            )
        })?
        .into_inner();

    print!("{}", table(&report));
    let path = args
        .xlsx
        .unwrap_or_else(|| default_xlsx_path(&args.committee, args.year));
    write_xlsx(&report, &path)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// A leader's development token for `committee`, signed with the data
/// folder's key.
fn leader_token(data_dir: &Path, committee: &str) -> anyhow::Result<String> {
    if !data_dir.join("keys").exists() {
        anyhow::bail!(
            "{} holds no development keys: pass --token, run `cppcc up` first, or pass the folder it uses with --data-dir",
            data_dir.display()
        );
    }
    let keys = local::DataDir::open(data_dir)?.keys()?;
    Ok(keys.issuer()?.issue(&TokenRequest {
        subject: "cppcc-report",
        role: Role::Leader,
        committee,
        member: None,
        unit: None,
        ttl: TOKEN_TTL,
    }))
}

/// `annual-report-{committee}-{year}.xlsx`.
pub fn default_xlsx_path(committee: &str, year: i32) -> PathBuf {
    PathBuf::from(format!("annual-report-{committee}-{year}.xlsx"))
}

/// The column heads: section, figure, the year, the term to date.
fn heads(year: i32) -> [String; 4] {
    [
        "部分".to_owned(),
        "指标".to_owned(),
        format!("{year}年"),
        "本届以来".to_owned(),
    ]
}

/// The report as an aligned table (section, label, year, term), then a
/// note of the sections missing.
pub fn table(report: &GetAnnualReportResponse) -> String {
    let heads = heads(report.year);
    let body: Vec<[String; 4]> = rows(report)
        .into_iter()
        .map(|r| {
            [
                r.section.to_owned(),
                r.label.clone(),
                r.year_text(),
                r.term_text(),
            ]
        })
        .collect();
    let mut widths = heads.clone().map(|h| h.width());
    for line in &body {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} {}年 年度报告", report.committee, report.year);
    let mut line = |cells: &[String; 4]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.width());
            if i > 0 {
                text.push_str("  ");
            }
            // Words to the left, numbers to the right.
            if i < 2 {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&heads);
    line(&widths.map(|w| "-".repeat(w)));
    for cells in &body {
        line(cells);
    }
    let missing = missing_rows(report);
    if !missing.is_empty() {
        let _ = writeln!(out, "\n注：以下部分未能取得，报告不完整：");
        for m in &missing {
            let _ = writeln!(out, "  {}（{}）：{}", m.section, m.code, m.message);
        }
    }
    out
}

/// Writes the report as a workbook: a sheet of figures (section, key,
/// label, the year, the term to date) and, when any section is missing, a
/// sheet naming them.
pub fn write_xlsx(report: &GetAnnualReportResponse, path: &Path) -> anyhow::Result<()> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name("年度报告")?;
    figures_sheet(sheet, report, &bold)?;
    let missing = missing_rows(report);
    if !missing.is_empty() {
        let sheet = workbook.add_worksheet();
        sheet.set_name("缺失部分")?;
        missing_sheet(sheet, &missing, &bold)?;
    }
    workbook
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn figures_sheet(
    sheet: &mut Worksheet,
    report: &GetAnnualReportResponse,
    bold: &Format,
) -> anyhow::Result<()> {
    let [section, label, year, term] = heads(report.year);
    for (col, head) in [section, "键".to_owned(), label, year, term]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(0, col as u16, head, bold)?;
    }
    let count = Format::new().set_num_format("#,##0");
    let ratio = Format::new().set_num_format("0.0%");
    let yuan = Format::new().set_num_format("#,##0.00");
    let rows: Vec<Row> = rows(report);
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        let number = match r.unit {
            FigureUnit::Ratio => &ratio,
            FigureUnit::Yuan => &yuan,
            FigureUnit::Count | FigureUnit::Unspecified => &count,
        };
        sheet.write_string(row, 0, r.section)?;
        sheet.write_string(row, 1, &r.key)?;
        sheet.write_string(row, 2, &r.label)?;
        sheet.write_number_with_format(row, 3, r.year, number)?;
        if let Some(term) = r.term {
            sheet.write_number_with_format(row, 4, term, number)?;
        }
    }
    // Widths in characters; a Chinese character takes about two.
    let widest = |of: &dyn Fn(&Row) -> usize, head: usize| {
        rows.iter().map(of).max().unwrap_or(0).max(head) as f64 + 2.0
    };
    sheet.set_column_width(0, widest(&|r| r.section.width(), 4))?;
    sheet.set_column_width(1, widest(&|r| r.key.width(), 2))?;
    sheet.set_column_width(2, widest(&|r| r.label.width(), 4))?;
    sheet.set_column_width(3, 14)?;
    sheet.set_column_width(4, 14)?;
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn missing_sheet(
    sheet: &mut Worksheet,
    missing: &[MissingRow],
    bold: &Format,
) -> anyhow::Result<()> {
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    for (col, head) in ["部分", "代码", "说明"].iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *head, bold)?;
    }
    for (i, m) in missing.iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, m.section)?;
        sheet.write_string(row, 1, &m.code)?;
        sheet.write_string_with_format(row, 2, &m.message, &wrap)?;
    }
    sheet.set_column_width(0, 12)?;
    sheet.set_column_width(1, 22)?;
    sheet.set_column_width(2, 80)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use cppcc_proto::reports::v1::{Figure, MissingPart, Section};

    use super::*;

    fn report(missing: bool) -> GetAnnualReportResponse {
        let figure = |key: &str, label: &str, section: Section, unit: FigureUnit, y, t| Figure {
            key: key.into(),
            label: label.into(),
            section: section as i32,
            unit: unit as i32,
            year_value: y,
            term_value: t,
        };
        GetAnnualReportResponse {
            committee: "committees/suixian".into(),
            year: 2023,
            figures: vec![
                figure(
                    "members.total",
                    "委员总数",
                    Section::Members,
                    FigureUnit::Count,
                    338.0,
                    None,
                ),
                figure(
                    "members.duty.policy_publicity",
                    "政策宣传（人次）",
                    Section::Members,
                    FigureUnit::Count,
                    400.0,
                    Some(1200.0),
                ),
                figure(
                    "proposals.filing_rate",
                    "立案率",
                    Section::Proposals,
                    FigureUnit::Ratio,
                    0.8,
                    Some(0.825),
                ),
                figure(
                    "consultations.budget",
                    "议政平台专项经费（元）",
                    Section::Consultations,
                    FigureUnit::Yuan,
                    500_000.0,
                    None,
                ),
            ],
            missing: if missing {
                vec![MissingPart {
                    section: Section::Opinions as i32,
                    code: "UNAVAILABLE".into(),
                    message: "tcp connect error".into(),
                }]
            } else {
                vec![]
            },
            complete: !missing,
            ..Default::default()
        }
    }

    #[test]
    fn the_table_is_aligned_and_notes_what_is_missing() {
        let text = table(&report(true));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "committees/suixian 2023年 年度报告");
        assert!(lines[1].starts_with("部分") && lines[1].contains("2023年"));
        // Where (in terminal columns) a value ends on its line.
        let end_of = |line: &str, value: &str| {
            let at = line
                .find(value)
                .unwrap_or_else(|| panic!("{value} in {line}"));
            line[..at + value.len()].width()
        };
        let year_ends = [
            end_of(lines[3], "338"),
            end_of(lines[4], "400"),
            end_of(lines[5], "80.0%"),
            end_of(lines[6], "500,000.00"),
        ];
        assert!(
            year_ends.iter().all(|e| *e == year_ends[0]),
            "{year_ends:?}\n{text}"
        );
        assert_eq!(
            end_of(lines[4], "1200"),
            end_of(lines[5], "82.5%"),
            "{text}"
        );
        assert!(lines[3].starts_with("委员") && lines[3].contains("委员总数"));
        assert!(lines[5].starts_with("提案"));
        assert!(
            text.contains("社情民意（UNAVAILABLE）：tcp connect error"),
            "{text}"
        );
        assert!(!table(&report(false)).contains("注："));
    }

    #[test]
    fn the_workbook_is_written() {
        let dir = std::env::temp_dir().join(format!("cppcc-report-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        for (missing, name) in [(false, "complete.xlsx"), (true, "partial.xlsx")] {
            let path = dir.join(name);
            write_xlsx(&report(missing), &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"PK"), "{name} is a zip");
            let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(has("xl/worksheets/sheet1.xml"), "{name}");
            assert_eq!(
                has("xl/worksheets/sheet2.xml"),
                missing,
                "{name}: a second sheet only for missing parts"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            default_xlsx_path("suixian", 2023),
            PathBuf::from("annual-report-suixian-2023.xlsx")
        );
    }
}
