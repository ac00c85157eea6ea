//! The duty-record intake: follows other services' event streams
//! (`cppcc.events.v1.EventStreamService/Watch`) and turns their
//! `DutyPerformed` and `DutyWithdrawn` events into duty-record entries.
//!
//! Each response is applied in one transaction together with the cursor
//! after it, so a crash or restart re-reads from the last response applied
//! and nothing is applied twice; an event's credit is also keyed by the
//! event's id, so even a replay from an older cursor records nothing twice.
//! One instance of the service follows a producer at a time (a PostgreSQL
//! advisory lock); the others stand by. An event the intake cannot apply
//! (a member this service does not know, a payload it cannot read) is set
//! aside in `members.parked_event` for the office, never dropped.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::{Message as _, Name as _};
use secrecy::SecretString;
use sqlx::{Connection as _, PgConnection};
use time::OffsetDateTime;
use tokio::sync::watch;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use cppcc_kit::auth::{Actor, AuthArgs, Role, TokenIssuer};
use cppcc_kit::client::Bearer;
use cppcc_kit::convert::{parse_date, timestamp};
use cppcc_kit::db::Database;
use cppcc_kit::error::{ErrorKind, classify_db_error};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, committee_id};
use cppcc_kit::server::stopped;
use cppcc_kit::{BoxError, ServiceError};
use cppcc_proto::events::v1 as events;
use cppcc_proto::members::v1 as pb;
use events::event_stream_service_client::EventStreamServiceClient;

use crate::domain::evaluation::duty_kind;
use crate::domain::member::plausible;
use crate::grpc::{record, record_name};
use crate::store::duty::{self as store, NewRecord, TenureRow};

/// The first pause after a failure; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between attempts while a producer is down.
const LONGEST_PAUSE: Duration = Duration::from_secs(10);
/// How often a standing-by instance tries to take over.
const STANDBY_PAUSE: Duration = Duration::from_secs(5);
/// How long the intake's own tokens live; the stream is reopened with a
/// fresh one when it ends.
const TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// The longest evidence and source kept from an event.
const EVIDENCE_CHARS: usize = 2000;
const SOURCE_CHARS: usize = 300;

/// A service to follow: `name=uri`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Producer {
    /// Its name, which entries record as their source service
    /// (`proposals`).
    pub name: String,
    /// Where its gRPC server listens (`http://proposals:50063`).
    pub uri: String,
}

impl FromStr for Producer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, uri) = text.split_once('=').ok_or_else(|| {
            format!("`{text}` is not `name=uri`, e.g. `proposals=http://proposals:50063`")
        })?;
        let (name, uri) = (name.trim(), uri.trim());
        let good_name = name.len() <= 40
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !good_name || name == store::STAFF {
            return Err(format!(
                "`{name}` is not a producer name: lower-case letters, digits and `-`, at most 40, not `staff`"
            ));
        }
        if !(uri.starts_with("http://") || uri.starts_with("https://"))
            || uri.parse::<tonic::codegen::http::Uri>().is_err()
        {
            return Err(format!("`{uri}` is not an http:// or https:// address"));
        }
        Ok(Producer {
            name: name.to_owned(),
            uri: uri.to_owned(),
        })
    }
}

/// What the intake follows and how it signs in.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct IntakeArgs {
    /// Services whose duty events become duty-record entries, as
    /// `name=uri` (e.g. `proposals=http://proposals:50063`); repeat the
    /// flag or separate with commas.
    #[arg(long = "follow", env = "CPPCC_MEMBERS_FOLLOW", value_delimiter = ',')]
    pub follow: Vec<Producer>,
    /// The Ed25519 private key (PEM text, or a file holding it) the service
    /// signs its own short-lived service tokens with to watch those
    /// services; they must trust its public half (`--jwt-public-key`).
    /// Required with `--follow`.
    #[arg(
        long = "service-key",
        env = "CPPCC_SERVICE_KEY",
        hide_env_values = true
    )]
    pub service_key: Option<SecretString>,
    /// The key id (`kid`) to put in those tokens, if the producers know
    /// their keys by id.
    #[arg(long = "service-key-id", env = "CPPCC_SERVICE_KEY_ID")]
    pub service_key_id: Option<String>,
}

