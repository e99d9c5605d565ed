//! Group commit, where the database has a single writer (SQLite): writes that arrive while one
//! is being made wait for it, then commit together in one transaction, each inside its own
//! savepoint.
//!
//! Why: in WAL mode SQLite appends every page a transaction changed to the log when it commits
//! (two system calls and a checksum per page). A new product changes about nine b-tree pages (its
//! row, five sort indexes, the id sequence, its tag links); products created together share most
//! of them (the table's last leaf, the time indexes, the links, the sequence), so n of them in
//! one commit write far fewer pages than n commits do.
//!
//! What the caller sees does not change:
//! - it is answered once the commit that holds its write is over, so a write answered is as
//!   durable as any other (`synchronous=NORMAL`);
//! - a write whose statement fails is rolled back to its savepoint alone, and answered with that
//!   failure; the others in its group commit;
//! - if the group's transaction fails as a whole (its `COMMIT`, an I/O error that ended it), no
//!   write in it was made, and each is answered with that failure;
//! - a write whose caller has gone (its request cancelled) before its group starts is not made.
//!
//! Nothing waits to fill a group: a write that finds the writer idle is made at once, alone, in
//! one hand-off to the connection's thread (`BEGIN IMMEDIATE; …; COMMIT`), as it would be without
//! grouping. A group of several runs on a thread of its own ([`Worker`]) with the connection's
//! SQLite handle locked (`on_this_thread`): its statements go straight to SQLite, without a round
//! trip to the connection's thread for each write. The transaction begins with the first write's
//! statements and commits with the last's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{acquire, on_this_thread, Db, Guard, Health, OpenTransaction, Run, Sql};
use crate::error::Error;
use crate::store::cache::Generation;

/// Writes committed together at most: a bound on how long the last one waits for the others.
const GROUP: usize = 64;

/// Writes waiting at most; a request that finds the queue full waits for room.
const QUEUE: usize = 1_024;

type Row = <Db as sqlx::Database>::Row;

/// A write's rows, or why it was not made.
type Outcome = Result<Vec<Row>, Failed>;

/// Why a grouped write was not made.
pub(super) enum Failed {
    /// One of its own statements failed (for the caller to interpret: a missing reference…).
    Own(sqlx::Error),
    /// Its group could not be written (the database is unavailable, the commit failed).
    Group(Error),
}

/// A write: statements run in order, atomically, and the answer's channel.
struct Job {
    sql: Sql,
    reply: oneshot::Sender<Outcome>,
}

/// The queue of writes to the task that makes them ([`Writes::serve`]).
pub(super) struct Group {
    queue: mpsc::Sender<Job>,
    made: Arc<Made>,
}

/// Transactions committed and the writes they held, since the start.
#[derive(Default)]
struct Made {
    groups: AtomicU64,
    writes: AtomicU64,
}

/// What the task needs of the store: its write pool and what goes with a write.
struct Writes {
    pool: sqlx::Pool<Db>,
    health: Arc<Health>,
    guard: Guard,
    generation: Generation,
    made: Arc<Made>,
    /// The thread groups are written on, from the first group on.
    worker: Option<Worker>,
}

/// A job for the [`Worker`]'s thread.
type Work = Box<dyn FnOnce() + Send>;

/// The one thread that writes the groups, for as long as the store is open.
///
/// Not tokio's blocking pool (`spawn_blocking`): a group handed to the pool while the thread
/// that wrote the last one is still on its way back to it gets another thread, and from then on
/// two threads take turns at the groups, each with its own allocator cache (jemalloc's) filled
/// with what the other frees. Under the benchmark's stream of creates that happened in most runs
/// and cost up to 3 MB of resident memory (bench/README.md, "One thread for the groups").
struct Worker {
    jobs: std::sync::mpsc::Sender<Work>,
}

