-- Workers on other machines (`reqflo worker`, over Postgres): who runs a
-- run, until when its claim holds unless renewed, and a cancel asked of a
-- run that runs elsewhere.

ALTER TABLE runs ADD COLUMN worker TEXT COLLATE "C";            -- the process running it
ALTER TABLE runs ADD COLUMN lease_until TEXT COLLATE "C";       -- RFC 3339; renewed by the worker's heartbeat
ALTER TABLE runs ADD COLUMN cancel_asked BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_by_lease ON runs(status, lease_until);
