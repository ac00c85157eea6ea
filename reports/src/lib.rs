//! The annual report (`cppcc.reports.v1.ReportService/GetAnnualReport`):
//! the four services' statistics for a committee's year, asked at once
//! under one deadline, and the figures a county office publishes, each
//! read from a field of those statistics.
//!
//! The report asks each service directly (not through the gateway) with
//! the caller's token, deadline and trace context, and the services check
//! the token themselves. A service that fails or does not answer in time
//! is left out and named in `missing`: one slow service does not hold up
//! the report. Only when every service refuses the caller the same way
//! (not signed in, not allowed, or a committee it may not see) is the call
//! refused with that status.
//!
//! ```ignore
//! let reports = AnnualReports::new(members, proposals, consultations, opinions, DEFAULT_MAX_DEADLINE);
//! router.add_service(reports.into_server());
//! ```

#![forbid(unsafe_code)]

pub mod deadline;
pub mod figures;
pub mod rows;

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tonic::codegen::{Body, Bytes, StdError};
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument as _;

use cppcc_kit::Violations;
use cppcc_kit::names::committee_id;
use cppcc_proto::consultations::v1 as cpb;
use cppcc_proto::members::v1 as mpb;
use cppcc_proto::opinions::v1 as opb;
use cppcc_proto::proposals::v1 as ppb;
use cppcc_proto::reports::v1 as pb;

use cpb::consultation_result_service_client::ConsultationResultServiceClient;
use mpb::evaluation_service_client::EvaluationServiceClient;
use opb::opinion_report_service_client::OpinionReportServiceClient;
use pb::report_service_server::{ReportService, ReportServiceServer};
use ppb::proposal_assessment_service_client::ProposalAssessmentServiceClient;

pub use deadline::{calls_budget, deadline, parse_grpc_timeout};
pub use figures::flatten;
pub use rows::{MissingRow, Row, format_value, missing_rows, rows, section_name};

/// How long a report may take when the caller sets no deadline, and the
/// most it may take when the caller sets a longer one.
pub const DEFAULT_MAX_DEADLINE: Duration = Duration::from_secs(5);

/// The years a report can be asked for.
const YEARS: std::ops::RangeInclusive<i32> = 1949..=2200;

/// The metadata of the caller's passed on to every service: its identity
/// (the services check the token) and its trace.
const PASSED_ON: [&str; 3] = ["authorization", "traceparent", "tracestate"];

/// The report service: one client transport per service asked, e.g. a
/// [`tonic::transport::Channel`] each (cheap to clone; never behind a lock).
#[derive(Clone, Debug)]
pub struct AnnualReports<T> {
    /// The members service (`EvaluationService/GetMemberStatistics`).
    members: T,
    /// The proposals service (`ProposalAssessmentService/GetProposalStatistics`).
    proposals: T,
    /// The consultations service (`ConsultationResultService/GetConsultationStatistics`).
    consultations: T,
    /// The opinions service (`OpinionReportService/GetOpinionStatistics`).
    opinions: T,
    /// The longest a report may take, whatever the caller allows.
    max_deadline: Duration,
}

impl<T> AnnualReports<T> {
    /// The report over these transports, taking at most `max_deadline`.
    pub fn new(
        members: T,
        proposals: T,
        consultations: T,
        opinions: T,
        max_deadline: Duration,
    ) -> AnnualReports<T> {
        AnnualReports {
            members,
            proposals,
            consultations,
            opinions,
            max_deadline,
        }
    }

    /// The longest a report may take.
    pub fn max_deadline(&self) -> Duration {
        self.max_deadline
    }
}

impl AnnualReports<tonic::transport::Channel> {
    /// The report over channels to the four services' URIs
    /// (`http://members:50061`, …), each connecting when first used, with
    /// the kit's connect timeout and keepalive.
    pub fn connect_lazy(
        members: &str,
        proposals: &str,
        consultations: &str,
        opinions: &str,
        max_deadline: Duration,
    ) -> Result<Self, tonic::transport::Error> {
        use cppcc_kit::client::channel;
        Ok(AnnualReports::new(
            channel(members)?,
            channel(proposals)?,
            channel(consultations)?,
            channel(opinions)?,
            max_deadline,
        ))
    }
}

