-- A committee's organisation below its members: township activity groups
-- and their conveners, member studios with members, liaisons and
-- activities, liaison stations and informants.

CREATE TABLE members.activity_group (
    id           uuid PRIMARY KEY,
    committee_id text NOT NULL REFERENCES members.committee (id),
    display_name text NOT NULL,
    township     text NOT NULL,
    revision     bigint NOT NULL DEFAULT 1,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    delete_time  timestamptz
);
CREATE UNIQUE INDEX activity_group_township_key
    ON members.activity_group (committee_id, township) WHERE delete_time IS NULL;

-- States are the ConvenerState numbers: 1 nominated, 2 agreed,
-- 3 approved, 4 rejected, 5 ended.
CREATE TABLE members.convener_appointment (
    id                     uuid PRIMARY KEY,
    activity_group_id      uuid NOT NULL REFERENCES members.activity_group (id),
    candidate_display_name text NOT NULL,
    candidate_title        text NOT NULL DEFAULT '',
    candidate_member_id    uuid REFERENCES members.member (id),
    state                  smallint NOT NULL CHECK (state BETWEEN 1 AND 5),
    -- One stamp per step: who (subject and role), when, and the note or reason.
    nominated_by           text NOT NULL,
    nominated_role         smallint NOT NULL,
    nominated_time         timestamptz NOT NULL DEFAULT now(),
    nominated_note         text NOT NULL DEFAULT '',
    agreed_by              text,
    agreed_role            smallint,
    agreed_time            timestamptz,
    agreed_note            text,
    approved_by            text,
    approved_role          smallint,
    approved_time          timestamptz,
    approved_note          text,
    rejected_by            text,
    rejected_role          smallint,
    rejected_time          timestamptz,
    rejected_reason        text,
    ended_by               text,
    ended_role             smallint,
    ended_time             timestamptz,
    ended_reason           text,
    revision               bigint NOT NULL DEFAULT 1,
    update_time            timestamptz NOT NULL DEFAULT now()
);
-- One convener in force per group, and one nomination under way.
CREATE UNIQUE INDEX convener_appointment_approved_key
    ON members.convener_appointment (activity_group_id) WHERE state = 3;
CREATE UNIQUE INDEX convener_appointment_pending_key
    ON members.convener_appointment (activity_group_id) WHERE state IN (1, 2);
CREATE INDEX convener_appointment_group_idx
    ON members.convener_appointment (activity_group_id, nominated_time DESC, id);

-- Kinds are the StudioKind numbers: 1 township, 2 sector.
CREATE TABLE members.studio (
    id             uuid PRIMARY KEY,
    committee_id   text NOT NULL REFERENCES members.committee (id),
    display_name   text NOT NULL,
    kind           smallint NOT NULL CHECK (kind BETWEEN 1 AND 2),
    township       text NOT NULL DEFAULT '',
    sector_id      uuid REFERENCES members.sector (id),
    monthly_target integer NOT NULL DEFAULT 0 CHECK (monthly_target >= 0),
    established_on date NOT NULL,
    revision       bigint NOT NULL DEFAULT 1,
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    delete_time    timestamptz,
    CHECK ((kind = 1 AND township <> '' AND sector_id IS NULL) OR (kind = 2 AND sector_id IS NOT NULL))
);
CREATE UNIQUE INDEX studio_display_name_key
    ON members.studio (committee_id, display_name) WHERE delete_time IS NULL;

CREATE TABLE members.studio_member (
    studio_id   uuid NOT NULL REFERENCES members.studio (id),
    member_id   uuid NOT NULL REFERENCES members.member (id),
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (studio_id, member_id)
);
CREATE INDEX studio_member_member_idx ON members.studio_member (member_id);

CREATE TABLE members.studio_liaison (
    id           uuid PRIMARY KEY,
    studio_id    uuid NOT NULL REFERENCES members.studio (id),
    display_name text NOT NULL,
    village      text NOT NULL,
    phone_sealed bytea,
    phone_masked text NOT NULL DEFAULT '',
    revision     bigint NOT NULL DEFAULT 1,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    delete_time  timestamptz
);
CREATE INDEX studio_liaison_studio_idx ON members.studio_liaison (studio_id);

CREATE TABLE members.studio_activity (
    id            uuid PRIMARY KEY,
    studio_id     uuid NOT NULL REFERENCES members.studio (id),
    title         text NOT NULL,
    activity_date date NOT NULL,
    description   text NOT NULL DEFAULT '',
    participants  uuid[] NOT NULL DEFAULT '{}',
    recorded_by   text NOT NULL,
    recorded_role smallint NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX studio_activity_studio_idx ON members.studio_activity (studio_id, activity_date);

-- Kinds are the LiaisonStationKind numbers: 1 township, 2 department.
CREATE TABLE members.liaison_station (
    id           uuid PRIMARY KEY,
    committee_id text NOT NULL REFERENCES members.committee (id),
    display_name text NOT NULL,
    kind         smallint NOT NULL CHECK (kind BETWEEN 1 AND 2),
    location     text NOT NULL,
    revision     bigint NOT NULL DEFAULT 1,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    delete_time  timestamptz
);
CREATE UNIQUE INDEX liaison_station_display_name_key
    ON members.liaison_station (committee_id, display_name) WHERE delete_time IS NULL;

CREATE TABLE members.informant (
    id                 uuid PRIMARY KEY,
    committee_id       text NOT NULL REFERENCES members.committee (id),
    liaison_station_id uuid NOT NULL REFERENCES members.liaison_station (id),
    display_name       text NOT NULL,
    employer           text NOT NULL DEFAULT '',
    phone_sealed       bytea,
    phone_masked       text NOT NULL DEFAULT '',
    active             boolean NOT NULL DEFAULT true,
    revision           bigint NOT NULL DEFAULT 1,
    create_time        timestamptz NOT NULL DEFAULT now(),
    update_time        timestamptz NOT NULL DEFAULT now(),
    delete_time        timestamptz
);
CREATE INDEX informant_station_idx ON members.informant (liaison_station_id);
CREATE INDEX informant_committee_idx ON members.informant (committee_id, update_time, id);

-- Activity groups count the members sent down to their township.
CREATE INDEX member_township_idx ON members.member (committee_id, township);
