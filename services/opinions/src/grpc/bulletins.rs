//! `cppcc.opinions.v1.BulletinService`: issues of 《社情民意简报》 and its
//! special edition, numbered per year and kind.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::change::{Claim, fingerprint};
use cppcc_kit::convert::{date, is_set};
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::text::take_line;
use cppcc_kit::{ServiceError, Violations};

use super::*;
use crate::domain::ReviewStep;
use crate::store::reports::{BulletinRow, Filter};

fn bulletin(b: &BulletinRow) -> pb::Bulletin {
    pb::Bulletin {
        name: ChildName::format(&b.committee_id, "bulletins", b.id),
        kind: b.kind.into(),
        year: b.year.into(),
        number: b.number.into(),
        title: b.title.clone(),
        issue_date: Some(date(b.issue_day)),
        reports: b
            .reports
            .iter()
            .map(|r| ChildName::format(&b.committee_id, "opinionReports", *r))
            .collect(),
    }
}

async fn one(
    conn: &mut Conn,
    committee: &str,
    id: Uuid,
) -> Result<Option<BulletinRow>, ServiceError> {
    Ok(
        store::reports::bulletins(conn, committee, Some(&[id]), None)
            .await
            .map_err(classify_db_error)?
            .pop(),
    )
}

#[tonic::async_trait]
impl pb::bulletin_service_server::BulletinService for Api {
    async fn create_bulletin(
        &self,
        request: Request<pb::CreateBulletinRequest>,
    ) -> Result<Response<pb::CreateBulletinResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .bulletin
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("bulletin", "required"))?;
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::BulletinKind>(input.kind),
            "bulletin.kind",
            "must be REGULAR or SPECIAL",
        );
        let title = take_line(&mut errors, "bulletin.title", &input.title, 2, 100);
        errors.check(
            input.reports.is_empty() || input.reports.len() > 50,
            "bulletin.reports",
            "give 1 to 50 accepted reports",
        );
        let mut reports: Vec<Uuid> = Vec::new();
        for (i, r) in input.reports.iter().enumerate() {
            match ChildName::parse(r, "opinionReports") {
                Some(c) if c.committee == committee => {
                    if reports.contains(&c.id) {
                        errors.add(
                            format!("bulletin.reports[{i}]"),
                            format!("{r} is given twice"),
                        );
                    }
                    reports.push(c.id);
                }
                _ => errors.add(
                    format!("bulletin.reports[{i}]"),
                    format!("`{r}` is not a report of {}", req.parent),
                ),
            }
        }
        errors.check(
            input.issue_date.is_none(),
            "bulletin.issue_date",
            "required",
        );
        errors.finish()?;
        let day = day_field(
            self.db.today(),
            "bulletin.issue_date",
            input.issue_date.as_ref(),
            None,
        )?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "bulletins", id);
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &name)
            .await?
        {
            let eid = ChildName::parse_field("name", &existing, "bulletins")?;
            let b = one(change.conn(), &committee, eid.id)
                .await?
                .ok_or_else(|| ServiceError::not_found(&existing))?;
            change.commit().await?;
            return Ok(Response::new(pb::CreateBulletinResponse {
                bulletin: Some(bulletin(&b)),
            }));
        }
        let rows = store::reports::list(
            change.conn(),
            &committee,
            Filter {
                ids: Some(&reports),
                lock: true,
                ..Default::default()
            },
        )
        .await
        .map_err(classify_db_error)?;
        let mut errors = Violations::default();
        for (i, r) in reports.iter().enumerate() {
            match rows.iter().find(|x| x.id == *r) {
                None => errors.add(
                    format!("bulletin.reports[{i}]"),
                    format!("{} does not exist", input.reports[i]),
                ),
                Some(x) => {
                    review_step(x, ReviewStep::Use, &input.reports[i])?;
                    if x.review_day.is_some_and(|d| d > day) {
                        errors.add(
                            format!("bulletin.reports[{i}]"),
                            format!("{} was accepted after the issue date", input.reports[i]),
                        );
                    }
                }
            }
        }
        errors.finish()?;
        let before = view(change.conn(), &rows).await?;
        let mut b = BulletinRow {
            id,
            committee_id: committee.clone(),
            kind: input.kind as i16,
            year: day.year() as i16,
            number: 0,
            title,
            issue_day: day,
            reports: reports.clone(),
        };
        b.number = store::reports::insert_bulletin(change.conn(), &b)
            .await
            .map_err(classify_db_error)?;
        let made = bulletin(&b);
        change.audit(&committee, &made.name, None, Some(to_json(&made)));
        for (r, before) in reports.iter().zip(&before) {
            store::reports::touch(change.conn(), *r)
                .await
                .map_err(classify_db_error)?;
            changed(&mut change, Some(before), &committee, *r).await?;
        }
        change.commit().await?;
        Ok(Response::new(pb::CreateBulletinResponse {
            bulletin: Some(made),
        }))
    }

    async fn get_bulletin(
        &self,
        request: Request<pb::GetBulletinRequest>,
    ) -> Result<Response<pb::GetBulletinResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "bulletins")?;
        self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let b = one(&mut conn, &id.committee, id.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetBulletinResponse {
            bulletin: Some(bulletin(&b)),
        }))
    }

    async fn list_bulletins(
        &self,
        request: Request<pb::ListBulletinsRequest>,
    ) -> Result<Response<pb::ListBulletinsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let year = year_field("year", req.year)?;
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let rows = store::reports::bulletins(&mut conn, &committee, None, Some(year))
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListBulletinsResponse {
            bulletins: rows.iter().map(bulletin).collect(),
        }))
    }
}