impl<T> AnnualReports<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    /// The tonic service to mount in a router.
    pub fn into_server(self) -> ReportServiceServer<Self> {
        ReportServiceServer::new(self)
    }

    /// Asks the four services at once, each until `until`, and puts the
    /// report together from what came back. The services are told the
    /// caller's own deadline, `by`, a little later than `until`: the report
    /// stops waiting first, so a section it gives up on reads as past its
    /// deadline rather than as cancelled by the client's own timer.
    async fn assemble(
        &self,
        committee: &str,
        year: i32,
        incoming: &MetadataMap,
        until: Instant,
        by: Instant,
    ) -> Result<pb::GetAnnualReportResponse, Status> {
        let budget = by.saturating_duration_since(Instant::now());
        let (members, proposals, consultations, opinions) = tokio::join!(
            within(Section::Members, until, async {
                EvaluationServiceClient::new(self.members.clone())
                    .get_member_statistics(outgoing(
                        incoming,
                        budget,
                        mpb::GetMemberStatisticsRequest {
                            committee: committee.to_owned(),
                            year,
                        },
                    ))
                    .await
            }),
            within(Section::Proposals, until, async {
                ProposalAssessmentServiceClient::new(self.proposals.clone())
                    .get_proposal_statistics(outgoing(
                        incoming,
                        budget,
                        ppb::GetProposalStatisticsRequest {
                            committee: committee.to_owned(),
                            year,
                        },
                    ))
                    .await
            }),
            within(Section::Consultations, until, async {
                ConsultationResultServiceClient::new(self.consultations.clone())
                    .get_consultation_statistics(outgoing(
                        incoming,
                        budget,
                        cpb::GetConsultationStatisticsRequest {
                            committee: committee.to_owned(),
                            year,
                        },
                    ))
                    .await
            }),
            within(Section::Opinions, until, async {
                OpinionReportServiceClient::new(self.opinions.clone())
                    .get_opinion_statistics(outgoing(
                        incoming,
                        budget,
                        opb::GetOpinionStatisticsRequest {
                            committee: committee.to_owned(),
                            year,
                        },
                    ))
                    .await
            }),
        );

        let mut report = pb::GetAnnualReportResponse {
            committee: committee.to_owned(),
            year,
            ..Default::default()
        };
        let mut failures: Vec<(Section, Status)> = Vec::new();
        let mut take = |section: Section, status: Status| failures.push((section, status));
        match members {
            Ok(r) => report.members = Some(r),
            Err(s) => take(Section::Members, s),
        }
        match proposals {
            Ok(r) => report.proposals = Some(r),
            Err(s) => take(Section::Proposals, s),
        }
        match consultations {
            Ok(r) => report.consultations = Some(r),
            Err(s) => take(Section::Consultations, s),
        }
        match opinions {
            Ok(r) => report.opinions = Some(r),
            Err(s) => take(Section::Opinions, s),
        }
        if let Some(status) = refused_everywhere(&failures) {
            return Err(status);
        }
        for (section, status) in &failures {
            tracing::warn!(
                section = section.key(),
                code = code_name(status.code()),
                message = status.message(),
                "annual report without a section"
            );
        }
        report.missing = failures
            .into_iter()
            .map(|(section, status)| pb::MissingPart {
                section: section.proto() as i32,
                code: code_name(status.code()).to_owned(),
                message: status.message().to_owned(),
            })
            .collect();
        report.complete = report.missing.is_empty();
        report.figures = flatten(&report);
        Ok(report)
    }
}