/// What each producer's follower is doing, for `GetDutyRecordIntake`.
#[derive(Clone, Debug, Default)]
pub struct IntakeStatus(Arc<Mutex<Vec<pb::ProducerStatus>>>);

impl IntakeStatus {
    fn add(&self, producer: &Producer) {
        self.0
            .lock()
            .expect("status lock")
            .push(pb::ProducerStatus {
                producer: producer.name.clone(),
                address: producer.uri.clone(),
                state: pb::IntakeState::Connecting.into(),
                ..Default::default()
            });
    }

    fn update(&self, producer: &str, f: impl FnOnce(&mut pb::ProducerStatus)) {
        let mut all = self.0.lock().expect("status lock");
        if let Some(p) = all.iter_mut().find(|p| p.producer == producer) {
            f(p);
        }
    }

    fn state(&self, producer: &str, state: pb::IntakeState) {
        self.update(producer, |p| p.state = state.into());
    }

    fn error(&self, producer: &str, error: &str) {
        self.update(producer, |p| {
            p.last_error = error.to_owned();
            p.last_error_time = Some(timestamp(OffsetDateTime::now_utc()));
        });
    }

    /// Every producer as this instance sees it (the cursor left to the
    /// caller, who reads it from the database).
    pub fn snapshot(&self) -> Vec<pb::ProducerStatus> {
        self.0.lock().expect("status lock").clone()
    }
}

/// The intake, ready to run.
#[derive(Clone)]
pub struct Intake {
    db: Database,
    issuer: Arc<TokenIssuer>,
    producers: Vec<Producer>,
    status: IntakeStatus,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("producers", &self.producers)
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// The intake `args` configure; `None` when it follows nobody. Tokens
    /// are issued for the issuer and audience the service itself trusts.
    pub fn new(
        db: Database,
        args: &IntakeArgs,
        auth: &AuthArgs,
    ) -> Result<Option<Intake>, BoxError> {
        if args.follow.is_empty() {
            return Ok(None);
        }
        let mut names: Vec<&str> = args.follow.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("--follow names `{}` twice", w[0]).into());
        }
        let key = args.service_key.as_ref().ok_or(
            "--follow needs --service-key (CPPCC_SERVICE_KEY) to sign the tokens it watches with",
        )?;
        let issuer = TokenIssuer::for_service(key, args.service_key_id.clone(), auth)?;
        let status = IntakeStatus::default();
        args.follow.iter().for_each(|p| status.add(p));
        Ok(Some(Intake {
            db,
            issuer: Arc::new(issuer),
            producers: args.follow.clone(),
            status,
        }))
    }

    /// Where each follower stands.
    pub fn status(&self) -> IntakeStatus {
        self.status.clone()
    }

    /// Follows every producer until `stop` turns true. Dropping the future
    /// (the server failed) stops the followers too.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let mut followers = tokio::task::JoinSet::new();
        for p in &self.producers {
            followers.spawn(follow(self.clone(), p.clone(), stop.clone()));
        }
        while followers.join_next().await.is_some() {}
    }
}

/// How a session with a producer ended.
enum Ended {
    /// The service is shutting down.
    Stopped,
    /// The stream ended or failed; `progressed` if anything was applied.
    Broken {
        progressed: bool,
        error: Option<String>,
    },
}

impl Ended {
    fn broken(progressed: bool, error: String) -> Ended {
        Ended::Broken {
            progressed,
            error: Some(error),
        }
    }
}

/// Follows one producer: takes the lead, opens the stream, applies what
/// comes, and starts again after a pause when anything fails.
async fn follow(intake: Intake, producer: Producer, mut stop: watch::Receiver<bool>) {
    let status = &intake.status;
    let name = producer.name.as_str();
    let channel = match cppcc_kit::client::channel(&producer.uri) {
        Ok(c) => c,
        Err(e) => {
            status.error(name, &format!("bad address: {e}"));
            status.state(name, pb::IntakeState::Stopped);
            return;
        }
    };
    let mut lead = Lead::new(name);
    let mut pause = FIRST_PAUSE;
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match lead.take(&intake.db).await {
            Ok(true) => {
                status.state(name, pb::IntakeState::Connecting);
                let ended = session(&intake, &producer, &channel, &mut lead, &mut stop).await;
                lead.release().await;
                match ended {
                    Ended::Stopped => break,
                    Ended::Broken { progressed, error } => {
                        if progressed {
                            pause = FIRST_PAUSE;
                        }
                        if let Some(error) = error {
                            tracing::warn!(producer = name, error = %error, retry_in = ?pause, "duty intake interrupted");
                            status.error(name, &error);
                        }
                        status.state(name, pb::IntakeState::Retrying);
                        let wait = pause;
                        pause = (pause * 2).min(LONGEST_PAUSE);
                        wait
                    }
                }
            }
            Ok(false) => {
                status.state(name, pb::IntakeState::Standby);
                STANDBY_PAUSE
            }
            Err(e) => {
                let error = format!("the database: {e}");
                tracing::warn!(producer = name, error = %error, "duty intake cannot take the lead");
                status.error(name, &error);
                status.state(name, pb::IntakeState::Retrying);
                let wait = pause;
                pause = (pause * 2).min(LONGEST_PAUSE);
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut stop) => break,
        }
    }
    lead.close().await;
    status.state(name, pb::IntakeState::Stopped);
}