impl Worker {
    /// Starts the thread (from inside a tokio runtime); it ends when the `Worker` is dropped,
    /// after the job it is running.
    fn start() -> std::io::Result<Worker> {
        let (jobs, queue) = std::sync::mpsc::channel::<Work>();
        // Inside tokio's context, as a blocking-pool thread is: a pooled connection dropped on
        // this thread is given back to its pool by a task.
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new().name("storefront-writes".to_string()).spawn(move || {
            let _context = runtime.enter();
            for job in queue {
                // A job that panics drops its answer's sender (its caller is told), not the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;
        Ok(Worker { jobs })
    }

    /// `work`'s result, run on the thread; `None` if it panicked.
    async fn run<R: Send + 'static>(&self, work: impl FnOnce() -> R + Send + 'static) -> Option<R> {
        let (done, result) = oneshot::channel();
        let job: Work = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

impl Group {
    /// Starts the task that makes the writes (on the current tokio runtime); it ends when the
    /// store is dropped, after the writes queued so far.
    pub(super) fn start(
        pool: sqlx::Pool<Db>,
        health: Arc<Health>,
        guard: Guard,
        generation: Generation,
    ) -> Group {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let made = Arc::new(Made::default());
        tokio::spawn(
            Writes { pool, health, guard, generation, made: made.clone(), worker: None }.serve(jobs),
        );
        Group { queue, made }
    }

    /// Transactions committed so far, and the writes they held.
    pub(super) fn made(&self) -> crate::store::GroupedWrites {
        crate::store::GroupedWrites {
            groups: self.made.groups.load(Ordering::Relaxed),
            writes: self.made.writes.load(Ordering::Relaxed),
        }
    }

    /// Makes the write `sql` (statements run atomically) with the writes queued beside it; its
    /// rows, in order.
    pub(super) async fn write(&self, sql: Sql) -> Result<Vec<Row>, Failed> {
        let (reply, answer) = oneshot::channel();
        let gone = || Failed::Group(Error::Unavailable(sqlx::Error::PoolClosed));
        self.queue.send(Job { sql, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl Writes {
    async fn serve(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut jobs = Vec::with_capacity(GROUP);
        while queue.recv_many(&mut jobs, GROUP).await > 0 {
            let (writes, replies): (Vec<Sql>, Vec<_>) =
                jobs.drain(..).filter(|job| !job.reply.is_closed()).map(|job| (job.sql, job.reply)).unzip();
            let outcomes = self.commit(writes).await;
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
    }

    /// Makes `writes` in one transaction; their outcomes, in order. The caches' generation moves
    /// on once the transaction is over, before anyone is answered.
    async fn commit(&mut self, writes: Vec<Sql>) -> Vec<Outcome> {
        if writes.is_empty() {
            return Vec::new();
        }
        if let Err(e) = self.guard.check() {
            let source = match e {
                Error::Unavailable(source) => source,
                other => sqlx::Error::Protocol(other.to_string()),
            };
            return failed(writes.len(), None, &source);
        }
        let _written = self.generation.write();
        let mut connection = match acquire(&self.health, &self.pool).await {
            Ok(connection) => connection,
            Err(e) => return failed(writes.len(), None, &e),
        };
        if let [write] = &writes[..] {
            // Alone: one hand-off, as without grouping.
            let mut open = OpenTransaction { connection: &mut connection, over: false };
            let text = format!("BEGIN IMMEDIATE; {}; COMMIT", write.text);
            let result = write.query_text(&text).fetch_all(&mut **open.connection).await;
            open.over = match &result {
                Ok(_) => true,
                Err(_) => sqlx::query("ROLLBACK").execute(&mut **open.connection).await.is_ok(),
            };
            self.made(usize::from(result.is_ok()));
            return vec![result.map_err(Failed::Own)];
        }
        // Several: the whole group on the worker's thread with the connection's handle locked,
        // not a hand-off to the connection's thread per write (see `group`).
        let n = writes.len();
        let worker = match &mut self.worker {
            Some(worker) => worker,
            none => match Worker::start() {
                Ok(worker) => none.insert(worker),
                Err(e) => return failed(n, None, &sqlx::Error::Io(e)),
            },
        };
        let ran = worker
            .run(move || {
                let mut open = OpenTransaction { connection: &mut connection, over: false };
                match on_this_thread(open.connection, |run| group(run, &writes)) {
                    Ok((outcomes, over)) => {
                        open.over = over;
                        outcomes
                    }
                    // The handle could not be locked (the connection's thread is gone): nothing
                    // began, and the connection is closed.
                    Err(e) => failed(n, None, &e),
                }
            })
            .await;
        let outcomes = ran.unwrap_or_else(|| failed(n, None, &sqlx::Error::WorkerCrashed));
        self.made(outcomes.iter().filter(|outcome| outcome.is_ok()).count());
        outcomes
    }

    /// Counts a transaction committed with `writes` writes made in it.
    fn made(&self, writes: usize) {
        if writes > 0 {
            self.made.groups.fetch_add(1, Ordering::Relaxed);
            self.made.writes.fetch_add(writes as u64, Ordering::Relaxed);
        }
    }
}

/// Makes `writes` (two or more) in one transaction through `run`, each in its own savepoint;
/// their outcomes, in order, and whether the transaction is over (committed or never begun).
///
/// The transaction begins with the first write's statements and commits with the last's. A
/// failure there is told apart by whether the write's savepoint can still be rolled back to:
/// if it can, the write failed alone.
fn group(run: &mut Run<'_>, writes: &[Sql]) -> (Vec<Outcome>, bool) {
    let last = writes.len() - 1;
    let mut outcomes: Vec<Result<Vec<Row>, sqlx::Error>> = Vec::with_capacity(writes.len());
    for (i, write) in writes.iter().enumerate() {
        let begin = if i == 0 { "BEGIN IMMEDIATE; " } else { "" };
        let commit = if i == last { "; COMMIT" } else { "" };
        let text = format!("{begin}SAVEPOINT grouped; {}; RELEASE grouped{commit}", write.text);
        let result = write.arguments().and_then(|arguments| run(text, arguments));
        match result {
            Ok(rows) => outcomes.push(Ok(rows)),
            Err(e) => {
                let undone = run("ROLLBACK TO grouped; RELEASE grouped".to_string(), Default::default());
                if undone.is_err() {
                    // No savepoint: the transaction did not begin, its commit failed, or the
                    // failure ended it. Nothing in it was made (the connection is closed if it
                    // is still open: `OpenTransaction`).
                    if i == 0 || i == last {
                        return (failed(writes.len(), None, &e), false);
                    }
                    let mut all = failed(writes.len(), Some(i), &e);
                    all[i] = Err(Failed::Own(e));
                    return (all, false);
                }
                outcomes.push(Err(e));
            }
        }
    }
    if outcomes.last().is_some_and(Result::is_err) {
        // The last write failed alone, before its `COMMIT`: the others are still to commit.
        if let Err(e) = run("COMMIT".to_string(), Default::default()) {
            return (failed(writes.len(), None, &e), false);
        }
    }
    (outcomes.into_iter().map(|outcome| outcome.map_err(Failed::Own)).collect(), true)
}

/// The outcomes of `n` writes that were not made because their group could not be written, for
/// `error` (the write at `cause`, if any, is the one whose failure ended the group's transaction).
fn failed(n: usize, cause: Option<usize>, error: &sqlx::Error) -> Vec<Outcome> {
    let (why, unavailable) = (error.to_string(), crate::store::is_unavailable(error));
    (0..n)
        .map(|i| {
            let why = if cause.is_some_and(|cause| cause != i) {
                format!("a write committed with this one failed and ended their transaction: {why}")
            } else {
                why.clone()
            };
            Err(Failed::Group(if unavailable {
                Error::Unavailable(sqlx::Error::Protocol(why))
            } else {
                Error::internal(why)
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Worker;

    #[tokio::test]
    async fn one_thread_for_every_job_even_after_a_panic() {
        let worker = Worker::start().unwrap();
        let first = worker.run(|| std::thread::current().id()).await.unwrap();
        assert_ne!(first, std::thread::current().id(), "not the caller's thread");
        let panicked = worker.run(|| -> u8 { panic!("a job that panics") }).await;
        assert!(panicked.is_none(), "its caller is told");
        for _ in 0..3 {
            assert_eq!(worker.run(|| std::thread::current().id()).await, Some(first), "the same thread");
        }
        let name = worker.run(|| std::thread::current().name().map(str::to_string)).await.unwrap();
        assert_eq!(name.as_deref(), Some("storefront-writes"));
    }
}
