//! The demo's organisation, as the seed describes it: an activity group in
//! each of the 20 townships with its convener approved in three steps, the
//! 洪山镇 studio (13 members, 25 village liaisons, two activities a month)
//! and the 工商联 sector studio, 26 liaison stations and 52 informants.

use anyhow::Context as _;

use cppcc_kit::client::{Authed, Bearer};
use cppcc_proto::common::v1::Date;
use cppcc_proto::members::v1 as pb;
use pb::activity_group_service_client::ActivityGroupServiceClient;
use pb::liaison_network_service_client::LiaisonNetworkServiceClient;
use pb::studio_service_client::StudioServiceClient;

use super::{Callers, GIVEN, Rng, Roll, SURNAMES, TOWNSHIPS, request_id};

/// The studio's township, and how many of its members sit in it.
const STUDIO_TOWNSHIP: &str = "洪山镇";
const STUDIO_MEMBERS: usize = 13;

/// 洪山镇's villages and communities, one liaison each.
const HONGSHAN_VILLAGES: [&str; 25] = [
    "桂花街社区",
    "洪山村",
    "九口堰村",
    "大堰村",
    "石龙寺村",
    "金鸡岭村",
    "泉水寺村",
    "庙湾村",
    "坪林村",
    "牌坊村",
    "新店村",
    "凉亭村",
    "胡家河村",
    "龙泉村",
    "双庙村",
    "茶园村",
    "中岗村",
    "三合村",
    "梅子岗村",
    "白鹤湾村",
    "竹林村",
    "长岭村",
    "黄土关村",
    "龙潭村",
    "杨家湾村",
];

/// The departments with a liaison station (the other 20 are the townships').
const DEPARTMENTS: [&str; 6] = [
    "县发展和改革局",
    "县农业农村局",
    "县卫生健康局",
    "县教育局",
    "县住房和城乡建设局",
    "县文化和旅游局",
];

/// Informants per station.
const INFORMANTS_PER_STATION: usize = 2;

/// The year the studios' activities are recorded for.
const YEAR: i32 = 2023;

fn groups(callers: &Callers, bearer: &Bearer) -> ActivityGroupServiceClient<Authed> {
    ActivityGroupServiceClient::with_interceptor(callers.channel.clone(), bearer.clone())
}

fn person(rng: &mut Rng) -> String {
    let mut name = String::from(rng.char_of(SURNAMES));
    name.push(rng.char_of(GIVEN));
    if rng.below(2) == 0 {
        name.push(rng.char_of(GIVEN));
    }
    name
}

fn phone(rng: &mut Rng) -> String {
    format!(
        "1{}{:09}",
        [3, 5, 8][rng.below(3)],
        rng.next() % 1_000_000_000
    )
}

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub(super) async fn load(callers: &Callers, roll: &Roll) -> anyhow::Result<()> {
    let mut rng = Rng(0x0f9a_2023_0020_0026);
    activity_groups(callers, &mut rng).await?;
    studios(callers, roll, &mut rng).await?;
    stations(callers, &mut rng).await
}

/// An activity group per township, each with a convener nominated,
/// agreed and approved.
async fn activity_groups(callers: &Callers, rng: &mut Rng) -> anyhow::Result<()> {
    let mut staff = groups(callers, &callers.staff);
    let mut office = groups(callers, &callers.admin);
    let mut leader = groups(callers, &callers.leader);
    for township in TOWNSHIPS {
        let group = staff
            .create_activity_group(pb::CreateActivityGroupRequest {
                parent: format!("committees/{}", super::COMMITTEE),
                activity_group: Some(pb::ActivityGroup {
                    display_name: format!("{township}政协活动组"),
                    township: township.into(),
                    ..Default::default()
                }),
                request_id: request_id(&format!("activity-group/{township}")),
            })
            .await
            .with_context(|| format!("creating the activity group of {township}"))?
            .into_inner()
            .activity_group
            .context("a group in the answer")?;
        let candidate = person(rng);
        let mut appointment = staff
            .nominate_convener(pb::NominateConvenerRequest {
                parent: group.name.clone(),
                appointment: Some(pb::ConvenerAppointment {
                    candidate_display_name: candidate,
                    candidate_title: format!("{township}党委副书记"),
                    ..Default::default()
                }),
                note: format!("{township}党委会议提名"),
                request_id: request_id(&format!("convener/{township}")),
            })
            .await
            .with_context(|| format!("nominating the convener of {township}"))?
            .into_inner()
            .appointment
            .context("an appointment in the answer")?;
        // Take the steps still open (an earlier load may have taken some).
        if appointment.state() == pb::ConvenerState::Nominated {
            appointment = office
                .agree_convener(pb::AgreeConvenerRequest {
                    name: appointment.name.clone(),
                    note: "县政协党组会议同意".into(),
                    etag: String::new(),
                })
                .await
                .with_context(|| format!("agreeing to the convener of {township}"))?
                .into_inner()
                .appointment
                .context("an appointment in the answer")?;
        }
        if appointment.state() == pb::ConvenerState::Agreed {
            leader
                .approve_convener(pb::ApproveConvenerRequest {
                    name: appointment.name.clone(),
                    note: "县政协常委会议批准".into(),
                    etag: String::new(),
                })
                .await
                .with_context(|| format!("approving the convener of {township}"))?;
        }
    }
    Ok(())
}

