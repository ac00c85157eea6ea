-- Proposals (提案): the office's catalogues, proposals and their proposers,
-- handling (assignments, requests, replies, ratings), every step taken,
-- follow-ups, excellent proposals and the yearly assessment of units.
-- Committees and members live in the members service; here they are ids.

CREATE COLLATION proposals.zh_pinyin (provider = icu, locale = 'zh-u-co-pinyin');

-- A committee's rules; a committee without a row has the defaults.
CREATE TABLE proposals.settings (
    committee_id               text PRIMARY KEY,
    result_categories          jsonb NOT NULL,
    reply_months               smallint NOT NULL CHECK (reply_months BETWEEN 1 AND 12),
    max_reply_months           smallint NOT NULL CHECK (max_reply_months BETWEEN reply_months AND 24),
    reassignment_days          smallint NOT NULL CHECK (reassignment_days BETWEEN 1 AND 60),
    reassignment_working_days  boolean NOT NULL,
    rating_days                smallint NOT NULL CHECK (rating_days BETWEEN 1 AND 365),
    cosign_days                smallint NOT NULL CHECK (cosign_days BETWEEN 1 AND 60),
    update_time                timestamptz NOT NULL DEFAULT now()
);

-- Days that differ from the usual week (Monday to Friday working).
CREATE TABLE proposals.calendar_day (
    committee_id  text NOT NULL,
    day           date NOT NULL,
    working       boolean NOT NULL,
    note          text NOT NULL DEFAULT '',
    PRIMARY KEY (committee_id, day)
);

CREATE TABLE proposals.session (
    id            uuid PRIMARY KEY,
    committee_id  text NOT NULL,
    display_name  text NOT NULL,
    term          smallint NOT NULL CHECK (term BETWEEN 1 AND 99),
    year          smallint NOT NULL,
    open_date     date NOT NULL,
    close_date    date NOT NULL CHECK (close_date >= open_date),
    -- The last serial number given: filing takes the next under this row's lock.
    last_serial   integer NOT NULL DEFAULT 0,
    create_time   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (committee_id, display_name),
    UNIQUE (committee_id, id)
);

CREATE TABLE proposals.unit (
    id            uuid PRIMARY KEY,
    committee_id  text NOT NULL,
    display_name  text NOT NULL,
    kind          text NOT NULL DEFAULT '',
    create_time   timestamptz NOT NULL DEFAULT now(),
    retire_time   timestamptz,
    UNIQUE (committee_id, display_name),
    UNIQUE (committee_id, id)
);

-- States and kinds are the ProposalState, ProposalKind, … numbers.
CREATE TABLE proposals.proposal (
    id                uuid PRIMARY KEY,
    committee_id      text NOT NULL,
    session_id        uuid NOT NULL,
    inter_session     boolean NOT NULL DEFAULT false,
    title             text NOT NULL,
    reason            text NOT NULL DEFAULT '',
    suggestions       text NOT NULL DEFAULT '',
    category          smallint NOT NULL CHECK (category BETWEEN 1 AND 6),
    kind              smallint NOT NULL CHECK (kind BETWEEN 1 AND 5),
    on_behalf_of      text NOT NULL DEFAULT '',
    state             smallint NOT NULL CHECK (state BETWEEN 1 AND 10),
    serial            integer,
    not_filed_reason  smallint,
    merged_with       uuid REFERENCES proposals.proposal (id),
    handling_round    smallint NOT NULL DEFAULT 0,
    assign_date       date,
    reply_due         date,
    result_category   text,
    key               boolean NOT NULL DEFAULT false,
    leader_name       text NOT NULL DEFAULT '',
    leader_title      text NOT NULL DEFAULT '',
    conversion_state  smallint NOT NULL DEFAULT 0,
    opinion_report    text NOT NULL DEFAULT '',
    convert_time      timestamptz,
    -- Character pairs of title and text, for finding similar proposals.
    grams             text[] NOT NULL DEFAULT '{}',
    created_by        text NOT NULL,
    submit_time       timestamptz,
    file_time         timestamptz,
    replied_time      timestamptz,
    close_time        timestamptz,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    revision          bigint NOT NULL DEFAULT 1,
    FOREIGN KEY (committee_id, session_id) REFERENCES proposals.session (committee_id, id),
    CONSTRAINT proposal_serial_key UNIQUE (session_id, serial),
    CHECK ((serial IS NULL) = (state IN (1, 2, 4, 5, 10)))
);
CREATE INDEX proposal_committee_idx ON proposals.proposal (committee_id, session_id, state);
CREATE INDEX proposal_grams_idx ON proposals.proposal USING gin (grams);
CREATE INDEX proposal_merged_idx ON proposals.proposal (merged_with) WHERE merged_with IS NOT NULL;

-- The lead (position 0) and the co-signers, in the order invited.
CREATE TABLE proposals.proposer (
    proposal_id   uuid NOT NULL REFERENCES proposals.proposal (id),
    member_id     uuid NOT NULL,
    display_name  text NOT NULL,
    position      smallint NOT NULL,
    sign_by       date,
    sign_time     timestamptz,
    PRIMARY KEY (proposal_id, member_id),
    UNIQUE (proposal_id, position)
);
CREATE INDEX proposer_member_idx ON proposals.proposer (member_id);

-- The units of each handling round; `active` is false once the round ends
-- for the unit (reassigned away).
CREATE TABLE proposals.assignment (
    proposal_id     uuid NOT NULL REFERENCES proposals.proposal (id),
    handling_round  smallint NOT NULL,
    unit_id         uuid NOT NULL REFERENCES proposals.unit (id),
    part            smallint NOT NULL CHECK (part BETWEEN 1 AND 3),
    active          boolean NOT NULL DEFAULT true,
    assign_time     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, handling_round, unit_id)
);
CREATE INDEX assignment_unit_idx ON proposals.assignment (unit_id) WHERE active;

