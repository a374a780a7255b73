-- The Cloud Runner's store. Times are RFC 3339 UTC text; lists are JSON text.
-- Secret values exist here only as AES-256-GCM ciphertexts (src/keys.rs).

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,      -- public: names the token in lists and the audit log
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,         -- admin | builder | runner | viewer
    hash         TEXT NOT NULL UNIQUE,  -- SHA-256 of the token, hex; the token is shown once
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE secrets (
    name            TEXT PRIMARY KEY,
    description     TEXT NOT NULL,
    journeys        TEXT,               -- JSON globs; NULL: every journey
    environments    TEXT,               -- JSON names; NULL: every environment
    hosts           TEXT,               -- JSON hosts; NULL: anywhere
    allow_http      INTEGER NOT NULL,
    disabled        INTEGER NOT NULL,
    provider        TEXT,               -- a server-side provider that holds the value; NULL: managed here
    reference       TEXT,               -- the reference into that provider
    version         INTEGER NOT NULL,   -- the current version
    length_class    TEXT NOT NULL,      -- e.g. "16-31 bytes"; never the length itself
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    rotated_at      TEXT,
    last_used_at    TEXT,
    last_used_by    TEXT                -- the run
);

CREATE TABLE secret_versions (
    name         TEXT NOT NULL REFERENCES secrets(name) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    kek_id       TEXT NOT NULL,
    wrapped_key  BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE projects (
    name         TEXT PRIMARY KEY,
    files        TEXT NOT NULL,         -- JSON {path: text}: reqflo.yaml (environments only), journeys, templates
    uploaded_at  TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL
);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    project      TEXT NOT NULL,
    journeys     TEXT NOT NULL,         -- JSON names
    environment  TEXT,
    inputs       TEXT NOT NULL,         -- JSON {name: value}
    variables    TEXT NOT NULL,         -- JSON {name: value}: overrides of the environment's
    status       TEXT NOT NULL,         -- queued | running | passed | failed | error | interrupted | cancelled
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    exit_code    INTEGER,
    error        TEXT,                  -- redacted
    report       TEXT,                  -- the JSON report, redacted
    report_junit TEXT,                  -- JUnit XML, redacted
    report_html  TEXT                   -- the HTML page, redacted
);
CREATE INDEX runs_by_status ON runs(status);
CREATE INDEX runs_by_created ON runs(created_at);

CREATE TABLE run_events (
    run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    body    TEXT NOT NULL,              -- JSON, redacted by the run's redactor
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL               -- JSON; never a value
);
CREATE INDEX audit_by_action ON audit(action);
