-- Tables every service keeps in its own schema, managed by the kit:
-- the transactional outbox, the audit log and request ids.
-- `{schema}` is replaced by the service's schema name.

-- Events, written in the same transaction as the change they report, and
-- read in `seq` order. A writer takes its `seq` as the last thing before it
-- commits, first marking itself in flight with a shared advisory lock keyed
-- by the last `seq` taken before its own; the lock goes when it commits.
-- Readers deliver only up to the lowest such mark, so an event is never
-- passed over by one that committed after it, and two changes to one record
-- are delivered in the order they took effect.
CREATE SEQUENCE {schema}.outbox_seq;
CREATE FUNCTION {schema}.outbox_next() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    taken bigint;
BEGIN
    SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END INTO taken FROM {schema}.outbox_seq;
    -- The key's top bits name this schema's outbox (see the reader).
    PERFORM pg_advisory_xact_lock_shared((((hashtext('{schema}')::bigint & 2097151) + 1) << 40) | taken);
    RETURN nextval('{schema}.outbox_seq');
END
$$;
CREATE TABLE {schema}.outbox (
    seq        bigint PRIMARY KEY DEFAULT {schema}.outbox_next(),
    id         uuid NOT NULL UNIQUE,
    type       text NOT NULL,
    committee  text NOT NULL,
    subject    text NOT NULL,
    actor      text NOT NULL,
    event_time timestamptz NOT NULL DEFAULT now(),
    payload    bytea NOT NULL
);
ALTER SEQUENCE {schema}.outbox_seq OWNED BY {schema}.outbox.seq;
CREATE INDEX outbox_event_time_idx ON {schema}.outbox (event_time);

-- The last event removed by retention: a consumer resuming before it has
-- missed events and must read the current state again.
CREATE TABLE {schema}.outbox_horizon (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    purged_through bigint NOT NULL
);

-- Who did what, when, from where, to which record, before and after, and
-- whether it was allowed. Append-only: rows are chained by hash (each row's
-- hash covers the previous row's) by the sealer shortly after they commit.
CREATE TABLE {schema}.audit_log (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    actor_role text NOT NULL,
    committee  text NOT NULL DEFAULT '',
    peer       text NOT NULL DEFAULT '',
    method     text NOT NULL,
    resource   text NOT NULL DEFAULT '',
    outcome    text NOT NULL CHECK (outcome IN ('ok', 'read', 'denied')),
    detail     text NOT NULL DEFAULT '',
    before     jsonb,
    after      jsonb,
    chain_pos  bigint UNIQUE,
    prev_hash  bytea,
    hash       bytea
);
CREATE INDEX audit_log_unsealed_idx ON {schema}.audit_log (seq) WHERE chain_pos IS NULL;
CREATE INDEX audit_log_committee_idx ON {schema}.audit_log (committee, seq);
CREATE INDEX audit_log_resource_idx ON {schema}.audit_log (resource, seq);

-- Where the chain starts once old rows have been purged: the position and
-- hash of the last purged row.
CREATE TABLE {schema}.audit_anchor (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    chain_pos bigint NOT NULL,
    hash      bytea NOT NULL
);

-- Rows may be sealed once and purged after the legal minimum of 184 days;
-- nothing else may change or remove them.
CREATE FUNCTION {schema}.audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.chain_pos IS NULL AND NEW.chain_pos IS NOT NULL
           AND (NEW.seq, NEW.at, NEW.actor, NEW.actor_role, NEW.committee, NEW.peer,
                NEW.method, NEW.resource, NEW.outcome, NEW.detail, NEW.before, NEW.after)
               IS NOT DISTINCT FROM
               (OLD.seq, OLD.at, OLD.actor, OLD.actor_role, OLD.committee, OLD.peer,
                OLD.method, OLD.resource, OLD.outcome, OLD.detail, OLD.before, OLD.after)
        THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.chain_pos IS NOT NULL AND OLD.at < now() - interval '184 days' THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON {schema}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_log_guard();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON {schema}.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_log_guard();

-- Request ids of creates (AIP-155): a retry with the same id returns the
-- resource the first call created.
CREATE TABLE {schema}.request_ids (
    method       text NOT NULL,
    request_id   uuid NOT NULL,
    fingerprint  bytea NOT NULL,
    resource     text NOT NULL,
    create_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (method, request_id)
);
CREATE INDEX request_ids_create_time_idx ON {schema}.request_ids (create_time);
