-- A run whose journeys all say `rerun: safe` goes back to the queue when
-- its worker's lease lapses, up to 3 attempts; `attempt` counts them.

ALTER TABLE runs ADD COLUMN rerun_safe INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
