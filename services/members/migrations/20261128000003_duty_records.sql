-- Members' duty records (履职档案), the consumer of other services' events
-- that feeds them, and the yearly evaluation rules.

-- Append-only: a correction is a new row that reverses an earlier one.
-- Kinds are the DutyKind numbers.
CREATE TABLE members.duty_record (
    id              uuid PRIMARY KEY,
    committee_id    text NOT NULL REFERENCES members.committee (id),
    member_id       uuid NOT NULL REFERENCES members.member (id),
    kind            smallint NOT NULL CHECK (kind BETWEEN 1 AND 16),
    occurred_on     date NOT NULL,
    evidence        text NOT NULL DEFAULT '',
    -- 'staff', or the producer service whose event it came from.
    source_service  text NOT NULL,
    source_event    uuid,
    source          text NOT NULL DEFAULT '',
    reverses        uuid UNIQUE REFERENCES members.duty_record (id),
    recorded_by     text NOT NULL,
    recorded_role   smallint NOT NULL,
    reason          text NOT NULL DEFAULT '',
    create_time     timestamptz NOT NULL DEFAULT now()
);
-- An event credits a member with a kind once, however often it arrives.
CREATE UNIQUE INDEX duty_record_event_key
    ON members.duty_record (source_service, source_event, member_id, kind)
    WHERE source_event IS NOT NULL AND reverses IS NULL;
CREATE INDEX duty_record_member_idx ON members.duty_record (member_id, occurred_on);
CREATE INDEX duty_record_committee_idx ON members.duty_record (committee_id, occurred_on, kind);

CREATE FUNCTION members.duty_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'duty records are append-only; reverse an entry instead'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER duty_record_append_only
    BEFORE UPDATE OR DELETE ON members.duty_record
    FOR EACH ROW EXECUTE FUNCTION members.duty_record_append_only();

-- Where the consumer stands with each producer.
CREATE TABLE members.intake_cursor (
    producer    text PRIMARY KEY,
    cursor      text NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);

-- Events that could not be applied, kept for the office to see.
CREATE TABLE members.parked_event (
    producer   text NOT NULL,
    event_id   uuid NOT NULL,
    event_type text NOT NULL,
    committee  text NOT NULL,
    payload    bytea NOT NULL,
    reason     text NOT NULL,
    park_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (producer, event_id)
);
CREATE INDEX parked_event_committee_idx ON members.parked_event (committee, park_time DESC);

CREATE TABLE members.evaluation_rules (
    committee_id text NOT NULL REFERENCES members.committee (id),
    year         integer NOT NULL CHECK (year BETWEEN 1949 AND 9999),
    rules        jsonb NOT NULL,
    revision     bigint NOT NULL DEFAULT 1,
    update_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (committee_id, year)
);
