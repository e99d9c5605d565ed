//! Idempotency keys: claims, stored answers, expiry.
//!
//! A claim is one `INSERT … ON CONFLICT DO NOTHING` on the key's primary key, so two requests
//! with the same key, on one instance or on two sharing a PostgreSQL database, cannot both run:
//! the loser reads what the winner holds (running, or its answer).

use async_trait::async_trait;

use super::SqlStore;
use crate::error::Error;
use crate::store::{IdempotencyStore, KeyClaim, KeyState, StoredAnswer};

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn idempotency_claim(&self, claim: KeyClaim<'_>) -> Result<KeyState, Error> {
        let mut connection = self.writer().await?;
        // The row can go between the insert and the read (released by a failed first request):
        // then the claim is tried again; a third loss in a row is a race lost to a busy key.
        for _ in 0..3 {
            // A key that expired, or whose request died with its server, is free again.
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE key_hash = $1 \
                 AND (expires_at <= $2 OR (status IS NULL AND locked_until <= $2))",
            )
            .bind(claim.key_hash)
            .bind(claim.now)
            .execute(&mut *connection)
            .await?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys \
                 (key_hash, fingerprint, claim, created_at, locked_until, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_hash) DO NOTHING",
            )
            .bind(claim.key_hash)
            .bind(claim.fingerprint)
            .bind(claim.claim)
            .bind(claim.now)
            .bind(claim.locked_until)
            .bind(claim.expires_at)
            .execute(&mut *connection)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(KeyState::Claimed);
            }
            let held: Option<(String, Option<i64>, Option<String>, Option<Vec<u8>>)> = sqlx::query_as(
                "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE key_hash = $1",
            )
            .bind(claim.key_hash)
            .fetch_optional(&mut *connection)
            .await?;
            let Some((fingerprint, status, headers, body)) = held else { continue };
            // Running first: whatever the retry sends, the first request has not answered yet.
            let (Some(status), Some(headers), Some(body)) = (status, headers, body) else {
                return Ok(KeyState::Running);
            };
            if fingerprint != claim.fingerprint {
                return Ok(KeyState::Mismatch);
            }
            let headers: Vec<(String, String)> = serde_json::from_str(&headers)
                .map_err(|e| Error::internal(format!("stored idempotent answer headers: {e}")))?;
            let status = u16::try_from(status)
                .map_err(|_| Error::internal(format!("stored idempotent answer status {status}")))?;
            return Ok(KeyState::Done(StoredAnswer { status, headers, body }));
        }
        Ok(KeyState::Running)
    }

    async fn idempotency_complete(
        &self,
        key_hash: &str,
        claim: &str,
        answer: &StoredAnswer,
    ) -> Result<(), Error> {
        let headers = serde_json::to_string(&answer.headers).map_err(Error::internal)?;
        sqlx::query(
            "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 \
             WHERE key_hash = $1 AND claim = $2",
        )
        .bind(key_hash)
        .bind(claim)
        .bind(i64::from(answer.status))
        .bind(headers)
        .bind(&answer.body)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    async fn idempotency_release(&self, key_hash: &str, claim: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM idempotency_keys WHERE key_hash = $1 AND claim = $2")
            .bind(key_hash)
            .bind(claim)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn idempotency_purge(&self, now: i64) -> Result<u64, Error> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