async fn create_studio(
    o: &mut StudioServiceClient<Authed>,
    studio: pb::Studio,
) -> anyhow::Result<pb::Studio> {
    let name = studio.display_name.clone();
    o.create_studio(pb::CreateStudioRequest {
        parent: format!("committees/{}", super::COMMITTEE),
        request_id: request_id(&format!("studio/{name}")),
        studio: Some(studio),
    })
    .await
    .with_context(|| format!("creating {name}"))?
    .into_inner()
    .studio
    .context("a studio in the answer")
}

/// Adds members to a studio (adding one twice changes nothing).
async fn add_members(
    o: &mut StudioServiceClient<Authed>,
    studio: &str,
    members: &[&pb::Member],
) -> anyhow::Result<()> {
    for m in members {
        o.add_studio_member(pb::AddStudioMemberRequest {
            studio: studio.into(),
            member: m.name.clone(),
        })
        .await
        .with_context(|| format!("adding {} to {studio}", m.display_name))?;
    }
    Ok(())
}

/// A year of a studio's activities: two a month, but one in the months
/// listed in `thin`.
async fn activities(
    o: &mut StudioServiceClient<Authed>,
    studio: &pb::Studio,
    members: &[&pb::Member],
    thin: &[i32],
    rng: &mut Rng,
) -> anyhow::Result<()> {
    const TITLES: [&str; 4] = [
        "亮身份、解民忧",
        "委员接待日",
        "协商议事会",
        "政策宣讲进村组",
    ];
    for month in 1..=12 {
        let held = if thin.contains(&month) { 1 } else { 2 };
        for k in 0..held {
            let participants = (0..3)
                .map(|_| members[rng.below(members.len())].name.clone())
                .collect();
            let title = TITLES[(month as usize + k) % TITLES.len()];
            o.create_studio_activity(pb::CreateStudioActivityRequest {
                parent: studio.name.clone(),
                activity: Some(pb::StudioActivity {
                    title: title.into(),
                    date: day(YEAR, month, 6 + 14 * k as i32),
                    description: format!("{}组织委员开展{title}活动", studio.display_name),
                    participants,
                    ..Default::default()
                }),
                request_id: request_id(&format!(
                    "studio-activity/{}/{month}/{k}",
                    studio.display_name
                )),
            })
            .await
            .with_context(|| format!("recording an activity of {}", studio.display_name))?;
        }
    }
    Ok(())
}

