//! Who is a member, for the services that record what members do: asked
//! of the members service, which owns the registry, with the asking
//! service's own short-lived token and a bounded wait.

#![forbid(unsafe_code)]

use std::time::Duration;

use tonic::Code;
use uuid::Uuid;

use cppcc_kit::ServiceError;
use cppcc_kit::auth::TokenIssuer;
use cppcc_kit::client::{Authed, Bearer, channel};
use cppcc_kit::names::{ChildName, committee_name};
use cppcc_proto::members::v1 as mpb;
use mpb::committee_service_client::CommitteeServiceClient;
use mpb::liaison_network_service_client::LiaisonNetworkServiceClient;
use mpb::member_service_client::MemberServiceClient;

/// How long a call to the members service may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the tokens this service signs for itself live.
const TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// A member as another service records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: Uuid,
    pub display_name: String,
}

/// An informant (信息员) as another service records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Informant {
    pub id: Uuid,
    pub display_name: String,
    /// The liaison station the informant reports through.
    pub station: Option<Uuid>,
}

/// The members service, as this service asks it.
#[derive(Clone, Debug)]
pub struct Members {
    channel: tonic::transport::Channel,
    issuer: TokenIssuer,
    /// The asking service, as its tokens name it (`cppcc-proposals`).
    subject: &'static str,
}

impl Members {
    /// A client of the members service at `uri` (given as `flag`), for the
    /// service `subject`; it connects when first used.
    pub fn new(
        uri: &str,
        flag: &str,
        issuer: TokenIssuer,
        subject: &'static str,
    ) -> Result<Members, cppcc_kit::BoxError> {
        if uri.is_empty() {
            return Err(format!(
                "{flag} is required: members are checked with the members service"
            )
            .into());
        }
        let channel = channel(uri).map_err(|e| format!("{flag} `{uri}`: {e}"))?;
        Ok(Members {
            channel,
            issuer,
            subject,
        })
    }

    /// This service's own token, fresh for each call.
    fn bearer(&self) -> Bearer {
        Bearer::new(&self.issuer.service_token(self.subject, TOKEN_TTL))
    }

    fn client(&self) -> MemberServiceClient<Authed> {
        MemberServiceClient::with_interceptor(self.channel.clone(), self.bearer())
    }

    /// `committee` as the registry has it, if it does.
    async fn committee(&self, committee: &str) -> Result<Option<mpb::Committee>, ServiceError> {
        let mut client =
            CommitteeServiceClient::with_interceptor(self.channel.clone(), self.bearer());
        let mut request = tonic::Request::new(mpb::GetCommitteeRequest {
            name: committee_name(committee),
        });
        request.set_timeout(CALL_TIMEOUT);
        match client.get_committee(request).await {
            Ok(r) => Ok(r.into_inner().committee),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(unavailable(s)),
        }
    }

    /// The id of `committee`'s parent committee, if it has one.
    pub async fn parent(&self, committee: &str) -> Result<Option<String>, ServiceError> {
        Ok(self
            .committee(committee)
            .await?
            .and_then(|c| cppcc_kit::names::committee_id(&c.parent).map(str::to_owned)))
    }

    /// The opinion reports each staff member owes `committee` a month.
    pub async fn monthly_opinion_quota(&self, committee: &str) -> Result<i32, ServiceError> {
        let mut client =
            CommitteeServiceClient::with_interceptor(self.channel.clone(), self.bearer());
        let mut request = tonic::Request::new(mpb::GetCommitteeSettingsRequest {
            name: format!("{}/settings", committee_name(committee)),
        });
        request.set_timeout(CALL_TIMEOUT);
        match client.get_committee_settings(request).await {
            Ok(r) => Ok(r
                .into_inner()
                .settings
                .and_then(|s| s.monthly_opinion_quota)
                .unwrap_or(1)),
            Err(s) if s.code() == Code::NotFound => Ok(1),
            Err(s) => Err(unavailable(s)),
        }
    }