/// The lead on one producer: a session advisory lock, held on a connection
/// of its own (outside the pool) that is kept between attempts.
struct Lead {
    producer: String,
    conn: Option<PgConnection>,
}

/// How long a call on the lead's connection may take before the
/// connection is taken for dead (a half-open connection after a network
/// failure answers never).
const LEAD_TIMEOUT: Duration = Duration::from_secs(5);

impl Lead {
    fn new(producer: &str) -> Lead {
        Lead {
            producer: producer.to_owned(),
            conn: None,
        }
    }

    /// Takes the lead if no other instance holds it.
    async fn take(&mut self, db: &Database) -> Result<bool, sqlx::Error> {
        let attempt = async {
            let conn = match &mut self.conn {
                Some(conn) => conn,
                None => self
                    .conn
                    .insert(PgConnection::connect_with(&db.pool().connect_options()).await?),
            };
            sqlx::query_scalar!(
                r#"SELECT pg_try_advisory_lock(hashtext('members.intake'), hashtext($1)) AS "led!""#,
                self.producer
            )
            .fetch_one(conn)
            .await
        };
        let led = tokio::time::timeout(LEAD_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut));
        if led.is_err() {
            self.conn = None;
        }
        led
    }

    /// Whether the lead is still held (its connection answers in time).
    async fn alive(&mut self) -> bool {
        let Some(conn) = &mut self.conn else {
            return false;
        };
        if matches!(
            tokio::time::timeout(LEAD_TIMEOUT, conn.ping()).await,
            Ok(Ok(()))
        ) {
            return true;
        }
        self.conn = None;
        false
    }

    /// Gives up the lead, keeping the connection for the next attempt.
    async fn release(&mut self) {
        let Some(conn) = &mut self.conn else {
            return;
        };
        let released = sqlx::query_scalar!(
            r#"SELECT pg_advisory_unlock(hashtext('members.intake'), hashtext($1)) AS "released!""#,
            self.producer
        )
        .fetch_one(conn);
        if !matches!(
            tokio::time::timeout(LEAD_TIMEOUT, released).await,
            Ok(Ok(_))
        ) {
            // Dropping the connection gives the lock up as well.
            self.conn = None;
        }
    }

    async fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(LEAD_TIMEOUT, conn.close()).await;
        }
    }
}

/// How often a following instance checks that it still holds the lead.
const LEAD_CHECK: Duration = Duration::from_secs(30);