/// The 洪山镇 studio with its members, liaisons and activities; the 工商联
/// sector studio with the sector's members (it falls short in summer).
async fn studios(callers: &Callers, roll: &Roll, rng: &mut Rng) -> anyhow::Result<()> {
    let mut o =
        StudioServiceClient::with_interceptor(callers.channel.clone(), callers.staff.clone());
    let hongshan = create_studio(
        &mut o,
        pb::Studio {
            display_name: format!("{STUDIO_TOWNSHIP}政协委员工作室"),
            kind: pb::StudioKind::Township as i32,
            township: STUDIO_TOWNSHIP.into(),
            establish_date: day(2022, 3, 1),
            ..Default::default()
        },
    )
    .await?;
    let local: Vec<&pb::Member> = roll
        .members
        .iter()
        .map(|(_, m)| m)
        .filter(|m| m.township == STUDIO_TOWNSHIP)
        .take(STUDIO_MEMBERS)
        .collect();
    add_members(&mut o, &hongshan.name, &local).await?;
    for (i, village) in HONGSHAN_VILLAGES.iter().enumerate() {
        let created = o
            .create_studio_liaison(pb::CreateStudioLiaisonRequest {
                parent: hongshan.name.clone(),
                liaison: Some(pb::StudioLiaison {
                    display_name: person(rng),
                    village: (*village).into(),
                    phone: phone(rng),
                    ..Default::default()
                }),
                request_id: request_id(&format!("studio-liaison/{i}")),
            })
            .await;
        created.with_context(|| format!("adding the liaison of {village}"))?;
    }
    activities(&mut o, &hongshan, &local, &[], rng).await?;

    let (sector_index, _) = super::SECTORS
        .iter()
        .enumerate()
        .find(|(_, s)| s.0 == "工商联")
        .context("the 工商联 sector")?;
    let business = create_studio(
        &mut o,
        pb::Studio {
            display_name: "工商联界别委员工作室".into(),
            kind: pb::StudioKind::Sector as i32,
            sector: roll.sectors[sector_index].clone(),
            establish_date: day(2022, 6, 1),
            ..Default::default()
        },
    )
    .await?;
    let sector: Vec<&pb::Member> = roll
        .members
        .iter()
        .filter(|(d, _)| d.sector == sector_index)
        .map(|(_, m)| m)
        .collect();
    add_members(&mut o, &business.name, &sector).await?;
    activities(&mut o, &business, &sector, &[7, 8], rng).await
}

/// A liaison station in each township and six departments, with two
/// informants each.
async fn stations(callers: &Callers, rng: &mut Rng) -> anyhow::Result<()> {
    let mut o = LiaisonNetworkServiceClient::with_interceptor(
        callers.channel.clone(),
        callers.admin.clone(),
    );
    let places = TOWNSHIPS
        .iter()
        .map(|t| (*t, pb::LiaisonStationKind::Township))
        .chain(
            DEPARTMENTS
                .iter()
                .map(|d| (*d, pb::LiaisonStationKind::Department)),
        );
    for (place, kind) in places {
        let station = o
            .create_liaison_station(pb::CreateLiaisonStationRequest {
                parent: format!("committees/{}", super::COMMITTEE),
                liaison_station: Some(pb::LiaisonStation {
                    display_name: format!("{place}社情民意联络站"),
                    kind: kind as i32,
                    location: place.into(),
                    ..Default::default()
                }),
                request_id: request_id(&format!("liaison-station/{place}")),
            })
            .await
            .with_context(|| format!("creating the station of {place}"))?
            .into_inner()
            .liaison_station
            .context("a station in the answer")?;
        let employer = if kind == pb::LiaisonStationKind::Township {
            format!("{place}人民政府")
        } else {
            format!("随县{}", place.trim_start_matches('县'))
        };
        for k in 0..INFORMANTS_PER_STATION {
            o.create_informant(pb::CreateInformantRequest {
                parent: format!("committees/{}", super::COMMITTEE),
                informant: Some(pb::Informant {
                    display_name: person(rng),
                    liaison_station: station.name.clone(),
                    employer: format!("{employer} 办公室"),
                    phone: phone(rng),
                    active: true,
                    ..Default::default()
                }),
                request_id: request_id(&format!("informant/{place}/{k}")),
            })
            .await
            .with_context(|| format!("adding an informant of {place}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_counts() {
        assert_eq!(
            TOWNSHIPS.len() + DEPARTMENTS.len(),
            26,
            "26 liaison stations"
        );
        assert!(
            (TOWNSHIPS.len() + DEPARTMENTS.len()) * INFORMANTS_PER_STATION >= 50,
            "50+ informants"
        );
        let villages: std::collections::HashSet<_> = HONGSHAN_VILLAGES.iter().collect();
        assert_eq!(villages.len(), 25, "25 liaisons, one per village");
    }
}