    /// The informant `name` of `committee`, still reporting; refused under
    /// `field` when it is not.
    pub async fn informant(
        &self,
        committee: &str,
        field: &str,
        name: &str,
    ) -> Result<Informant, ServiceError> {
        let not_ours = || {
            ServiceError::invalid(
                field,
                format!("`{name}` is not an informant of committees/{committee}"),
            )
        };
        let id = match ChildName::parse(name, "informants") {
            Some(c) if c.committee == committee => c.id,
            Some(_) => return Err(not_ours()),
            None => {
                return Err(ServiceError::invalid(
                    field,
                    format!(
                        "`{name}` is not an informant name like `committees/{committee}/informants/{{id}}`"
                    ),
                ));
            }
        };
        let mut client =
            LiaisonNetworkServiceClient::with_interceptor(self.channel.clone(), self.bearer());
        let mut request = tonic::Request::new(mpb::GetInformantRequest {
            name: name.to_owned(),
        });
        request.set_timeout(CALL_TIMEOUT);
        let found = match client.get_informant(request).await {
            Ok(r) => r.into_inner().informant.ok_or_else(not_ours)?,
            Err(s) if s.code() == Code::NotFound => return Err(not_ours()),
            Err(s) => return Err(unavailable(s)),
        };
        if !found.active {
            return Err(ServiceError::failed_precondition(
                "INFORMANT_INACTIVE",
                name,
                format!("{} ({name}) no longer reports", found.display_name),
            )
            .with_metadata("current_state", "INACTIVE"));
        }
        Ok(Informant {
            id,
            display_name: found.display_name,
            station: ChildName::parse(&found.liaison_station, "liaisonStations").map(|c| c.id),
        })
    }

    /// The day `committee`'s current term began, if the registry has one.
    pub async fn term_start(&self, committee: &str) -> Result<Option<time::Date>, ServiceError> {
        let found = self.committee(committee).await?;
        Ok(found.and_then(|c| c.term_start_date).and_then(|d| {
            cppcc_kit::convert::parse_date("term_start_date", Some(&d))
                .ok()
                .flatten()
        }))
    }

    /// The members `names` (in order), each of `committee` and in office
    /// (active); any that is not is refused under `field[i]`.
    pub async fn in_office(
        &self,
        committee: &str,
        field: &str,
        names: &[String],
    ) -> Result<Vec<Member>, ServiceError> {
        let mut errors = cppcc_kit::Violations::default();
        for (i, n) in names.iter().enumerate() {
            match ChildName::parse(n, "members") {
                Some(c) if c.committee == committee => {}
                Some(_) => errors.add(
                    format!("{field}[{i}]"),
                    format!("`{n}` is not a member of committees/{committee}"),
                ),
                None => errors.add(
                    format!("{field}[{i}]"),
                    format!(
                        "`{n}` is not a member name like `committees/{committee}/members/{{id}}`"
                    ),
                ),
            }
        }
        errors.finish()?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = tonic::Request::new(mpb::BatchGetMembersRequest {
            parent: committee_name(committee),
            names: names.to_vec(),
            view: mpb::MemberView::Basic as i32,
        });
        request.set_timeout(CALL_TIMEOUT);
        let found = match self.client().batch_get_members(request).await {
            Ok(r) => r.into_inner().members,
            Err(s) if s.code() == Code::NotFound => {
                // Which ones: each asked alone.
                let mut errors = cppcc_kit::Violations::default();
                for (i, n) in names.iter().enumerate() {
                    let mut one = tonic::Request::new(mpb::GetMemberRequest {
                        name: n.clone(),
                        view: mpb::MemberView::Basic as i32,
                    });
                    one.set_timeout(CALL_TIMEOUT);
                    match self.client().get_member(one).await {
                        Ok(_) => {}
                        Err(s) if s.code() == Code::NotFound => errors.add(
                            format!("{field}[{i}]"),
                            format!("`{n}` is not a member of committees/{committee}"),
                        ),
                        Err(s) => return Err(unavailable(s)),
                    }
                }
                errors.finish()?;
                return Err(ServiceError::unavailable(
                    "the members service could not say who the members are; retry",
                ));
            }
            Err(s) => return Err(unavailable(s)),
        };
        let mut out = Vec::with_capacity(found.len());
        for m in &found {
            let status = mpb::MemberStatus::try_from(m.status).unwrap_or_default();
            if status != mpb::MemberStatus::Active {
                return Err(ServiceError::failed_precondition(
                    "MEMBER_NOT_IN_OFFICE",
                    &m.name,
                    format!(
                        "{} ({}) is not in office: {}",
                        m.display_name,
                        m.name,
                        status.as_str_name()
                    ),
                )
                .with_metadata("current_state", status.as_str_name()));
            }
            let id = ChildName::parse(&m.name, "members")
                .ok_or_else(|| ServiceError::internal("the members service named a member oddly"))?
                .id;
            out.push(Member {
                id,
                display_name: m.display_name.clone(),
            });
        }
        Ok(out)
    }
}

/// The members service's refusal as this service's error: down or slow is
/// worth a retry; anything else is this service's fault, not the caller's.
fn unavailable(s: tonic::Status) -> ServiceError {
    tracing::warn!(code = ?s.code(), message = s.message(), "the members service failed");
    if !matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::ResourceExhausted
    ) {
        return ServiceError::internal(format!("the members service refused: {s}"));
    }
    ServiceError::unavailable(format!(
        "the members service, which says who is a member, cannot be reached ({}); retry",
        s.code()
    ))
}
