-- Every event the intake has taken (applied, set aside, or found to have
-- nothing to do), so an event delivered again is never applied twice,
-- whatever it did the first time.
CREATE TABLE members.intake_event (
    producer   text NOT NULL,
    event_id   uuid NOT NULL,
    taken_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (producer, event_id)
);