/// One stream from a producer, from the stored cursor on.
async fn session(
    intake: &Intake,
    producer: &Producer,
    channel: &Channel,
    lead: &mut Lead,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let name = producer.name.as_str();
    let cursor = match intake.db.pool().acquire().await {
        Ok(mut conn) => store::cursor(&mut conn, name).await,
        Err(e) => Err(e),
    };
    let mut cursor = match cursor {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return Ended::broken(false, format!("the database: {e}")),
    };
    let token = intake.issuer.service_token("cppcc-members", TOKEN_TTL);
    let mut client =
        EventStreamServiceClient::with_interceptor(channel.clone(), Bearer::new(&token));
    let request = events::WatchRequest {
        after_cursor: cursor.clone(),
        types: vec![
            events::DutyPerformed::full_name(),
            events::DutyWithdrawn::full_name(),
        ],
    };
    let opened = tokio::select! {
        r = client.watch(request) => r,
        _ = stopped(stop) => return Ended::Stopped,
    };
    let mut stream = match opened {
        Ok(s) => s.into_inner(),
        Err(s) if is_cursor_expired(&s) => {
            return restart_after_gap(intake, name, &cursor, &s).await;
        }
        Err(s) => return Ended::broken(false, format!("{name}: {} {}", s.code(), s.message())),
    };
    intake.status.state(name, pb::IntakeState::Following);
    let actor = Actor::internal("cppcc-members", &format!("intake/{name}"));
    let mut progressed = false;
    let mut check = tokio::time::interval(LEAD_CHECK);
    check.tick().await;
    loop {
        let message = tokio::select! {
            m = stream.message() => m,
            _ = check.tick() => {
                if lead.alive().await {
                    continue;
                }
                return Ended::broken(progressed, "lost the lead: its database connection failed".to_owned());
            }
            _ = stopped(stop) => return Ended::Stopped,
        };
        let response = match message {
            Ok(Some(r)) => r,
            // The producer closed the stream, or the token ran out (the
            // stream was open, so it was good): open it again.
            Ok(None) => {
                return Ended::Broken {
                    progressed,
                    error: None,
                };
            }
            Err(s) if s.code() == Code::Unauthenticated => {
                return Ended::Broken {
                    progressed,
                    error: None,
                };
            }
            Err(s) => {
                return Ended::broken(progressed, format!("{name}: {} {}", s.code(), s.message()));
            }
        };
        if response.cursor == cursor {
            continue;
        }
        match apply(&intake.db, &actor, name, &cursor, &response).await {
            Ok(Applied::Done { events, parked }) => {
                progressed = true;
                cursor = response.cursor;
                intake.status.update(name, |p| {
                    p.applied_events += events;
                    p.parked_events += parked;
                });
            }
            Ok(Applied::Moved) => {
                return Ended::broken(
                    progressed,
                    "another instance moved the cursor; reading it again".to_owned(),
                );
            }
            Err(e) => return Ended::broken(progressed, format!("applying events: {}", cause(&e))),
        }
    }
}

fn is_cursor_expired(status: &tonic::Status) -> bool {
    status.code() == Code::FailedPrecondition
        && status
            .get_details_precondition_failure()
            .is_some_and(|p| p.violations.iter().any(|v| v.r#type == "CURSOR_EXPIRED"))
}

/// The producer no longer has the events after our cursor (we were away
/// longer than its outbox retention). They cannot be read again: say so
/// loudly, and go on from the oldest event it has (events applied before
/// are not applied twice).
async fn restart_after_gap(
    intake: &Intake,
    producer: &str,
    cursor: &str,
    status: &tonic::Status,
) -> Ended {
    let error = format!(
        "{producer} no longer has the events after cursor {cursor} ({}); they were not applied. \
         Resuming from its oldest event: check the duty records of that period by hand",
        status.message()
    );
    tracing::error!(producer, cursor, "{error}");
    let reset = async {
        let mut conn = intake.db.pool().acquire().await?;
        store::reset_cursor(&mut conn, producer, cursor).await
    };
    match reset.await {
        Ok(()) => Ended::broken(false, error),
        Err(e) => Ended::broken(false, format!("{error}; resetting the cursor failed: {e}")),
    }
}

/// What applying a response did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Events applied for the first time, and of them set aside.
    Done { events: i64, parked: i64 },
    /// Another instance moved the cursor first; nothing was applied.
    Moved,
}

/// An event read, or why it cannot be.
enum Read {
    Performed {
        committee: String,
        members: Vec<Uuid>,
        kind: i16,
        day: time::Date,
        evidence: String,
        source: String,
    },
    Withdrawn {
        committee: String,
        members: Vec<Uuid>,
        kind: i16,
        source: String,
        reason: String,
    },
}

/// Text from an event as it may be stored: trimmed, without control
/// characters (PostgreSQL refuses NUL), at most `chars` long.
fn clean(text: &str, chars: usize) -> String {
    text.trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(chars)
        .collect()
}

/// An event's id: its own when it is a UUID (the kit's always are), else
/// one derived from it, so the same event always has the same id.
fn event_id(producer: &str, event: &events::Event) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x3c4e_91d2_5a7b_4f60_8e13_b2a9_0d6c_7f45);
    Uuid::try_parse(&event.id)
        .unwrap_or_else(|_| Uuid::new_v5(&NAMESPACE, format!("{producer}/{}", event.id).as_bytes()))
}

