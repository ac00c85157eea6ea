-- Opinions (社情民意信息): reports and their review, bulletin issues,
-- forwards to the parent committee and the parent's inbox, units'
-- handling and its follow-up, leaders' instructions, the staff quota
-- roster, and the outbox of deliveries to other deployments. Committees,
-- members, informants and stations live in the members service; here they
-- are ids.

CREATE COLLATION opinions.zh_pinyin (provider = icu, locale = 'zh-u-co-pinyin');

-- Staff who owe reports each month.
CREATE TABLE opinions.staff (
    id            uuid PRIMARY KEY,
    committee_id  text NOT NULL,
    display_name  text NOT NULL,
    unit          text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_committee ON opinions.staff (committee_id);

-- Review states are the ReviewState numbers, categories the
-- OpinionCategory numbers, contributor kinds the ContributorKind numbers.
CREATE TABLE opinions.report (
    id                uuid PRIMARY KEY,
    committee_id      text NOT NULL,
    title             text NOT NULL,
    content           text NOT NULL,
    category          smallint NOT NULL CHECK (category BETWEEN 1 AND 9),
    contributor_kind  smallint NOT NULL CHECK (contributor_kind BETWEEN 1 AND 3),
    member_id         uuid,
    informant_id      uuid,
    staff_id          uuid REFERENCES opinions.staff (id),
    contributor_name  text NOT NULL,
    station_id        uuid,
    township          text NOT NULL DEFAULT '',
    submit_day        date NOT NULL,
    source_proposal   uuid,
    review_state      smallint NOT NULL CHECK (review_state BETWEEN 1 AND 4),
    review_reason     text NOT NULL DEFAULT '',
    review_day        date,
    original_title    text,
    original_content  text,
    -- [{leader_name, leader_title, text, date}]
    instructions      jsonb NOT NULL DEFAULT '[]',
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    CHECK ((contributor_kind = 1) = (member_id IS NOT NULL)),
    CHECK ((contributor_kind = 2) = (informant_id IS NOT NULL)),
    CHECK ((contributor_kind = 3) = (staff_id IS NOT NULL)),
    CHECK (review_state < 3 OR review_day IS NOT NULL)
);
CREATE INDEX report_committee_day ON opinions.report (committee_id, submit_day);
CREATE UNIQUE INDEX report_proposal_key ON opinions.report (committee_id, source_proposal)
    WHERE source_proposal IS NOT NULL;

-- Bulletin kinds are the BulletinKind numbers; numbers run per year and kind.
CREATE TABLE opinions.bulletin (
    id            uuid PRIMARY KEY,
    committee_id  text NOT NULL,
    kind          smallint NOT NULL CHECK (kind BETWEEN 1 AND 2),
    year          smallint NOT NULL,
    number        smallint NOT NULL CHECK (number >= 1),
    title         text NOT NULL,
    issue_day     date NOT NULL,
    UNIQUE (committee_id, kind, year, number)
);

CREATE TABLE opinions.bulletin_report (
    bulletin_id  uuid NOT NULL REFERENCES opinions.bulletin (id),
    report_id    uuid NOT NULL REFERENCES opinions.report (id),
    position     smallint NOT NULL,
    PRIMARY KEY (bulletin_id, report_id)
);
CREATE INDEX bulletin_report_report ON opinions.bulletin_report (report_id);

-- Forward states are the ForwardState numbers.
CREATE TABLE opinions.forward (
    id               uuid PRIMARY KEY,
    committee_id     text NOT NULL,
    report_id        uuid NOT NULL REFERENCES opinions.report (id),
    target           text NOT NULL,
    state            smallint NOT NULL CHECK (state BETWEEN 1 AND 4),
    forward_day      date NOT NULL,
    decision_day     date,
    decision_note    text NOT NULL DEFAULT '',
    failed_attempts  integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT ''
);
CREATE INDEX forward_report ON opinions.forward (report_id);
-- One forward of a report to a committee that is still open or adopted.
CREATE UNIQUE INDEX forward_open_key ON opinions.forward (report_id, target) WHERE state <> 4;

-- Handling states are the HandlingState numbers.
CREATE TABLE opinions.handling (
    id             uuid PRIMARY KEY,
    committee_id   text NOT NULL,
    report_id      uuid NOT NULL REFERENCES opinions.report (id),
    unit_id        uuid NOT NULL,
    unit_name      text NOT NULL,
    state          smallint NOT NULL CHECK (state BETWEEN 1 AND 3),
    send_day       date NOT NULL,
    feedback       text NOT NULL DEFAULT '',
    feedback_day   date,
    -- [{note, date, actor}]
    follow_ups     jsonb NOT NULL DEFAULT '[]',
    close_day      date,
    UNIQUE (report_id, unit_id)
);

-- Reports forwarded to a committee served here, by forward id (so the
-- same forward arriving twice is one row). States are the InboxState
-- numbers.
CREATE TABLE opinions.inbox (
    id                  uuid PRIMARY KEY,
    committee_id        text NOT NULL,
    source_committee    text NOT NULL,
    source_report       uuid NOT NULL,
    title               text NOT NULL,
    content             text NOT NULL,
    category            smallint NOT NULL,
    contributor_name    text NOT NULL,
    forward_day         date NOT NULL,
    state               smallint NOT NULL CHECK (state BETWEEN 1 AND 3),
    decision_note       text NOT NULL DEFAULT '',
    decision_day        date,
    decision_delivered  boolean NOT NULL DEFAULT false,
    receive_time        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_committee ON opinions.inbox (committee_id, receive_time);

-- Calls owed to another deployment (a forward to a remote parent, a
-- decision back to a remote child), sent by the delivery worker until one
-- succeeds. `payload` is the request message, encoded.
CREATE TABLE opinions.delivery (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('forward', 'decision')),
    -- The committee calling (its token's committee) and the one called.
    sender          text NOT NULL,
    target          text NOT NULL,
    forward_id      uuid NOT NULL,
    payload         bytea NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt    timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '',
    delivered_time  timestamptz,
    create_time     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_due ON opinions.delivery (next_attempt) WHERE delivered_time IS NULL;
