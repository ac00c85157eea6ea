-- The members registry: committees and their settings, sectors, special
-- committees and their seats, members and their status history.
--
-- Enum columns hold the protobuf enum numbers (never 0). Personal data is
-- sealed by the service (AES-256-GCM): `*_sealed` columns hold ciphertext,
-- `id_number_index` a keyed hash for exact look-ups, `*_masked` the masked
-- forms that callers without the right to see the data are shown.

-- Chinese names sort by surname strokes (姓氏笔画, the order of official
-- lists) or by pinyin, from ICU.
CREATE COLLATION members.zh_stroke (provider = icu, locale = 'zh-u-co-stroke');
CREATE COLLATION members.zh_pinyin (provider = icu, locale = 'zh-u-co-pinyin');

CREATE TABLE members.committee (
    id              text PRIMARY KEY,
    display_name    text NOT NULL,
    level           smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
    parent          text NOT NULL DEFAULT '',
    current_term    integer NOT NULL CHECK (current_term > 0),
    term_start_date date,
    region_code     text NOT NULL DEFAULT '',
    revision        bigint NOT NULL DEFAULT 1,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now()
);

-- Only the settings a committee changed are stored; the service fills in
-- the defaults when reading.
CREATE TABLE members.committee_settings (
    committee_id text PRIMARY KEY REFERENCES members.committee (id),
    settings     jsonb NOT NULL DEFAULT '{}',
    revision     bigint NOT NULL DEFAULT 1,
    update_time  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members.sector (
    id           uuid PRIMARY KEY,
    committee_id text NOT NULL REFERENCES members.committee (id),
    display_name text NOT NULL,
    kind         smallint NOT NULL CHECK (kind BETWEEN 1 AND 3),
    sort_order   integer NOT NULL DEFAULT 0,
    revision     bigint NOT NULL DEFAULT 1,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    delete_time  timestamptz
);
CREATE UNIQUE INDEX sector_display_name_key
    ON members.sector (committee_id, display_name) WHERE delete_time IS NULL;
CREATE INDEX sector_update_time_idx ON members.sector (committee_id, update_time, id);

CREATE TABLE members.special_committee (
    id           uuid PRIMARY KEY,
    committee_id text NOT NULL REFERENCES members.committee (id),
    display_name text NOT NULL,
    sort_order   integer NOT NULL DEFAULT 0,
    revision     bigint NOT NULL DEFAULT 1,
    create_time  timestamptz NOT NULL DEFAULT now(),
    update_time  timestamptz NOT NULL DEFAULT now(),
    delete_time  timestamptz
);
CREATE UNIQUE INDEX special_committee_display_name_key
    ON members.special_committee (committee_id, display_name) WHERE delete_time IS NULL;
CREATE INDEX special_committee_update_time_idx
    ON members.special_committee (committee_id, update_time, id);

CREATE TABLE members.member (
    id                    uuid PRIMARY KEY,
    committee_id          text NOT NULL REFERENCES members.committee (id),
    display_name          text NOT NULL,
    gender                smallint NOT NULL CHECK (gender BETWEEN 1 AND 2),
    ethnicity             text NOT NULL DEFAULT '',
    birth_date_sealed     bytea,
    birth_year            integer,
    id_number_sealed      bytea NOT NULL,
    id_number_index       bytea NOT NULL,
    id_number_masked      text NOT NULL,
    phone_sealed          bytea,
    phone_masked          text NOT NULL DEFAULT '',
    political_affiliation smallint NOT NULL DEFAULT 0,
    sector_id             uuid NOT NULL REFERENCES members.sector (id),
    employer              text NOT NULL DEFAULT '',
    job_title             text NOT NULL DEFAULT '',
    role                  smallint NOT NULL CHECK (role BETWEEN 1 AND 5),
    city_member           boolean NOT NULL DEFAULT false,
    status                smallint NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 4),
    township              text NOT NULL DEFAULT '',
    links                 jsonb NOT NULL DEFAULT '[]',
    term                  integer NOT NULL CHECK (term > 0),
    join_date             date,
    education             text NOT NULL DEFAULT '',
    revision              bigint NOT NULL DEFAULT 1,
    create_time           timestamptz NOT NULL DEFAULT now(),
    update_time           timestamptz NOT NULL DEFAULT now()
);
-- One ID number once per committee (exact look-up through the keyed hash).
CREATE UNIQUE INDEX member_id_number_key ON members.member (committee_id, id_number_index);
CREATE INDEX member_update_time_idx ON members.member (committee_id, update_time, id);
CREATE INDEX member_sector_idx ON members.member (sector_id);

CREATE TABLE members.special_committee_member (
    special_committee_id uuid NOT NULL REFERENCES members.special_committee (id),
    member_id            uuid NOT NULL REFERENCES members.member (id),
    position             smallint NOT NULL CHECK (position BETWEEN 1 AND 3),
    create_time          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (special_committee_id, member_id)
);
-- At most one chair per special committee.
CREATE UNIQUE INDEX special_committee_chair_key
    ON members.special_committee_member (special_committee_id) WHERE position = 1;
CREATE INDEX special_committee_member_member_idx ON members.special_committee_member (member_id);

CREATE TABLE members.member_status_change (
    id             bigserial PRIMARY KEY,
    member_id      uuid NOT NULL REFERENCES members.member (id),
    from_status    smallint NOT NULL,
    to_status      smallint NOT NULL,
    effective_date date NOT NULL,
    reason         text NOT NULL,
    actor          text NOT NULL,
    actor_role     smallint NOT NULL,
    change_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_status_change_member_idx ON members.member_status_change (member_id, id);
