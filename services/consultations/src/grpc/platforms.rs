//! `cppcc.consultations.v1.PlatformService`: platforms and their five haves.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::change::{Claim, fingerprint};
use cppcc_kit::convert::timestamp;
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::fieldmask::{self, MaskSpec};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::text::take_line;
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::common::v1::Money;
use cppcc_proto::consultations::v1 as pb;

use super::*;
use crate::domain::{five_haves, is_set};
use crate::store::platforms::{self as store, PlatformRow};
use cppcc_kit::page::{BY_ID, Key, KeyKind, Keyed, ListQuery, ListSpec, OrderField};

/// Platforms page by level, then name (the kit's page tokens).
const PLATFORM_PAGES: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        OrderField {
            name: "level",
            sql: "level",
            kind: KeyKind::Int,
        },
        OrderField {
            name: "display_name",
            sql: "display_name",
            kind: KeyKind::Text,
        },
    ],
    default_order: "level, display_name",
    tie_break: Some(BY_ID),
};

impl Keyed for PlatformRow {
    fn key(&self, field: &str) -> Key {
        match field {
            "level" => Key::Int(self.level.into()),
            "display_name" => Key::Text(self.display_name.clone()),
            _ => Key::Uuid(self.id),
        }
    }
}

const PLATFORM_MASK: MaskSpec = MaskSpec {
    updatable: &[
        "display_name",
        "level",
        "township",
        "convener",
        "venue",
        "has_sign",
        "content",
        "has_archives",
    ],
    output_only: &[
        ("name", "it identifies the platform"),
        ("five_haves", "it follows from the other fields"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("etag", "send it in platform.etag to guard the update"),
    ],
};

pub(crate) fn platform(r: &PlatformRow) -> pb::Platform {
    pb::Platform {
        name: ChildName::format(&r.committee_id, "platforms", r.id),
        display_name: r.display_name.clone(),
        level: r.level.into(),
        township: r.township.clone(),
        convener: r.convener.clone(),
        venue: r.venue.clone(),
        has_sign: r.has_sign,
        content: r.content.clone(),
        has_archives: r.has_archives,
        five_haves: Some(five_haves(
            &r.convener,
            &r.venue,
            r.has_sign,
            &r.content,
            r.has_archives,
        )),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
        etag: etag::format(r.revision),
    }
}

/// Checks the fields of `p` named in `fields` into `row`.
fn apply(errors: &mut Violations, p: &pb::Platform, fields: &[&str], row: &mut PlatformRow) {
    for f in fields {
        match *f {
            "display_name" => {
                row.display_name =
                    take_line(errors, "platform.display_name", &p.display_name, 2, 60)
            }
            "level" => {
                errors.check(
                    !is_set::<pb::PlatformLevel>(p.level),
                    "platform.level",
                    "must be TOWNSHIP, VILLAGE or ENTERPRISE",
                );
                row.level = p.level as i16;
            }
            "township" => row.township = take_line(errors, "platform.township", &p.township, 0, 40),
            "convener" => row.convener = take_line(errors, "platform.convener", &p.convener, 0, 40),
            "venue" => row.venue = take_line(errors, "platform.venue", &p.venue, 0, 80),
            "has_sign" => row.has_sign = p.has_sign,
            "content" => row.content = take_line(errors, "platform.content", &p.content, 0, 200),
            "has_archives" => row.has_archives = p.has_archives,
            _ => {}
        }
    }
}

#[tonic::async_trait]
impl pb::platform_service_server::PlatformService for Api {
    async fn create_platform(
        &self,
        request: Request<pb::CreatePlatformRequest>,
    ) -> Result<Response<pb::CreatePlatformResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .platform
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("platform", "required"))?;
        let now = time::OffsetDateTime::now_utc();
        let mut row = PlatformRow {
            id: Uuid::now_v7(),
            committee_id: committee.clone(),
            display_name: String::new(),
            level: 0,
            township: String::new(),
            convener: String::new(),
            venue: String::new(),
            has_sign: false,
            content: String::new(),
            has_archives: false,
            create_time: now,
            update_time: now,
            revision: 1,
        };
        let mut errors = Violations::default();
        apply(&mut errors, input, PLATFORM_MASK.updatable, &mut row);
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let name = ChildName::format(&committee, "platforms", row.id);
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &name)
            .await?
        {
            let id = ChildName::parse_field("name", &existing, "platforms")?;
            let row = store::get(change.conn(), &committee, id.id, false)
                .await
                .map_err(classify_db_error)?
                .ok_or_else(|| ServiceError::not_found(&existing))?;
            change.commit().await?;
            return Ok(Response::new(pb::CreatePlatformResponse {
                platform: Some(platform(&row)),
            }));
        }
        if let Err(e) = store::insert(change.conn(), &row).await {
            if constraint_violated(&e, "platform_committee_id_display_name_key") {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!(
                        "{} already has a platform named {}",
                        req.parent, row.display_name
                    ),
                )
                .into());
            }
            return Err(classify_db_error(e).into());
        }
        let created = platform(&row);
        change.audit(&committee, &created.name, None, Some(to_json(&created)));
        change.commit().await?;
        Ok(Response::new(pb::CreatePlatformResponse {
            platform: Some(created),
        }))
    }

    async fn get_platform(
        &self,
        request: Request<pb::GetPlatformRequest>,
    ) -> Result<Response<pb::GetPlatformResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "platforms")?;
        self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let row = store::get(&mut conn, &id.committee, id.id, false)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetPlatformResponse {
            platform: Some(platform(&row)),
        }))
    }

    async fn list_platforms(
        &self,
        request: Request<pb::ListPlatformsRequest>,
    ) -> Result<Response<pb::ListPlatformsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        if req.level != 0 && !is_set::<pb::PlatformLevel>(req.level) {
            return Err(ServiceError::invalid("level", "not a platform level").into());
        }
        self.db.caller(&request, &committee, &req.parent).await?;
        let page = ListQuery::fixed(
            &PLATFORM_PAGES,
            req.page_size,
            &req.page_token,
            &[&committee, &req.level.to_string()],
        )?;
        let after = match page.after() {
            Some([Key::Int(level), Key::Text(name), Key::Uuid(id)]) => {
                Some((i16::try_from(*level).unwrap_or(i16::MAX), name.clone(), *id))
            }
            _ => None,
        };
        let mut conn = self.db.acquire().await?;
        let (rows, total, compliant) = store::list(
            &mut conn,
            &committee,
            req.level as i16,
            after,
            page.fetch_limit(),
        )
        .await
        .map_err(classify_db_error)?;
        let (rows, next_page_token) = page.page(rows);
        Ok(Response::new(pb::ListPlatformsResponse {
            platforms: rows.iter().map(platform).collect(),
            next_page_token,
            total_size: total as i32,
            compliant_count: compliant as i32,
        }))
    }

    async fn update_platform(
        &self,
        request: Request<pb::UpdatePlatformRequest>,
    ) -> Result<Response<pb::UpdatePlatformResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .platform
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("platform", "required"))?;
        let id = ChildName::parse_field("platform.name", &input.name, "platforms")?;
        let fields = fieldmask::resolve(req.update_mask.as_ref(), &PLATFORM_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "level" => input.level != 0,
            "township" => !input.township.is_empty(),
            "convener" => !input.convener.is_empty(),
            "venue" => !input.venue.is_empty(),
            "has_sign" => input.has_sign,
            "content" => !input.content.is_empty(),
            "has_archives" => input.has_archives,
            _ => false,
        })?;
        let actor = self.db.caller(&request, &id.committee, &input.name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = store::get(change.conn(), &id.committee, id.id, true)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, before.revision, &input.name)?;
        let mut row = before.clone();
        let mut errors = Violations::default();
        apply(&mut errors, input, &fields, &mut row);
        errors.finish()?;
        if let Err(e) = store::update(change.conn(), &row).await {
            if constraint_violated(&e, "platform_committee_id_display_name_key") {
                return Err(ServiceError::already_exists(
                    &input.name,
                    format!(
                        "committees/{} already has a platform named {}",
                        id.committee, row.display_name
                    ),
                )
                .into());
            }
            return Err(classify_db_error(e).into());
        }
        let after = store::get(change.conn(), &id.committee, id.id, false)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::internal("the platform just changed is gone"))?;
        let (before, after) = (platform(&before), platform(&after));
        change.audit(
            &id.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdatePlatformResponse {
            platform: Some(after),
        }))
    }

    async fn get_platform_budget(
        &self,
        request: Request<pb::GetPlatformBudgetRequest>,
    ) -> Result<Response<pb::GetPlatformBudgetResponse>, Status> {
        let name = request.get_ref().name.clone();
        let (committee, year) = budget_name("name", &name)?;
        self.db.caller(&request, &committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        Ok(Response::new(pb::GetPlatformBudgetResponse {
            budget: Some(read_budget(&mut conn, &committee, year).await?),
        }))
    }

    async fn update_platform_budget(
        &self,
        request: Request<pb::UpdatePlatformBudgetRequest>,
    ) -> Result<Response<pb::UpdatePlatformBudgetResponse>, Status> {
        let input = request
            .get_ref()
            .budget
            .clone()
            .ok_or_else(|| ServiceError::invalid("budget", "required"))?;
        let (committee, year) = budget_name("budget.name", &input.name)?;
        let amount = money("budget.amount", input.amount.as_ref())?;
        let actor = self.db.caller(&request, &committee, &input.name).await?;
        let mut change = self.db.change(&actor).await?;
        store::lock_budget(change.conn(), &committee, year)
            .await
            .map_err(classify_db_error)?;
        let before = store::budget(change.conn(), &committee, year, None)
            .await
            .map_err(classify_db_error)?;
        if amount < before.allotted_fen {
            return Err(ServiceError::failed_precondition(
                "BUDGET_BELOW_ALLOTTED",
                &input.name,
                format!(
                    "{} fen are already allotted to {} platforms in {year}; the budget cannot be less",
                    before.allotted_fen, before.funded
                ),
            )
            .with_metadata("allotted_fen", before.allotted_fen.to_string())
            .into());
        }
        store::set_budget(change.conn(), &committee, year, amount)
            .await
            .map_err(classify_db_error)?;
        let after = store::budget(change.conn(), &committee, year, None)
            .await
            .map_err(classify_db_error)?;
        let (before, after) = (
            budget(&input.name, year, &before),
            budget(&input.name, year, &after),
        );
        change.audit(
            &committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdatePlatformBudgetResponse {
            budget: Some(after),
        }))
    }

    async fn get_platform_fund(
        &self,
        request: Request<pb::GetPlatformFundRequest>,
    ) -> Result<Response<pb::GetPlatformFundResponse>, Status> {
        let name = request.get_ref().name.clone();
        let (platform, year) = fund_name("name", &name)?;
        self.db.caller(&request, &platform.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        self.platform_exists(&mut conn, &platform).await?;
        let row = store::fund(&mut conn, platform.id, year)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::GetPlatformFundResponse {
            fund: Some(fund(&name, year, row.as_ref())),
        }))
    }

    async fn update_platform_fund(
        &self,
        request: Request<pb::UpdatePlatformFundRequest>,
    ) -> Result<Response<pb::UpdatePlatformFundResponse>, Status> {
        let input = request
            .get_ref()
            .fund
            .clone()
            .ok_or_else(|| ServiceError::invalid("fund", "required"))?;
        let (platform, year) = fund_name("fund.name", &input.name)?;
        let allotted = money("fund.allotted", input.allotted.as_ref())?;
        let spent = money("fund.spent", input.spent.as_ref())?;
        if spent > allotted {
            return Err(ServiceError::invalid(
                "fund.spent",
                format!("{spent} fen is more than the {allotted} fen allotted"),
            )
            .into());
        }
        let actor = self
            .db
            .caller(&request, &platform.committee, &input.name)
            .await?;
        let committee = platform.committee.clone();
        let mut change = self.db.change(&actor).await?;
        self.platform_exists(change.conn(), &platform).await?;
        store::lock_budget(change.conn(), &committee, year)
            .await
            .map_err(classify_db_error)?;
        let others = store::budget(change.conn(), &committee, year, Some(platform.id))
            .await
            .map_err(classify_db_error)?;
        let budget_name = budget_resource(&committee, year);
        let Some(amount) = others.amount_fen else {
            return Err(ServiceError::failed_precondition(
                "NO_BUDGET",
                &budget_name,
                format!(
                    "committees/{committee} has no platform budget for {year}: set it with UpdatePlatformBudget first"
                ),
            )
            .into());
        };
        if others.allotted_fen + allotted > amount {
            return Err(ServiceError::failed_precondition(
                "OVER_BUDGET",
                &budget_name,
                format!(
                    "{year}'s budget is {amount} fen and {} fen are allotted to other platforms: at most {} fen is left for this one",
                    others.allotted_fen,
                    amount - others.allotted_fen
                ),
            )
            .with_metadata("remaining_fen", (amount - others.allotted_fen).to_string())
            .into());
        }
        let before = store::fund(change.conn(), platform.id, year)
            .await
            .map_err(classify_db_error)?;
        store::set_fund(change.conn(), platform.id, year, allotted, spent)
            .await
            .map_err(classify_db_error)?;
        let after = store::fund(change.conn(), platform.id, year)
            .await
            .map_err(classify_db_error)?;
        let (before, after) = (
            fund(&input.name, year, before.as_ref()),
            fund(&input.name, year, after.as_ref()),
        );
        change.audit(
            &committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdatePlatformFundResponse {
            fund: Some(after),
        }))
    }
}

