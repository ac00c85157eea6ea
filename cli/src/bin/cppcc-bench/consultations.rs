//! `cppcc-bench consultations`: GetConsultationStatistics over a
//! province's data — `--counties` committees each like 随县 (20 township,
//! 195 village and 61 enterprise platforms; 130 frontline consultations,
//! 30 research inspections and a few other activities a year, with their
//! participants, opinions, problems and results) — one county's figures
//! at a time, as each county office and the province's report ask them.
//!
//! The province's rows are written straight into the service's schema
//! (the write path is not what is measured); the calls go over gRPC.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::Connection as _;

use cppcc_kit::auth::Role;
use cppcc_proto::consultations::v1 as pb;
use pb::consultation_result_service_client::ConsultationResultServiceClient;

use crate::{Bench, median};

/// Options of `consultations`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Counties in the province.
    #[arg(long, default_value_t = 100)]
    counties: u32,
    /// Times each call is measured.
    #[arg(long, default_value_t = 20)]
    repeat: u32,
}

/// One county's year, written for every county `c1…cN` at once.
const SEED: &str = r#"
INSERT INTO consultations.platform (id, committee_id, display_name, level, township, convener, venue, has_sign, content, has_archives)
SELECT gen_random_uuid(), 'c' || c, '平台' || p, CASE WHEN p <= 20 THEN 1 WHEN p <= 215 THEN 2 ELSE 3 END, '镇' || (p % 20),
       '召集人' || p, CASE WHEN p % 17 = 0 THEN '' ELSE '会议室' END, p % 13 <> 0, '乡村振兴', true
FROM generate_series(1, $1::int) c, generate_series(1, 276) p;

INSERT INTO consultations.platform_budget (committee_id, year, amount_fen)
SELECT 'c' || c, 2023, 50000000 FROM generate_series(1, $1::int) c;

INSERT INTO consultations.platform_fund (platform_id, year, allotted_fen, spent_fen)
SELECT id, 2023, 150000, 120000 FROM consultations.platform;

INSERT INTO consultations.activity (id, committee_id, kind, format, topic, day, official_count, resident_count, step, meeting_day, results_due)
SELECT gen_random_uuid(), 'c' || c,
       CASE WHEN a <= 130 THEN 5 WHEN a <= 160 THEN 4 WHEN a <= 164 THEN 3 ELSE 2 END,
       CASE WHEN a <= 130 THEN 2 + a % 3 ELSE 1 END,
       '议题' || a, make_date(y, 1, 1) + (a * 2), 3, 40, CASE WHEN a % 10 = 0 THEN 5 ELSE 8 END,
       make_date(y, 1, 1) + (a * 2), make_date(y, 1, 1) + (a * 2) + 3
FROM generate_series(1, $1::int) c, generate_series(1, 165) a, generate_series(2022, 2023) y;

INSERT INTO consultations.participant (activity_id, member_id, display_name)
SELECT a.id, gen_random_uuid(), '委员'
FROM consultations.activity a, generate_series(1, 5) m
WHERE a.kind <> 5 OR m <= 2;

INSERT INTO consultations.opinion (id, activity_id, text)
SELECT gen_random_uuid(), a.id, '意见' FROM consultations.activity a WHERE a.kind IN (4, 5);

INSERT INTO consultations.problem (id, activity_id, description, status, solve_time)
SELECT gen_random_uuid(), a.id, '问题', CASE WHEN solved THEN 3 ELSE 1 END, CASE WHEN solved THEN now() END
FROM (SELECT id, hashtext(id::text) % 4 <> 0 AS solved FROM consultations.activity WHERE kind = 5) a;

INSERT INTO consultations.result (id, committee_id, activity_id, kind, title, recipients, send_day, instructions, adoption, feedback_time)
SELECT gen_random_uuid(), a.committee_id, a.id, CASE WHEN a.kind = 4 THEN 1 ELSE 2 END, '成果', ARRAY['县委'], a.day + 2,
       CASE WHEN a.kind = 4 AND random() < 0.3 THEN '[{"leader_name":"张三","leader_title":"县委书记","text":"阅","date":"2023-06-01"}]'::jsonb ELSE '[]' END,
       1 + (random() * 2)::int, now()
FROM consultations.activity a WHERE a.kind IN (2, 3, 4);

INSERT INTO consultations.publication (committee_id, year, number, title, issue_day)
SELECT 'c' || c, y, n, '建言资政' || n, make_date(y, 1, 15) + n * 30
FROM generate_series(1, $1::int) c, generate_series(1, 5) n, generate_series(2022, 2023) y;
"#;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut bench = Bench::start(Default::default()).await?;
    bench.start_consultations().await?;
    let admin_url = bench
        .env
        .access
        .args("consultations")
        .database_admin_url
        .context("an admin URL")?;
    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
    let began = Instant::now();
    // The counties, their terms begun on 2021-12-28: the term's figures
    // span two years.
    for c in 1..=args.counties {
        bench.committee(&format!("c{c}")).await?;
    }
    for statement in SEED.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        let query = sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()));
        let query = if statement.contains("$1") {
            query.bind(args.counties as i32)
        } else {
            query
        };
        query
            .execute(&mut admin)
            .await
            .with_context(|| format!("seeding: {statement}"))?;
    }
    sqlx::query("ANALYZE").execute(&mut admin).await?;
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM consultations.platform) + (SELECT count(*) FROM consultations.activity)
              + (SELECT count(*) FROM consultations.participant) + (SELECT count(*) FROM consultations.opinion)
              + (SELECT count(*) FROM consultations.problem) + (SELECT count(*) FROM consultations.result)",
    )
    .fetch_one(&mut admin)
    .await?;
    println!(
        "{}; {} counties, {rows} rows written in {:.1} s",
        bench.machine(),
        args.counties,
        began.elapsed().as_secs_f64()
    );
    let channel = bench.consultations_channel()?;
    let mut times = Vec::new();
    let mut last = None;
    for n in 0..args.repeat.max(1) {
        let county = format!("c{}", 1 + n % args.counties);
        let mut client = ConsultationResultServiceClient::with_interceptor(
            channel.clone(),
            bench.bearer(Role::Admin, &county)?,
        );
        let at = Instant::now();
        let figures = client
            .get_consultation_statistics(pb::GetConsultationStatisticsRequest {
                committee: format!("committees/{county}"),
                year: 2023,
            })
            .await?
            .into_inner();
        times.push(at.elapsed());
        last = Some(figures);
    }
    let figures = last.context("a call")?;
    times.sort();
    let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "GetConsultationStatistics (one county of {}): median {:.1} ms, p90 {:.1} ms, max {:.1} ms over {} calls",
        args.counties,
        ms(median(times.clone())),
        ms(p(0.9)),
        ms(p(1.0)),
        times.len()
    );
    for (span, f) in [("2023", &figures.year), ("the term to date", &figures.term)] {
        let f = f.as_ref().context("the figures")?;
        println!(
            "  a county's figures for {span}: {} member participations, {} participations, {} opinions, {} of {} problems solved, {} reports, {} instructions, {} issues",
            f.member_participations,
            f.participations,
            f.opinions,
            f.problems_solved,
            f.problems,
            f.reports,
            f.instructions,
            f.publications
        );
    }
    println!(
        "  and its {} platforms ({} with the five haves)",
        figures.platforms, figures.platforms_compliant
    );
    bench.stop().await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
