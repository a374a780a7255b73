-- Private agents (`reqflo agent`): each runs the runs submitted for its
-- location, inside another network. Its token is stored as a hash; its
-- public key (X25519) is what managed values are sealed to, per run.

CREATE TABLE agents (
    id           TEXT PRIMARY KEY,      -- public: `agt_…`
    name         TEXT NOT NULL UNIQUE,
    location     TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,  -- SHA-256 of the token, hex
    public_key   TEXT,                  -- base64, sent by the agent when it first asks for work
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    last_seen_at TEXT,
    revoked_at   TEXT
);

-- A run for a location waits for an agent there; no worker takes it.
ALTER TABLE runs ADD COLUMN location TEXT;
-- The managed secrets sealed to the agent for this run (JSON names): the
-- server redacts what the agent sends back with them.
ALTER TABLE runs ADD COLUMN sealed_names TEXT;
