-- Identity and access (SQLite): users, refresh tokens, API keys, rate-limit counters.
-- Same conventions as the catalog migration (BIGINT microsecond timestamps, app-folded keys).

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL,
    username_key   TEXT    NOT NULL,  -- lower-cased: usernames are unique ignoring case
    email          TEXT    NOT NULL,
    email_key      TEXT    NOT NULL,  -- lower-cased: so are emails
    password_hash  TEXT    NOT NULL,  -- argon2id, PHC string format
    role           TEXT    NOT NULL CHECK (role IN ('admin', 'manager', 'customer')),
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- Refresh tokens are opaque; only their SHA-256 is stored. A login starts a family; each
-- refresh marks its token used and issues the next one in the family. Presenting a used token
-- again (reuse: a stolen copy) revokes the whole family.
CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family      TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- API keys: only the SHA-256 of the secret is stored (keys are 256-bit random, so a fast hash
-- is enough); `prefix` lets owners tell keys apart. Revoked keys are kept for the record.
CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    prefix        TEXT    NOT NULL,
    key_hash      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Fixed-window rate-limit counters. On SQLite (one process) the server counts in memory; the
-- table exists so that both back-ends have the same schema.
CREATE TABLE rate_limit_counters (
    key           TEXT    NOT NULL,
    window_start  INTEGER NOT NULL,  -- seconds since the epoch
    count         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