/// Reads an event's payload; the members are checked against the event's
/// committee later.
fn read(event: &events::Event, today: time::Date) -> Result<Read, String> {
    let committee = committee_id(&event.committee)
        .ok_or_else(|| format!("`{}` is not a committee name", clean(&event.committee, 100)))?
        .to_owned();
    let payload = event
        .payload
        .as_ref()
        .map(|a| a.value.as_slice())
        .unwrap_or_default();
    let members = |names: &[String]| -> Result<Vec<Uuid>, String> {
        if names.is_empty() {
            return Err("names no member".to_owned());
        }
        names
            .iter()
            .map(|n| match ChildName::parse(n, "members") {
                Some(m) if m.committee == committee => Ok(m.id),
                Some(_) => Err(format!(
                    "{n} is not of the event's committee {}",
                    event.committee
                )),
                None => Err(format!("`{}` is not a member name", clean(n, 200))),
            })
            .collect()
    };
    let kind = |n: i32| {
        duty_kind(n)
            .map(|k| k as i16)
            .ok_or_else(|| format!("{n} is not a DutyKind"))
    };
    if event.r#type == events::DutyPerformed::full_name() {
        let p = events::DutyPerformed::decode(payload)
            .map_err(|e| format!("unreadable DutyPerformed: {e}"))?;
        // A day of the CPPCC, not after tomorrow (the producer's clock may
        // be a little ahead).
        let day = match parse_date("date", p.date.as_ref()) {
            Ok(Some(d)) if plausible(d, today) && d <= today + time::Duration::days(1) => d,
            Ok(Some(d)) => return Err(format!("date {d} is not a day of the CPPCC up to today")),
            Ok(None) => return Err("has no date".to_owned()),
            Err(e) => return Err(e.message().to_owned()),
        };
        Ok(Read::Performed {
            members: members(&p.members)?,
            committee,
            kind: kind(p.kind)?,
            day,
            evidence: clean(&p.evidence, EVIDENCE_CHARS),
            source: clean(&p.source, SOURCE_CHARS),
        })
    } else if event.r#type == events::DutyWithdrawn::full_name() {
        let w = events::DutyWithdrawn::decode(payload)
            .map_err(|e| format!("unreadable DutyWithdrawn: {e}"))?;
        let source = clean(&w.source, SOURCE_CHARS);
        if source.is_empty() {
            return Err("withdraws a credit without naming its source".to_owned());
        }
        Ok(Read::Withdrawn {
            members: members(&w.members)?,
            committee,
            kind: kind(w.kind)?,
            source,
            reason: clean(&w.reason, 500),
        })
    } else {
        Err(format!(
            "the intake does not apply {} events",
            clean(&event.r#type, 200)
        ))
    }
}

/// Entries (one per member an event names) a transaction writes at most:
/// a response of events naming many members each is applied in several.
const MAX_CHUNK_ENTRIES: usize = 2000;

/// The response's events in chunks of at most `max` entries (an event is
/// never split); at least one chunk, perhaps empty (a heartbeat).
fn chunks(
    events: &[events::Event],
    max: usize,
    entries: impl Fn(&events::Event) -> usize,
) -> Vec<&[events::Event]> {
    let mut out = Vec::new();
    let (mut start, mut weight) = (0, 0);
    for (i, e) in events.iter().enumerate() {
        let w = entries(e).max(1);
        if i > start && weight + w > max {
            out.push(&events[start..i]);
            (start, weight) = (i, 0);
        }
        weight += w;
    }
    out.push(&events[start..]);
    out
}

/// How many entries an event may write: one per member it names.
fn entries_of(event: &events::Event) -> usize {
    let payload = event
        .payload
        .as_ref()
        .map(|a| a.value.as_slice())
        .unwrap_or_default();
    if event.r#type == events::DutyPerformed::full_name() {
        events::DutyPerformed::decode(payload).map_or(1, |p| p.members.len())
    } else if event.r#type == events::DutyWithdrawn::full_name() {
        events::DutyWithdrawn::decode(payload).map_or(1, |w| w.members.len())
    } else {
        1
    }
}