impl Api {
    /// NOT_FOUND unless `platform` exists.
    async fn platform_exists(
        &self,
        conn: &mut crate::store::Conn,
        platform: &ChildName,
    ) -> Result<(), ServiceError> {
        let name = ChildName::format(&platform.committee, "platforms", platform.id);
        store::get(conn, &platform.committee, platform.id, false)
            .await
            .map_err(classify_db_error)?
            .map(|_| ())
            .ok_or_else(|| ServiceError::not_found(&name))
    }
}

/// The name of `committee`'s platform budget of `year`.
fn budget_resource(committee: &str, year: i16) -> String {
    format!("committees/{committee}/platformBudgets/{year}")
}

/// A year's platform budget as the contract gives it.
pub(crate) async fn read_budget(
    conn: &mut crate::store::Conn,
    committee: &str,
    year: i16,
) -> Result<pb::PlatformBudget, ServiceError> {
    let row = store::budget(conn, committee, year, None)
        .await
        .map_err(classify_db_error)?;
    Ok(budget(&budget_resource(committee, year), year, &row))
}

/// `committees/{committee}/platformBudgets/{year}`: the committee and year.
fn budget_name(field: &str, name: &str) -> Result<(String, i16), ServiceError> {
    let bad = || {
        ServiceError::invalid(
            field,
            format!(
                "`{name}` is not a name like `committees/{{committee}}/platformBudgets/{{year}}`"
            ),
        )
    };
    let (committee, year) = name.rsplit_once("/platformBudgets/").ok_or_else(bad)?;
    let committee = parse_committee(field, committee)?.to_owned();
    Ok((committee, year_segment(year).ok_or_else(bad)?))
}

