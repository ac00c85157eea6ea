//! Proposals turned into opinion reports (转为社情民意信息), handed to the
//! opinions service: a worker offers each pending conversion to
//! `OpinionReportService/ImportConvertedProposal` until it is taken, then
//! records the report it became. The opinions service gives the same
//! report for the same proposal however often it is offered, so an offer
//! repeated after a lost answer is harmless.

use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

use cppcc_kit::auth::TokenIssuer;
use cppcc_kit::client::{Bearer, channel};
use cppcc_kit::db::Database;
use cppcc_kit::names::{ChildName, committee_name};
use cppcc_proto::opinions::v1 as opb;
use opb::opinion_report_service_client::OpinionReportServiceClient;

/// How often pending conversions are looked for, and the wait after a
/// failed offer.
const POLL: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// The opinions service, as this worker calls it.
#[derive(Clone, Debug)]
pub struct Opinions {
    channel: tonic::transport::Channel,
    issuer: TokenIssuer,
}

impl Opinions {
    pub fn new(uri: &str, issuer: TokenIssuer) -> Result<Opinions, cppcc_kit::BoxError> {
        let channel = channel(uri).map_err(|e| format!("--opinions-uri `{uri}`: {e}"))?;
        Ok(Opinions { channel, issuer })
    }
}

struct Pending {
    id: Uuid,
    committee_id: String,
    title: String,
    reason: String,
    suggestions: String,
    convert_time: Option<time::OffsetDateTime>,
    lead: Option<Uuid>,
}

/// Offers pending conversions until `stop`.
pub async fn run(db: Database, opinions: Opinions, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match round(&db, &opinions).await {
            Ok(()) => POLL,
            Err(e) => {
                tracing::warn!(error = %e, "handing converted proposals to the opinions service failed; retrying");
                RETRY
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn round(db: &Database, opinions: &Opinions) -> Result<(), cppcc_kit::BoxError> {
    let mut tx = db.pool().begin().await?;
    let pending = sqlx::query_as!(
        Pending,
        "SELECT p.id, p.committee_id, p.title, p.reason, p.suggestions, p.convert_time,
                (SELECT member_id FROM proposals.proposer r WHERE r.proposal_id = p.id ORDER BY position LIMIT 1) AS lead
         FROM proposals.proposal p WHERE p.conversion_state = 1
         ORDER BY p.convert_time, p.id LIMIT 20 FOR UPDATE SKIP LOCKED"
    )
    .fetch_all(&mut *tx)
    .await?;
    for p in &pending {
        let Some(lead) = p.lead else {
            tracing::warn!(proposal = %p.id, "a converted proposal without a proposer cannot be credited; left pending");
            continue;
        };
        let day = cppcc_kit::clock::day_in_china(
            p.convert_time.unwrap_or_else(time::OffsetDateTime::now_utc),
        );
        let content = [p.reason.trim(), p.suggestions.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        let mut request = tonic::Request::new(opb::ImportConvertedProposalRequest {
            parent: committee_name(&p.committee_id),
            proposal: ChildName::format(&p.committee_id, "proposals", p.id),
            member: ChildName::format(&p.committee_id, "members", lead),
            title: p.title.clone(),
            content,
            date: Some(cppcc_kit::convert::date(day)),
        });
        request.set_timeout(CALL_TIMEOUT);
        let bearer = Bearer::new(&opinions.issuer.service_token("cppcc-proposals", TOKEN_TTL));
        let report = OpinionReportServiceClient::with_interceptor(opinions.channel.clone(), bearer)
            .import_converted_proposal(request)
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
            .into_inner()
            .report
            .map(|r| r.name)
            .unwrap_or_default();
        sqlx::query!(
            "UPDATE proposals.proposal SET conversion_state = 2, opinion_report = $2,
                    update_time = now(), revision = revision + 1
             WHERE id = $1",
            p.id,
            report
        )
        .execute(&mut *tx)
        .await?;
        tracing::info!(proposal = %p.id, %report, "converted proposal handed to the opinions service");
    }
    tx.commit().await?;
    Ok(())
}
