-- The platforms' special budget is a yearly one (500,000 yuan a year in
-- the seed): a budget per committee and year, and each platform's
-- allotment and spending per year, instead of one pair on the platform.

CREATE TABLE consultations.platform_budget (
    committee_id  text NOT NULL,
    year          smallint NOT NULL,
    amount_fen    bigint NOT NULL CHECK (amount_fen >= 0),
    update_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (committee_id, year)
);

CREATE TABLE consultations.platform_fund (
    platform_id   uuid NOT NULL REFERENCES consultations.platform (id),
    year          smallint NOT NULL,
    allotted_fen  bigint NOT NULL CHECK (allotted_fen >= 0),
    spent_fen     bigint NOT NULL CHECK (spent_fen >= 0 AND spent_fen <= allotted_fen),
    update_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, year)
);

-- What was kept on the platforms is kept as the year it was last changed in.
INSERT INTO consultations.platform_fund (platform_id, year, allotted_fen, spent_fen, update_time)
SELECT id, extract(year FROM update_time)::smallint, greatest(allotted_fen, spent_fen), spent_fen, update_time
  FROM consultations.platform WHERE allotted_fen > 0 OR spent_fen > 0;

ALTER TABLE consultations.platform DROP COLUMN allotted_fen, DROP COLUMN spent_fen;