#[tonic::async_trait]
impl<T> ReportService for AnnualReports<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    async fn get_annual_report(
        &self,
        request: Request<pb::GetAnnualReportRequest>,
    ) -> Result<Response<pb::GetAnnualReportResponse>, Status> {
        let started = Instant::now();
        let req = request.get_ref();
        validate(req)?;
        let deadline = deadline(request.metadata(), self.max_deadline);
        let (until, by) = (started + calls_budget(deadline), started + deadline);
        let span = tracing::info_span!(
            "annual_report",
            committee = %req.committee,
            year = req.year,
            deadline_ms = deadline.as_millis() as u64,
        );
        let report = self
            .assemble(&req.committee, req.year, request.metadata(), until, by)
            .instrument(span)
            .await?;
        Ok(Response::new(report))
    }
}

/// Every invalid field at once.
fn validate(req: &pb::GetAnnualReportRequest) -> Result<(), Status> {
    let mut v = Violations::default();
    v.check(
        committee_id(&req.committee).is_none(),
        "committee",
        format!(
            "`{}` is not a committee name like `committees/suixian`",
            req.committee
        ),
    );
    v.check(
        !YEARS.contains(&req.year),
        "year",
        format!(
            "must be a year from {} to {}, not {}",
            YEARS.start(),
            YEARS.end(),
            req.year
        ),
    );
    v.finish().map_err(Status::from)
}

/// A call to one service with the caller's identity, trace and what is
/// left of its deadline.
fn outgoing<M>(incoming: &MetadataMap, budget: Duration, message: M) -> Request<M> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    for key in PASSED_ON {
        if let Some(value) = incoming.get(key) {
            metadata.insert(key, value.clone());
        }
    }
    // This report's span, when traces are exported, is the services' parent.
    cppcc_kit::telemetry::inject_context(metadata);
    request.set_timeout(budget);
    request
}

/// A service's answer, or why there is none, by `until` at the latest.
async fn within<R>(
    section: Section,
    until: Instant,
    call: impl Future<Output = Result<Response<R>, Status>>,
) -> Result<R, Status> {
    let late = || {
        Status::deadline_exceeded(format!(
            "the {} service did not answer within the report's deadline",
            section.key()
        ))
    };
    match tokio::time::timeout_at(until, call).await {
        Ok(Ok(answer)) => Ok(answer.into_inner()),
        // A transport's own timer ending the call at the deadline says
        // "cancelled"; to the reader it is the same lateness.
        Ok(Err(status)) if status.code() == Code::Cancelled && Instant::now() >= until => {
            Err(late())
        }
        Ok(Err(status)) => Err(status),
        Err(_) => Err(late()),
    }
}

/// The caller's refusal, when every service refused it for the same
/// reason: not signed in, not allowed, or (which the services answer alike,
/// so that existence does not leak) a committee it may not see. An empty
/// report would hide it.
fn refused_everywhere(failures: &[(Section, Status)]) -> Option<Status> {
    let (_, first) = failures.first()?;
    let code = first.code();
    let refused = matches!(
        code,
        Code::Unauthenticated | Code::PermissionDenied | Code::NotFound
    ) && failures.len() == Section::ALL.len()
        && failures.iter().all(|(_, s)| s.code() == code);
    refused.then(|| first.clone())
}

/// The sections of a report, one per service asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Members,
    Proposals,
    Consultations,
    Opinions,
}

impl Section {
    const ALL: [Section; 4] = [
        Section::Members,
        Section::Proposals,
        Section::Consultations,
        Section::Opinions,
    ];

    /// The service's name, for logs and messages.
    fn key(self) -> &'static str {
        match self {
            Section::Members => "members",
            Section::Proposals => "proposals",
            Section::Consultations => "consultations",
            Section::Opinions => "opinions",
        }
    }

    fn proto(self) -> pb::Section {
        match self {
            Section::Members => pb::Section::Members,
            Section::Proposals => pb::Section::Proposals,
            Section::Consultations => pb::Section::Consultations,
            Section::Opinions => pb::Section::Opinions,
        }
    }
}

