//! Password hashing (argon2id), bounded.
//!
//! Each hash or check needs argon2's 19 MiB of memory and tens of milliseconds of CPU, by
//! design. Unbounded, a crowd of logins (with real or made-up usernames: an unknown user costs
//! the same check, so that both answers take the same time) takes the process to gigabytes.
//! So the work is bounded: at most `workers` run at once, on the blocking threads, each with one
//! of at most `workers` memory buffers; at most `queue` more wait, for a short while; beyond
//! that, and after that while, the answer is 503 with `Retry-After`. A buffer is kept for the
//! next check only while checks keep coming (a burst of logins reuses them); when the last one
//! admitted ends, the buffers are freed, and their memory goes back to the system (jemalloc
//! returns allocations this large at once), instead of staying resident between logins.

use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::Error;

/// How long a check may wait for a worker before the answer is 503.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The largest memory cost of a stored hash this server checks (KiB): hashes are ours, made
/// with the default 19 MiB; anything far beyond is not, and is refused rather than allocated.
const MAX_M_COST: u32 = 64 * 1024;

/// The bounded password work of one server.
pub struct Passwords {
    /// Checks running or waiting.
    admitted: Semaphore,
    /// Checks running.
    running: Semaphore,
    /// Checks admitted at most: running and waiting.
    capacity: usize,
    /// Memory buffers of checks that ended while others were admitted, for them to reuse.
    buffers: Mutex<Vec<Vec<Block>>>,
    /// The hash an unknown user's password is checked against.
    dummy: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("running", &self.running.available_permits())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// `workers` checks at once (at least one), `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> Passwords {
        let workers = workers.max(1);
        Passwords {
            admitted: Semaphore::new(workers + queue),
            capacity: workers + queue,
            running: Semaphore::new(workers),
            buffers: Mutex::new(Vec::with_capacity(workers)),
            dummy: tokio::sync::OnceCell::new(),
        }
    }

    /// The default number of workers: the machine's cores.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// Hashes a password (a PHC string: `$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
        let params = Params::DEFAULT;
        let output = self
            .run(params.clone(), move |blocks| {
                let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
                argon2id(params)
                    .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
                    .map(|()| out)
                    .map_err(|e| Error::internal(e.to_string()))
            })
            .await??;
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
        let output =
            argon2::password_hash::Output::new(&output).map_err(|e| Error::internal(e.to_string()))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: argon2::password_hash::ParamsString::try_from(&Params::DEFAULT)
                .map_err(|e| Error::internal(e.to_string()))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Checks a password against a stored hash; with no hash (an unknown user), against a dummy
    /// one, so that both answers take the same time and the same memory.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Error> {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => self.dummy.get_or_try_init(|| self.hash("not anyone's password".into())).await?.clone(),
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::internal(format!("stored hash: {e}")))?;
        let params = Params::try_from(&parsed).map_err(|e| Error::internal(format!("stored hash: {e}")))?;
        if parsed.algorithm != Algorithm::Argon2id.ident() || params.m_cost() > MAX_M_COST {
            return Err(Error::internal("a stored hash is not one of this server's argon2id hashes"));
        }
        let mut salt = [0u8; 64];
        let salt = parsed
            .salt
            .ok_or_else(|| Error::internal("a stored hash has no salt"))?
            .decode_b64(&mut salt)
            .map_err(|e| Error::internal(format!("stored hash: {e}")))?
            .to_vec();
        let expected =
            parsed.hash.ok_or_else(|| Error::internal("a stored hash has no hash"))?.as_bytes().to_vec();
        let matches = self
            .run(params.clone(), move |blocks| {
                let mut out = vec![0u8; expected.len()];
                argon2id(params)
                    .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
                    .map(|()| bool::from(out.as_slice().ct_eq(expected.as_slice())))
                    .map_err(|e| Error::internal(e.to_string()))
            })
            .await??;
        Ok(matches && known)
    }

    /// Runs `work` on a blocking thread with a memory buffer for `params`, once a worker is
    /// free; 503 when too many wait, or waited too long.
    async fn run<R: Send + 'static>(
        &self,
        params: Params,
        work: impl FnOnce(&mut [Block]) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let busy = || Error::Busy("too many password checks at once; try again in a moment");
        let admitted = self.admitted.try_acquire().map_err(|_| busy())?;
        let _running = tokio::time::timeout(QUEUE_WAIT, self.running.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let blocks = params.block_count();
        let mut buffer = self.buffers.lock().map_err(|_| Error::internal("password buffers poisoned"))?.pop();
        let (result, buffer) = tokio::task::spawn_blocking(move || {
            let mut buffer = match buffer.take() {
                Some(buffer) if buffer.len() >= blocks => buffer,
                _ => vec![Block::default(); blocks.max(Params::DEFAULT.block_count())],
            };
            let result = work(&mut buffer[..blocks]);
            (result, buffer)
        })
        .await
        .map_err(Error::internal)?;
        // Kept for a check admitted meanwhile (a buffer larger than the default's is not); when
        // none is, this buffer and any kept are freed, on a blocking thread (19 MiB each). This
        // check leaves the admitted ones under the lock, so that of two ending together, the
        // second sees the first gone and frees both buffers.
        let freed = match self.buffers.lock() {
            Ok(mut buffers) => {
                let others = self.capacity - self.admitted.available_permits() - 1;
                drop(admitted);
                if others == 0 {
                    buffers.push(buffer);
                    std::mem::take(&mut *buffers)
                } else {
                    if buffer.len() == Params::DEFAULT.block_count() {
                        buffers.push(buffer);
                    }
                    Vec::new()
                }
            }
            Err(_) => vec![buffer],
        };
        if !freed.is_empty() {
            drop(tokio::task::spawn_blocking(move || drop(freed)));
        }
        Ok(result)
    }
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let passwords = Passwords::new(2, 2);
        let hash = passwords.hash("Correct-Horse-42".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(passwords.verify("Correct-Horse-42".into(), Some(hash.clone())).await.unwrap());
        assert!(!passwords.verify("correct-horse-42".into(), Some(hash)).await.unwrap());
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
        assert!(!passwords.verify("not anyone's password".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_from_the_argon2_crate_itself_verify_too() {
        use argon2::PasswordHasher;
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let hash = Argon2::default().hash_password(b"Correct-Horse-42", &salt).unwrap().to_string();
        let passwords = Passwords::new(1, 0);
        assert!(passwords.verify("Correct-Horse-42".into(), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn beyond_the_workers_and_the_queue_the_answer_is_busy() {
        let passwords = std::sync::Arc::new(Passwords::new(1, 1));
        let hash = passwords.hash("Correct-Horse-42".into()).await.unwrap();
        let checks: Vec<_> = (0..6)
            .map(|_| {
                let (passwords, hash) = (passwords.clone(), hash.clone());
                tokio::spawn(async move { passwords.verify("wrong".into(), Some(hash)).await })
            })
            .collect();
        let mut busy = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(false) => {}
                Err(Error::Busy(_)) => busy += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(busy >= 3, "one runs, one waits, the rest are turned away: {busy} busy");
        // The last check to end frees the buffers: none stays resident between logins.
        assert!(passwords.buffers.lock().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn buffers_are_kept_only_while_checks_keep_coming() {
        let passwords = std::sync::Arc::new(Passwords::new(2, 8));
        let hash = passwords.hash("Correct-Horse-42".into()).await.unwrap();
        assert!(passwords.buffers.lock().unwrap().is_empty(), "a lone hash keeps no buffer");
        let checks: Vec<_> = (0..8)
            .map(|_| {
                let (passwords, hash) = (passwords.clone(), hash.clone());
                tokio::spawn(async move { passwords.verify("wrong".into(), Some(hash)).await })
            })
            .collect();
        for check in checks {
            assert!(!check.await.unwrap().unwrap());
        }
        // None is left after the last check ends, and every admission was given back.
        assert!(passwords.buffers.lock().unwrap().is_empty());
        assert_eq!(passwords.admitted.available_permits(), passwords.capacity);
    }
}
