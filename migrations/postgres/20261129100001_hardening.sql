-- Hardening (postgres): distinct-member rate-limit counters, and a record of data migrations.

-- Counters of distinct members per key and window: a client address is allowed only so many
-- distinct usernames with failed logins per window (password spraying), however many times it
-- retries one of them. On SQLite (one process) the server counts in memory; the table exists so
-- that both back-ends have the same schema.
CREATE TABLE rate_limit_members (
    key           TEXT    NOT NULL,
    window_start  BIGINT  NOT NULL,  -- seconds since the epoch
    member        TEXT    NOT NULL,  -- a digest of the member (a username), never the value
    PRIMARY KEY (key, window_start, member)
);

-- Data migrations the server runs itself, in Rust, once (SQL cannot compute them): their name
-- and when they ran.
CREATE TABLE data_migrations (
    name     TEXT    PRIMARY KEY,
    ran_at   BIGINT  NOT NULL  -- microseconds since the epoch
);
