-- A seventeenth kind of duty: a leader's instruction on a member's opinion
-- report (DUTY_KIND_OPINION_INSTRUCTED), credited by the opinions service.
ALTER TABLE members.duty_record DROP CONSTRAINT duty_record_kind_check;
ALTER TABLE members.duty_record ADD CONSTRAINT duty_record_kind_check CHECK (kind BETWEEN 1 AND 17);
