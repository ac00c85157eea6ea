-- A writer marks itself in flight once per transaction, at its first
-- event: that mark is the lowest of its own, so the marks of its later
-- events added nothing, and a change publishing thousands of events took
-- thousands of locks (enough to exhaust the lock table). The flag is a
-- transaction-local setting, undone with the transaction or the
-- savepoint that set it, as the lock is.
CREATE OR REPLACE FUNCTION {schema}.outbox_next() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    taken bigint;
BEGIN
    IF coalesce(current_setting('cppcc.outbox_marked_{schema}', true), '') = '' THEN
        SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END INTO taken FROM {schema}.outbox_seq;
        -- The key's top bits name this schema's outbox (see the reader).
        PERFORM pg_advisory_xact_lock_shared((((hashtext('{schema}')::bigint & 2097151) + 1) << 40) | taken);
        PERFORM set_config('cppcc.outbox_marked_{schema}', 'yes', true);
    END IF;
    RETURN nextval('{schema}.outbox_seq');
END
$$;
