-- Web UI sessions: after a token login, a random session id in an HttpOnly,
-- SameSite=Strict cookie. The store keeps its SHA-256 only, the token it
-- stands for, and the CSRF token every form must carry.

CREATE TABLE sessions (
    hash        TEXT COLLATE "C" PRIMARY KEY,
    token_id    TEXT COLLATE "C" NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    csrf        TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL
);