/// Applies one response and moves the cursor to the one after it. A
/// response is one transaction, or several when its events name many
/// members; the cursor moves with the last, and events taken by the
/// earlier ones are not taken again if the last fails.
pub async fn apply(
    db: &Database,
    actor: &Actor,
    producer: &str,
    from: &str,
    response: &events::WatchResponse,
) -> Result<Applied, ServiceError> {
    let chunks = chunks(&response.events, MAX_CHUNK_ENTRIES, entries_of);
    let (mut events, mut parked) = (0, 0);
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let cursor = (i == last).then_some((from, response.cursor.as_str()));
        match apply_chunk(db, actor, producer, chunk, cursor).await? {
            Applied::Done {
                events: e,
                parked: p,
            } => {
                events += e;
                parked += p;
            }
            Applied::Moved => return Ok(Applied::Moved),
        }
    }
    Ok(Applied::Done { events, parked })
}

/// Applies events in one transaction, moving the cursor if given. Should
/// they fail together (an event the database refuses), they are applied
/// one by one, each behind a savepoint, and the one the database refuses
/// for its data is set aside with the reason, so one bad event never stops
/// the intake.
async fn apply_chunk(
    db: &Database,
    actor: &Actor,
    producer: &str,
    events: &[events::Event],
    cursor: Option<(&str, &str)>,
) -> Result<Applied, ServiceError> {
    match apply_events(db, actor, producer, events, cursor, false).await {
        Ok(applied) => Ok(applied),
        Err(e) => {
            tracing::warn!(
                producer,
                error = cause(&e),
                "applying events together failed; applying them one by one"
            );
            apply_events(db, actor, producer, events, cursor, true).await
        }
    }
}

/// Whether an error is the database refusing an event's data (so setting
/// the event aside is right), rather than the database failing (so the
/// events are tried again later): a data or constraint error, or a
/// trigger's refusal.
fn refused_for_its_data(e: &ServiceError) -> bool {
    let source = std::error::Error::source(e).and_then(|s| s.downcast_ref::<sqlx::Error>());
    match source {
        Some(sqlx::Error::Database(db)) => db
            .code()
            .is_some_and(|c| c.starts_with("22") || c.starts_with("23") || c.starts_with("P0")),
        Some(_) => false,
        None => !matches!(
            e.kind(),
            ErrorKind::Unavailable
                | ErrorKind::Aborted
                | ErrorKind::DeadlineExceeded
                | ErrorKind::Internal
        ),
    }
}

/// The intake's view of one response being applied.
struct Batch<'a> {
    producer: &'a str,
    /// Each member the events name that this service has: its committee
    /// and when it was in office.
    known: HashMap<Uuid, TenureRow>,
    /// Entries waiting to be written.
    pending: Vec<NewRecord>,
    /// Entries written, to audit and publish.
    written: Vec<NewRecord>,
}

