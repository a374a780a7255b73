-- Web UI sessions: after a token login, a random session id in an HttpOnly,
-- SameSite=Strict cookie. The store keeps its SHA-256 only, the token it
-- stands for, and the CSRF token every form must carry.

CREATE TABLE sessions (
    hash        TEXT PRIMARY KEY,
    token_id    TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
