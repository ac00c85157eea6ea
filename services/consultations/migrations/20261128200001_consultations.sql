-- Consultations (协商): the annual plan and its versions, platforms,
-- activities and their eight steps, participants, opinions and problems,
-- results and their feedback, and 《建言资政》 issues. Committees and
-- members live in the members service; here they are ids.

CREATE COLLATION consultations.zh_pinyin (provider = icu, locale = 'zh-u-co-pinyin');

-- A committee's days for results after a meeting, and for a research report.
CREATE TABLE consultations.settings (
    committee_id  text PRIMARY KEY,
    result_days   smallint NOT NULL CHECK (result_days BETWEEN 1 AND 60),
    report_days   smallint NOT NULL CHECK (report_days BETWEEN 1 AND 60)
);

-- States are the PlanState numbers; items are copied into each version.
CREATE TABLE consultations.plan_version (
    committee_id  text NOT NULL,
    year          smallint NOT NULL,
    version       smallint NOT NULL CHECK (version >= 1),
    state         smallint NOT NULL CHECK (state BETWEEN 1 AND 5),
    -- [{actor, role, time, reason, step}]
    steps         jsonb NOT NULL DEFAULT '[]',
    update_time   timestamptz NOT NULL DEFAULT now(),
    revision      bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (committee_id, year, version)
);
-- One version in force (approved) and one open (draft, submitted or returned) at a time.
CREATE UNIQUE INDEX plan_in_force_key ON consultations.plan_version (committee_id, year) WHERE state = 3;
CREATE UNIQUE INDEX plan_open_key ON consultations.plan_version (committee_id, year) WHERE state IN (1, 2, 4);

CREATE TABLE consultations.plan_item (
    committee_id  text NOT NULL,
    year          smallint NOT NULL,
    version       smallint NOT NULL,
    id            uuid NOT NULL,
    position      smallint NOT NULL,
    topic         text NOT NULL,
    kind          smallint NOT NULL CHECK (kind BETWEEN 1 AND 7),
    lead_body     text NOT NULL,
    quarter       smallint NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    departments   text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (committee_id, year, version, id),
    FOREIGN KEY (committee_id, year, version) REFERENCES consultations.plan_version (committee_id, year, version)
);

CREATE TABLE consultations.platform (
    id            uuid PRIMARY KEY,
    committee_id  text NOT NULL,
    display_name  text NOT NULL,
    level         smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    township      text NOT NULL DEFAULT '',
    convener      text NOT NULL DEFAULT '',
    venue         text NOT NULL DEFAULT '',
    has_sign      boolean NOT NULL DEFAULT false,
    content       text NOT NULL DEFAULT '',
    has_archives  boolean NOT NULL DEFAULT false,
    allotted_fen  bigint NOT NULL DEFAULT 0 CHECK (allotted_fen >= 0),
    spent_fen     bigint NOT NULL DEFAULT 0 CHECK (spent_fen >= 0),
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    revision      bigint NOT NULL DEFAULT 1,
    UNIQUE (committee_id, display_name),
    UNIQUE (committee_id, id)
);

-- Kinds and formats are the ActivityKind and ActivityFormat numbers.
CREATE TABLE consultations.activity (
    id              uuid PRIMARY KEY,
    committee_id    text NOT NULL,
    kind            smallint NOT NULL CHECK (kind BETWEEN 1 AND 7),
    format          smallint NOT NULL CHECK (format BETWEEN 1 AND 6),
    topic           text NOT NULL,
    platform_id     uuid,
    plan_item       uuid,
    day             date NOT NULL,
    official_count  integer NOT NULL DEFAULT 0 CHECK (official_count >= 0),
    resident_count  integer NOT NULL DEFAULT 0 CHECK (resident_count >= 0),
    step            smallint NOT NULL DEFAULT 1 CHECK (step BETWEEN 1 AND 8),
    meeting_day     date,
    results_due     date,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now(),
    revision        bigint NOT NULL DEFAULT 1,
    FOREIGN KEY (committee_id, platform_id) REFERENCES consultations.platform (committee_id, id)
);
CREATE INDEX activity_committee_idx ON consultations.activity (committee_id, day);

CREATE TABLE consultations.activity_step (
    activity_id  uuid NOT NULL REFERENCES consultations.activity (id),
    number       smallint NOT NULL CHECK (number BETWEEN 1 AND 8),
    documents    text[] NOT NULL DEFAULT '{}',
    note         text NOT NULL DEFAULT '',
    actor        text NOT NULL,
    actor_role   smallint NOT NULL,
    time         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (activity_id, number)
);

CREATE TABLE consultations.participant (
    activity_id   uuid NOT NULL REFERENCES consultations.activity (id),
    member_id     uuid NOT NULL,
    display_name  text NOT NULL,
    add_time      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (activity_id, member_id)
);

CREATE TABLE consultations.opinion (
    id           uuid PRIMARY KEY,
    activity_id  uuid NOT NULL REFERENCES consultations.activity (id),
    text         text NOT NULL,
    source       text NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX opinion_activity_idx ON consultations.opinion (activity_id);

CREATE TABLE consultations.problem (
    id           uuid PRIMARY KEY,
    activity_id  uuid NOT NULL REFERENCES consultations.activity (id),
    description  text NOT NULL,
    owner        text NOT NULL DEFAULT '',
    status       smallint NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 3),
    resolution   text NOT NULL DEFAULT '',
    solve_time   timestamptz,
    create_time  timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 3) = (solve_time IS NOT NULL))
);
CREATE INDEX problem_activity_idx ON consultations.problem (activity_id);

CREATE TABLE consultations.result (
    id                uuid PRIMARY KEY,
    committee_id      text NOT NULL,
    activity_id       uuid NOT NULL REFERENCES consultations.activity (id),
    kind              smallint NOT NULL CHECK (kind BETWEEN 1 AND 2),
    title             text NOT NULL,
    text              text NOT NULL DEFAULT '',
    recipients        text[] NOT NULL,
    send_day          date NOT NULL,
    -- [{leader_name, leader_title, text, date}]
    instructions      jsonb NOT NULL DEFAULT '[]',
    adoption          smallint NOT NULL DEFAULT 0 CHECK (adoption BETWEEN 0 AND 3),
    actions           text NOT NULL DEFAULT '',
    feedback_time     timestamptz,
    publication_year  smallint,
    publication_no    smallint,
    create_time       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX result_committee_idx ON consultations.result (committee_id, send_day);

CREATE TABLE consultations.publication (
    committee_id  text NOT NULL,
    year          smallint NOT NULL,
    number        smallint NOT NULL CHECK (number >= 1),
    title         text NOT NULL,
    issue_day     date NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (committee_id, year, number)
);