async fn apply_events(
    db: &Database,
    actor: &Actor,
    producer: &str,
    events: &[events::Event],
    cursor: Option<(&str, &str)>,
    one_by_one: bool,
) -> Result<Applied, ServiceError> {
    let today = db.today();
    let mut change = db.change(actor).await?;
    if let Some((from, to)) = cursor
        && !store::advance_cursor(change.conn(), producer, from, to)
            .await
            .map_err(classify_db_error)?
    {
        return Ok(Applied::Moved);
    }
    // Each event once, whatever it did the first time.
    let ids: Vec<Uuid> = events.iter().map(|e| event_id(producer, e)).collect();
    let first_time: HashSet<Uuid> = store::claim_events(change.conn(), producer, &ids)
        .await
        .map_err(classify_db_error)?
        .into_iter()
        .collect();
    let events: Vec<(&events::Event, Uuid, Result<Read, String>)> = events
        .iter()
        .zip(ids)
        .filter(|(_, id)| first_time.contains(id))
        .map(|(e, id)| (e, id, read(e, today)))
        .collect();
    let mut wanted: Vec<Uuid> = events
        .iter()
        .flat_map(|(_, _, r)| match r {
            Ok(Read::Performed { members, .. } | Read::Withdrawn { members, .. }) => {
                members.clone()
            }
            Err(_) => Vec::new(),
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut batch = Batch {
        producer,
        known: store::member_tenures(change.conn(), &wanted)
            .await
            .map_err(classify_db_error)?
            .into_iter()
            .map(|t| (t.id, t))
            .collect(),
        pending: Vec::new(),
        written: Vec::new(),
    };
    let mut parked = 0;
    for (event, id, read) in events {
        let read = match read {
            Ok(r) => r,
            Err(reason) => {
                parked += park(change.conn(), producer, event, id, &reason).await?;
                continue;
            }
        };
        if !one_by_one {
            parked += batch.apply(change.conn(), event, id, read).await?;
            continue;
        }
        let mut savepoint = sqlx::Connection::begin(change.conn())
            .await
            .map_err(classify_db_error)?;
        let outcome = match batch.apply(&mut savepoint, event, id, read).await {
            Ok(n) => batch.flush(&mut savepoint).await.map(|()| n),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(n) => {
                savepoint.commit().await.map_err(classify_db_error)?;
                parked += n;
            }
            // The database failed, not the event: try them all again later.
            Err(e) if !refused_for_its_data(&e) => return Err(e),
            Err(e) => {
                savepoint.rollback().await.map_err(classify_db_error)?;
                batch.pending.clear();
                parked += park(
                    change.conn(),
                    producer,
                    event,
                    id,
                    &format!("refused: {}", cause(&e)),
                )
                .await?;
            }
        }
    }
    batch.flush(change.conn()).await?;
    let now = OffsetDateTime::now_utc();
    for r in batch.written.drain(..) {
        let entry = record(&r.row(now));
        let name = record_name(&r.committee, r.member, r.id);
        change.audit(&r.committee, &name, None, Some(to_json(&entry)));
        change.publish(
            &r.committee,
            &name,
            &pb::DutyRecordAdded {
                duty_record: Some(entry),
            },
        );
    }
    change.commit().await?;
    Ok(Applied::Done {
        events: first_time.len() as i64,
        parked,
    })
}

impl Batch<'_> {
    /// Applies one event read; 1 if it was set aside (in part).
    async fn apply(
        &mut self,
        conn: &mut PgConnection,
        event: &events::Event,
        id: Uuid,
        read: Read,
    ) -> Result<i64, ServiceError> {
        let role = Role::Service.to_proto() as i16;
        let recorded_by = clean(&event.actor, 200);
        match read {
            Read::Performed {
                committee,
                members,
                kind,
                day,
                evidence,
                source,
            } => {
                let (found, unknown) = sort_members(&self.known, &committee, members);
                // Credit only for days in office (as the office may record).
                let (found, out): (Vec<Uuid>, Vec<Uuid>) = found.into_iter().partition(|m| {
                    self.known
                        .get(m)
                        .is_some_and(|t| t.in_office_on(day).is_ok())
                });
                let not_serving: Vec<String> = out
                    .into_iter()
                    .map(|m| ChildName::format(&committee, "members", m))
                    .collect();
                for member in found {
                    self.pending.push(NewRecord {
                        id: Uuid::now_v7(),
                        committee: committee.clone(),
                        member,
                        kind,
                        occurred_on: day,
                        evidence: evidence.clone(),
                        source_service: self.producer.to_owned(),
                        source_event: Some(id),
                        source: source.clone(),
                        reverses: None,
                        recorded_by: recorded_by.clone(),
                        recorded_role: role,
                        reason: String::new(),
                    });
                }
                let mut reasons = Vec::new();
                if !unknown.is_empty() {
                    reasons.push(format!(
                        "credits members this service does not have: {}",
                        unknown.join(", ")
                    ));
                }
                if !not_serving.is_empty() {
                    reasons.push(format!(
                        "credits members not in office on {day}: {}",
                        not_serving.join(", ")
                    ));
                }
                if reasons.is_empty() {
                    return Ok(0);
                }
                park(conn, self.producer, event, id, &reasons.join("; ")).await
            }
            Read::Withdrawn {
                committee,
                members,
                kind,
                source,
                reason,
            } => {
                // Credits made earlier in this response must be in place first.
                self.flush(conn).await?;
                let (found, unknown) = sort_members(&self.known, &committee, members);
                let credited =
                    store::credited(conn, &committee, self.producer, &found, kind, &source)
                        .await
                        .map_err(classify_db_error)?;
                for c in credited {
                    self.pending.push(NewRecord {
                        id: Uuid::now_v7(),
                        committee: committee.clone(),
                        member: c.member_id,
                        kind,
                        occurred_on: c.occurred_on,
                        evidence: c.evidence,
                        source_service: self.producer.to_owned(),
                        source_event: Some(id),
                        source: c.source,
                        reverses: Some(c.id),
                        recorded_by: recorded_by.clone(),
                        recorded_role: role,
                        reason: reason.clone(),
                    });
                }
                if unknown.is_empty() {
                    return Ok(0);
                }
                let reason = format!(
                    "withdraws credit of members this service does not have: {}",
                    unknown.join(", ")
                );
                park(conn, self.producer, event, id, &reason).await
            }
        }
    }

    /// Writes the pending entries; those written wait to be audited.
    async fn flush(&mut self, conn: &mut PgConnection) -> Result<(), ServiceError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let inserted: HashSet<Uuid> = store::insert_many(conn, &self.pending)
            .await
            .map_err(classify_db_error)?
            .into_iter()
            .collect();
        self.written
            .extend(self.pending.drain(..).filter(|r| inserted.contains(&r.id)));
        Ok(())
    }
}