CREATE TABLE proposals.handling_request (
    id              uuid PRIMARY KEY,
    proposal_id     uuid NOT NULL REFERENCES proposals.proposal (id),
    unit_id         uuid NOT NULL REFERENCES proposals.unit (id),
    kind            smallint NOT NULL CHECK (kind BETWEEN 1 AND 2),
    reason          text NOT NULL,
    reply_due       date,
    state           smallint NOT NULL DEFAULT 1 CHECK (state BETWEEN 1 AND 3),
    requested_by    text NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now(),
    decided_by      text,
    decided_role    smallint,
    decided_time    timestamptz,
    decision_reason text
);
-- One open request of a kind per unit and proposal.
CREATE UNIQUE INDEX handling_request_open_key
    ON proposals.handling_request (proposal_id, unit_id, kind) WHERE state = 1;

CREATE TABLE proposals.reply (
    id                  uuid PRIMARY KEY,
    proposal_id         uuid NOT NULL REFERENCES proposals.proposal (id),
    handling_round      smallint NOT NULL,
    unit_id             uuid NOT NULL REFERENCES proposals.unit (id),
    text                text NOT NULL,
    result_category     text NOT NULL,
    contacted           boolean NOT NULL,
    contact_date        date,
    state               smallint NOT NULL CHECK (state BETWEEN 1 AND 5),
    submit_time         timestamptz,
    on_time             boolean,
    reviewed_by         text,
    reviewed_role       smallint,
    review_time         timestamptz,
    review_reason       text,
    reviewed_category   text,
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now(),
    revision            bigint NOT NULL DEFAULT 1
);
-- A unit has one live reply per round (draft, submitted or approved).
CREATE UNIQUE INDEX reply_live_key
    ON proposals.reply (proposal_id, handling_round, unit_id) WHERE state IN (1, 2, 3);

CREATE TABLE proposals.countersignature (
    reply_id   uuid NOT NULL REFERENCES proposals.reply (id),
    unit_id    uuid NOT NULL REFERENCES proposals.unit (id),
    opinion    text NOT NULL,
    sign_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reply_id, unit_id)
);

CREATE TABLE proposals.rating (
    proposal_id     uuid NOT NULL REFERENCES proposals.proposal (id),
    handling_round  smallint NOT NULL,
    member_id       uuid NOT NULL,
    satisfaction    smallint NOT NULL CHECK (satisfaction BETWEEN 1 AND 3),
    comment         text NOT NULL DEFAULT '',
    by_staff        boolean NOT NULL,
    entered_by      text NOT NULL,
    entered_role    smallint NOT NULL,
    enter_time      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, handling_round, member_id)
);

-- Every step a proposal took: who, when, why.
CREATE TABLE proposals.transition (
    proposal_id  uuid NOT NULL REFERENCES proposals.proposal (id),
    seq          integer NOT NULL,
    from_state   smallint,
    to_state     smallint NOT NULL,
    step         text NOT NULL,
    actor        text NOT NULL,
    actor_role   smallint NOT NULL,
    reason       text NOT NULL DEFAULT '',
    time         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, seq)
);

CREATE TABLE proposals.follow_up (
    id            uuid PRIMARY KEY,
    proposal_id   uuid NOT NULL REFERENCES proposals.proposal (id),
    kind          smallint NOT NULL CHECK (kind BETWEEN 1 AND 3),
    day           date NOT NULL,
    leader_name   text NOT NULL DEFAULT '',
    leader_title  text NOT NULL DEFAULT '',
    text          text NOT NULL,
    finding       smallint NOT NULL DEFAULT 0 CHECK (finding BETWEEN 0 AND 3),
    recorded_by   text NOT NULL,
    recorded_role smallint NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX follow_up_proposal_idx ON proposals.follow_up (proposal_id);

CREATE TABLE proposals.excellent (
    id            uuid PRIMARY KEY,
    committee_id  text NOT NULL,
    proposal_id   uuid NOT NULL REFERENCES proposals.proposal (id),
    year          smallint NOT NULL,
    nominated_by  text NOT NULL,
    reason        text NOT NULL,
    state         smallint NOT NULL CHECK (state BETWEEN 1 AND 4),
    -- [{actor, role, time, reason}], one per step taken.
    steps         jsonb NOT NULL,
    UNIQUE (proposal_id, year)
);

CREATE TABLE proposals.assessment_rules (
    committee_id  text NOT NULL,
    year          smallint NOT NULL,
    items         jsonb NOT NULL,
    update_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (committee_id, year)
);

CREATE TABLE proposals.unit_score (
    committee_id  text NOT NULL,
    year          smallint NOT NULL,
    unit_id       uuid NOT NULL REFERENCES proposals.unit (id),
    code          text NOT NULL,
    score         numeric(6, 2) NOT NULL CHECK (score >= 0),
    note          text NOT NULL DEFAULT '',
    scored_by     text NOT NULL,
    score_time    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (committee_id, year, unit_id, code)
);

CREATE TABLE proposals.unit_evaluation (
    committee_id  text NOT NULL,
    year          smallint NOT NULL,
    unit_id       uuid NOT NULL REFERENCES proposals.unit (id),
    member_id     uuid NOT NULL,
    score         smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
    comment       text NOT NULL DEFAULT '',
    entered_by    text NOT NULL,
    enter_time    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (committee_id, year, unit_id, member_id)
);