/// A gRPC code's canonical name, e.g. `UNAVAILABLE`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt as _;

    use super::*;

    #[test]
    fn bad_requests_name_every_field() {
        let status = validate(&pb::GetAnnualReportRequest {
            committee: "suixian".into(),
            year: 1900,
        })
        .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<_> = status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["committee", "year"]);
        for year in [1949, 2023, 2200] {
            validate(&pb::GetAnnualReportRequest {
                committee: "committees/suixian".into(),
                year,
            })
            .unwrap();
        }
        assert!(
            validate(&pb::GetAnnualReportRequest {
                committee: "committees/suixian".into(),
                year: 2201,
            })
            .is_err()
        );
    }

    #[test]
    fn refused_only_when_every_service_refuses_alike() {
        let all = |code: Code| -> Vec<(Section, Status)> {
            Section::ALL
                .iter()
                .map(|s| (*s, Status::new(code, "no")))
                .collect()
        };
        assert_eq!(
            refused_everywhere(&all(Code::Unauthenticated)).map(|s| s.code()),
            Some(Code::Unauthenticated)
        );
        assert_eq!(
            refused_everywhere(&all(Code::PermissionDenied)).map(|s| s.code()),
            Some(Code::PermissionDenied)
        );
        assert_eq!(
            refused_everywhere(&all(Code::NotFound)).map(|s| s.code()),
            Some(Code::NotFound),
            "a committee the caller may not see"
        );
        assert!(
            refused_everywhere(&all(Code::Unavailable)).is_none(),
            "services down: an empty report saying so"
        );
        let mut mixed = all(Code::PermissionDenied);
        mixed[3].1 = Status::unauthenticated("no");
        assert!(refused_everywhere(&mixed).is_none());
        let three = &all(Code::PermissionDenied)[..3];
        assert!(refused_everywhere(three).is_none(), "one section answered");
        assert!(refused_everywhere(&[]).is_none());
    }

    #[test]
    fn the_caller_is_passed_on() {
        let mut incoming = MetadataMap::new();
        incoming.insert("authorization", "Bearer t".parse().unwrap());
        incoming.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        incoming.insert("tracestate", "cppcc=1".parse().unwrap());
        incoming.insert("x-other", "kept here".parse().unwrap());
        let out = outgoing(&incoming, Duration::from_millis(1500), ());
        let md = out.metadata();
        assert_eq!(md.get("authorization").unwrap(), "Bearer t");
        assert_eq!(
            md.get("traceparent").unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(md.get("tracestate").unwrap(), "cppcc=1");
        assert!(md.get("x-other").is_none());
        let timeout = md.get("grpc-timeout").unwrap().to_str().unwrap();
        assert_eq!(
            parse_grpc_timeout(timeout),
            Some(Duration::from_millis(1500))
        );
    }

    #[tokio::test]
    async fn a_call_ended_at_the_deadline_is_late() {
        let cancelled = || async { Err::<Response<()>, _>(Status::cancelled("Timeout expired")) };
        let now = Instant::now();
        let late = within(Section::Members, now, cancelled())
            .await
            .unwrap_err();
        assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
        let early = within(Section::Members, now + Duration::from_secs(60), cancelled())
            .await
            .unwrap_err();
        assert_eq!(
            early.code(),
            Code::Cancelled,
            "cancelled before the deadline"
        );
        let silent = within(
            Section::Opinions,
            Instant::now() + Duration::from_millis(20),
            std::future::pending::<Result<Response<()>, Status>>(),
        )
        .await
        .unwrap_err();
        assert_eq!(silent.code(), Code::DeadlineExceeded);
        assert!(silent.message().contains("opinions"), "{silent:?}");
    }

    #[test]
    fn code_names_are_canonical() {
        assert_eq!(code_name(Code::Unavailable), "UNAVAILABLE");
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(code_name(Code::PermissionDenied), "PERMISSION_DENIED");
    }
}