/// An error with its cause, for the office (parked events) and the logs.
fn cause(e: &ServiceError) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{}: {source}", e.message()),
        None => e.message().to_owned(),
    }
}

/// The members of the committee this service knows, and the names of the
/// rest.
fn sort_members(
    known: &HashMap<Uuid, TenureRow>,
    committee: &str,
    members: Vec<Uuid>,
) -> (Vec<Uuid>, Vec<String>) {
    let (found, unknown): (Vec<Uuid>, Vec<Uuid>) = members
        .into_iter()
        .partition(|m| known.get(m).is_some_and(|t| t.committee_id == committee));
    let unknown = unknown
        .into_iter()
        .map(|m| ChildName::format(committee, "members", m))
        .collect();
    (found, unknown)
}

/// Sets an event aside; 1 if it was not set aside before.
async fn park(
    conn: &mut PgConnection,
    producer: &str,
    event: &events::Event,
    id: Uuid,
    reason: &str,
) -> Result<i64, ServiceError> {
    tracing::warn!(producer, event = %event.id, reason, "duty event set aside");
    let committee = committee_id(&event.committee)
        .map(str::to_owned)
        .unwrap_or_else(|| clean(&event.committee, 100));
    let payload = event
        .payload
        .as_ref()
        .map(|a| a.value.as_slice())
        .unwrap_or_default();
    let new = store::park(
        conn,
        producer,
        id,
        &clean(&event.r#type, 200),
        &committee,
        payload,
        &clean(reason, 2000),
    )
    .await
    .map_err(classify_db_error)?;
    Ok(i64::from(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producers_parse() {
        let p: Producer = "proposals=http://127.0.0.1:50063".parse().unwrap();
        assert_eq!(p.name, "proposals");
        assert_eq!(p.uri, "http://127.0.0.1:50063");
        for bad in [
            "proposals",
            "Proposals=http://x",
            "staff=http://x",
            "p=ftp://x",
            "=http://x",
            "p=http://",
        ] {
            assert!(bad.parse::<Producer>().is_err(), "{bad}");
        }
    }

    fn tenure(id: Uuid, committee: &str) -> TenureRow {
        TenureRow {
            id,
            committee_id: committee.to_owned(),
            status: 1,
            join_date: None,
            left_on: None,
        }
    }

    #[test]
    fn members_sort_by_committee() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let known = HashMap::from([(a, tenure(a, "suixian")), (b, tenure(b, "suizhou"))]);
        let (found, unknown) = sort_members(&known, "suixian", vec![a, b, c]);
        assert_eq!(found, [a]);
        assert_eq!(unknown.len(), 2);
        assert!(unknown[0].ends_with(&b.to_string()));
    }

    #[test]
    fn responses_are_cut_into_chunks_of_whole_events() {
        let events: Vec<events::Event> = (0..5)
            .map(|n| events::Event {
                id: n.to_string(),
                ..Default::default()
            })
            .collect();
        let weight = |e: &events::Event| if e.id == "2" { 7 } else { 2 };
        let sizes: Vec<usize> = chunks(&events, 4, weight).iter().map(|c| c.len()).collect();
        // 2+2 | 7 (alone, though over) | 2+2
        assert_eq!(sizes, [2, 1, 2]);
        assert_eq!(
            chunks(&[], 4, weight).len(),
            1,
            "a heartbeat is one empty chunk"
        );
    }
}
