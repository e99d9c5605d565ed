-- Idempotency keys (postgres): the first answer to a POST sent with `Idempotency-Key`, replayed
-- to its retries until the key expires.
CREATE TABLE idempotency_keys (
    -- SHA-256 (hex) of the caller's scope (user, or anonymous) and the client's key: keys are
    -- per caller, and the client's text is not kept.
    key_hash      TEXT     PRIMARY KEY,
    -- SHA-256 (hex) of the operation, the path and the body: a retry must send the same.
    fingerprint   TEXT     NOT NULL,
    -- A random token of the request that holds the key: only it may complete or release it.
    claim         TEXT     NOT NULL,
    -- The answer's status, headers (JSON pairs) and body; NULL while the first request runs.
    status        BIGINT,
    headers       TEXT,
    body          BYTEA,
    created_at    BIGINT   NOT NULL,  -- microseconds since the epoch
    -- A request still running after this (microseconds) is taken to have died with its server.
    locked_until  BIGINT   NOT NULL,
    -- When the key is forgotten (microseconds): then a retry runs as a new request.
    expires_at    BIGINT   NOT NULL
);

-- The purge of expired keys.
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