/// `committees/{committee}/platforms/{platform}/funds/{year}`: the platform and year.
fn fund_name(field: &str, name: &str) -> Result<(ChildName, i16), ServiceError> {
    let bad = || {
        ServiceError::invalid(
            field,
            format!(
                "`{name}` is not a name like `committees/{{committee}}/platforms/{{platform}}/funds/{{year}}`"
            ),
        )
    };
    let (platform, year) = name.rsplit_once("/funds/").ok_or_else(bad)?;
    let platform = ChildName::parse(platform, "platforms").ok_or_else(bad)?;
    Ok((platform, year_segment(year).ok_or_else(bad)?))
}

/// A year as a name's last segment: four digits, 1949..=2200.
fn year_segment(s: &str) -> Option<i16> {
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    year_field("", s.parse().ok()?).ok()
}

/// An amount that must be given and not be negative.
fn money(field: &str, m: Option<&Money>) -> Result<i64, ServiceError> {
    match m {
        None => Err(ServiceError::invalid(field, "required (in fen)")),
        Some(m) if m.fen < 0 => Err(ServiceError::invalid(field, "must not be negative")),
        Some(m) => Ok(m.fen),
    }
}

fn budget(name: &str, year: i16, r: &store::BudgetRow) -> pb::PlatformBudget {
    pb::PlatformBudget {
        name: name.to_owned(),
        year: year.into(),
        // Unset until the committee sets it, which is not the same as nothing.
        amount: r.amount_fen.map(|fen| Money { fen }),
        allotted: Some(Money {
            fen: r.allotted_fen,
        }),
        spent: Some(Money { fen: r.spent_fen }),
        platforms_funded: r.funded as i32,
        update_time: r.update_time.map(timestamp),
    }
}

fn fund(name: &str, year: i16, r: Option<&store::FundRow>) -> pb::PlatformFund {
    pb::PlatformFund {
        name: name.to_owned(),
        year: year.into(),
        allotted: Some(Money {
            fen: r.map_or(0, |r| r.allotted_fen),
        }),
        spent: Some(Money {
            fen: r.map_or(0, |r| r.spent_fen),
        }),
        update_time: r.map(|r| timestamp(r.update_time)),
    }
}
