//! The `storefront` command: serve the API, or run an operator task.

use std::process::ExitCode;

use std::io::Write as _;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use storefront::app::{Actor, NewAccount};
use storefront::config::{Config, ConfigFile, Secret};

/// jemalloc instead of glibc's allocator: a request allocates and frees a few dozen small
/// objects on whichever thread runs it, which jemalloc's thread caches serve in fewer
/// instructions (bench/README.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before the first allocation (`_RJEM_MALLOC_CONF` in the environment
/// still overrides any of them):
/// - `narenas:1`: one arena for all threads. By default each thread of the few this server
///   has (tokio's workers, SQLite's connection threads) may get its own of 4 per core, and each
///   arena keeps its own partly used pages; the thread caches serve most allocations, so the
///   one arena's lock is seldom taken.
/// - `dirty_decay_ms:1000`: pages freed go back to the system within about a second (by
///   default ten seconds; `muzzy_decay_ms` is already 0).
///
/// Measured (bench/README.md): 1–4 MB less resident under POSTs, the same throughput.
mod allocator_options {
    /// A C string's address, as jemalloc declares `malloc_conf` (`const char *`).
    #[repr(transparent)]
    pub struct Conf(*const u8);

    // SAFETY: the pointer is to a `'static`, immutable string.
    unsafe impl Sync for Conf {}

    /// jemalloc's `malloc_conf`, under the `_rjem_` prefix of tikv-jemalloc-sys.
    #[used]
    #[export_name = "_rjem_malloc_conf"]
    pub static MALLOC_CONF: Conf = Conf(c"narenas:1,dirty_decay_ms:1000".as_ptr().cast());
}

/// SQLite allocates on its own, through glibc's `malloc`, unless told otherwise: every column
/// value sqlx copies out of a row, every statement it runs, its page caches. With its default
/// memory statistics on, it also takes a global mutex at each allocation. Here it is told, once,
/// before it starts: jemalloc's functions, no statistics (nothing reads them). A list page of 20
/// costs about 72,000 instructions fewer, a GET 7,000 (bench/README.md).
mod sqlite_memory {
    use std::ffi::{c_int, c_void};

    use libsqlite3_sys as sqlite;
    use tikv_jemalloc_sys as jemalloc;

    /// Sizes SQLite asks about fit an `int`; a larger answer is clamped, never wrapped.
    fn to_int(n: usize) -> c_int {
        c_int::try_from(n).unwrap_or(c_int::MAX)
    }

    /// SQLite never asks for fewer than one byte; `max(1)` keeps that true for jemalloc.
    fn to_size(n: c_int) -> usize {
        usize::try_from(n).unwrap_or(0).max(1)
    }

    unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
        // SAFETY: jemalloc's malloc accepts any size; null on failure, which SQLite handles.
        unsafe { jemalloc::malloc(to_size(n)) }
    }

    unsafe extern "C" fn free(p: *mut c_void) {
        // SAFETY: SQLite frees only what `malloc`/`realloc` above gave it (or null).
        unsafe { jemalloc::free(p) }
    }

    unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
        // SAFETY: `p` came from jemalloc through these functions; null on failure leaves it valid.
        unsafe { jemalloc::realloc(p, to_size(n)) }
    }

    unsafe extern "C" fn size(p: *mut c_void) -> c_int {
        if p.is_null() {
            return 0;
        }
        // SAFETY: a live allocation of jemalloc's, as above.
        to_int(unsafe { jemalloc::malloc_usable_size(p) })
    }

    unsafe extern "C" fn roundup(n: c_int) -> c_int {
        // SAFETY: nallocx only computes a size class; 0 (an impossible size) leaves `n` as is.
        match unsafe { jemalloc::nallocx(to_size(n), 0) } {
            0 => n,
            rounded => to_int(rounded),
        }
    }

    unsafe extern "C" fn init(_: *mut c_void) -> c_int {
        sqlite::SQLITE_OK
    }

    unsafe extern "C" fn shutdown(_: *mut c_void) {}

    /// Configures SQLite's allocator and statistics. Must run before any SQLite connection
    /// opens; afterwards SQLite refuses (`SQLITE_MISUSE`) and keeps glibc's, which still works.
    pub fn use_jemalloc() -> Result<(), c_int> {
        let methods = sqlite::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: sqlite3_config is called before sqlite3_initialize (SQLite checks, and refuses
        // otherwise); SQLite copies `methods` before returning, so a local suffices; the
        // arguments have the types each option documents (a pointer to sqlite3_mem_methods, an
        // int).
        unsafe {
            accepted(sqlite::sqlite3_config(
                sqlite::SQLITE_CONFIG_MALLOC,
                &methods as *const sqlite::sqlite3_mem_methods,
            ))?;
            accepted(sqlite::sqlite3_config(sqlite::SQLITE_CONFIG_MEMSTATUS, 0 as c_int))
        }
    }

    /// `sqlite3_config`'s answer: `SQLITE_OK`, or the code it refused with.
    fn accepted(code: c_int) -> Result<(), c_int> {
        match code {
            sqlite::SQLITE_OK => Ok(()),
            refused => Err(refused),
        }
    }

    /// Bytes of a statement journal SQLite keeps in memory before it moves it to a temporary
    /// file (by default 64 KiB).
    ///
    /// A statement journal keeps the pages a savepoint changes as they were when it began, so that
    /// it can be rolled back to. The group commit (`store::sql::group`) runs each create in a
    /// savepoint of its own, and a create changes 11 to 24 pages that are already in the
    /// database: with SQLite's default, the journal of nearly every group outgrew 64 KiB, SQLite
    /// made a temporary file, and every later page of the group went to it, one `pwrite` each
    /// (80 % of the server's file writes under a stream of creates). This holds 31 pages, more
    /// than the most a create was seen to journal; SQLite takes the memory, one block of 128 KiB
    /// (the limit and the block's 8-byte header: a size class of jemalloc's), when a savepoint
    /// first changes a page, and frees it when the savepoint is released. A larger journal still
    /// moves to a file.
    ///
    /// It must stay under 128 KiB: a journal that moves to a file is written a block at a time,
    /// and SQLite's unix VFS writes at most 128 KiB − 1 bytes a call (`seekAndWriteFd` masks the
    /// length with `0x1ffff`), so that a larger block's write comes up short and the savepoint
    /// fails with `SQLITE_FULL`, "database or disk is full" (192 KiB did, in the test below).
    pub const STATEMENT_JOURNAL_IN_MEMORY: c_int = 128 * 1024 - 8;

    /// Sets [`STATEMENT_JOURNAL_IN_MEMORY`]. Must run before any SQLite connection opens, as
    /// [`use_jemalloc`]; otherwise SQLite refuses (`SQLITE_MISUSE`) and keeps its default.
    pub fn statement_journals_in_memory() -> Result<(), c_int> {
        // SAFETY: as in `use_jemalloc`; this option takes one int.
        accepted(unsafe {
            sqlite::sqlite3_config(sqlite::SQLITE_CONFIG_STMTJRNL_SPILL, STATEMENT_JOURNAL_IN_MEMORY)
        })
    }

    #[cfg(test)]
    mod tests {
        /// A savepoint is rolled back to exactly, whether its journal stays in memory (more pages
        /// than SQLite's default holds there: about 26 pages) or outgrows it and moves to a file
        /// (about 52).
        fn savepoints_roll_back_with_the_journal_in_memory() {
            savepoint_rolled_back(200);
            savepoint_rolled_back(400);
        }

        /// `rows` rows of 500 bytes, all changed in a savepoint, then rolled back to.
        fn savepoint_rolled_back(rows: i64) {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("journal.db").display());
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(async {
                use sqlx::{Connection, Executor};
                let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
                db.execute("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                    .await
                    .unwrap();
                for i in 0..rows {
                    sqlx::query("INSERT INTO t (id, body) VALUES ($1, $2)")
                        .bind(i)
                        .bind(format!("{i:0>500}"))
                        .execute(&mut db)
                        .await
                        .unwrap();
                }
                let before: String = sqlx::query_scalar("SELECT group_concat(body, '') FROM t").fetch_one(&mut db).await.unwrap();
                // Every page changed in the savepoint, one change kept before it, then the
                // savepoint undone.
                db.execute("BEGIN; UPDATE t SET body = 'kept' WHERE id = 0; SAVEPOINT s; UPDATE t SET body = body || 'x'; \
                            DELETE FROM t WHERE id % 7 = 0; ROLLBACK TO s; RELEASE s; COMMIT")
                    .await
                    .unwrap();
                let after: String = sqlx::query_scalar("SELECT group_concat(body, '') FROM t WHERE id > 0").fetch_one(&mut db).await.unwrap();
                assert_eq!(after, before[500..], "every row as before the savepoint");
                let kept: String = sqlx::query_scalar("SELECT body FROM t WHERE id = 0").fetch_one(&mut db).await.unwrap();
                assert_eq!(kept, "kept", "and the change before it kept");
                let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut db).await.unwrap();
                assert_eq!(check, "ok");
                db.close().await.unwrap();
            });
        }

        /// Both settings in one test: SQLite takes them only before it starts, once per process.
        #[test]
        fn sqlite_runs_on_jemalloc_with_statement_journals_in_memory() {
            super::use_jemalloc().expect("SQLite not yet started in this test process");
            super::statement_journals_in_memory().expect("SQLite not yet started in this test process");
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                let mut db = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
                sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                    .execute(&mut db)
                    .await
                    .unwrap();
                // Rows large and small, so that SQLite allocates, grows and frees through it.
                for i in 0..2000_i64 {
                    let body = "x".repeat(usize::try_from(i % 300 * 17).unwrap());
                    sqlx::query("INSERT INTO t (id, body) VALUES ($1, $2)")
                        .bind(i)
                        .bind(body)
                        .execute(&mut db)
                        .await
                        .unwrap();
                }
                let (count, total): (i64, i64) = sqlx::query_as("SELECT count(*), sum(length(body)) FROM t")
                    .fetch_one(&mut db)
                    .await
                    .unwrap();
                assert_eq!(count, 2000);
                assert_eq!(total, (0..2000_i64).map(|i| i % 300 * 17).sum::<i64>());
                db.close().await.unwrap();
            });
            savepoints_roll_back_with_the_journal_in_memory();
            // Too late now: SQLite has started, and says so instead of switching allocators.
            assert_eq!(super::use_jemalloc(), Err(libsqlite3_sys::SQLITE_MISUSE));
            assert_eq!(super::statement_journals_in_memory(), Err(libsqlite3_sys::SQLITE_MISUSE));
        }
    }
}

#[derive(Parser)]
#[command(version, about = "The Storefront API server", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, `serve` runs with these options.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations, then exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Load the tutorials' demo catalog (idempotent), then exit.
    SeedDemo {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Create an admin account (the first one, typically), then exit.
    CreateAdmin {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The new admin's username.
        #[arg(long)]
        username: String,
        /// The new admin's email address.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (otherwise from STOREFRONT_ADMIN_PASSWORD).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Check the configuration (file, environment) without starting: print each key's value and
    /// where it came from (secrets redacted), or what is wrong; exit status 0 when valid.
    CheckConfig {
        #[command(flatten)]
        file: FileArg,
    },
    /// Print the OpenAPI document the server implements.
    PrintSpec {
        /// yaml (as written) or json.
        #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
        format: String,
    },
}

/// The configuration file. `main` reads it before clap parses the command line (its values are
/// the defaults of the flags); here it is for `--help` and for clap to accept it.
#[derive(clap::Args)]
struct FileArg {
    /// A TOML configuration file (its keys: storefront.example.toml); environment variables and
    /// flags override its values.
    #[arg(long = "config", env = "STOREFRONT_CONFIG", value_name = "FILE")]
    config_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    file: FileArg,
    #[command(flatten)]
    config: Config,
    /// Load the demo catalog before serving.
    #[arg(long, env = "STOREFRONT_DEMO")]
    demo: bool,
}

/// The database of an operator's task; the rest of the configuration comes from the file and
/// the environment.
#[derive(clap::Args)]
struct DatabaseArgs {
    #[command(flatten)]
    file: FileArg,
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://storefront.db", hide_env_values = true)]
    database_url: Secret,
}

fn main() -> ExitCode {
    if let Err(code) = sqlite_memory::use_jemalloc() {
        // Nothing has opened SQLite yet, so this does not happen; if it did, glibc's allocator
        // would serve SQLite, correctly, only slower.
        eprintln!("storefront: SQLite keeps its own allocator (sqlite3_config answered {code})");
    }
    if let Err(code) = sqlite_memory::statement_journals_in_memory() {
        // As above: SQLite's default would serve, correctly, only slower.
        eprintln!(
            "storefront: SQLite keeps its statement journals' default (sqlite3_config answered {code})"
        );
    }
    let file = match ConfigFile::from_args(std::env::args_os()) {
        Ok(file) => file,
        Err(message) => {
            eprintln!("storefront: {message}");
            return ExitCode::from(2);
        }
    };
    let mut command = Cli::command();
    // The file's values are the defaults of the configuration's flags, wherever they appear.
    command = storefront::config::apply_file(command, file.as_ref());
    for name in ["serve", "migrate", "seed-demo", "create-admin"] {
        command = command.mut_subcommand(name, |sub| storefront::config::apply_file(sub, file.as_ref()));
    }
    let cli = match command.clone().try_get_matches().and_then(|matches| Cli::from_arg_matches(&matches)) {
        Ok(cli) => cli,
        Err(error)
            if error.use_stderr()
                && error.kind() != clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            eprintln!("storefront: {}", storefront::config::explain(&error, &storefront::config::command()));
            return ExitCode::from(2);
        }
        Err(error) => error.exit(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("storefront: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, file)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("storefront: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration of an operator's task: file and environment, with its own database.
fn operator_config(file: Option<&ConfigFile>, database: DatabaseArgs) -> Result<Config, String> {
    let (mut config, _) = Config::from_file_and_env(file)?;
    config.database_url = database.database_url;
    Ok(config)
}

async fn run(cli: Cli, file: Option<ConfigFile>) -> Result<(), String> {
    let file = file.as_ref();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(*args).await,
        Some(Command::CheckConfig { file: named }) => {
            let (_, described) = Config::from_file_and_env(file)?;
            if let Some(path) = &named.config_file {
                println!("# configuration file: {}", path.display());
            }
            print!("{described}");
            println!("# the configuration is valid");
            Ok(())
        }
        Some(Command::Migrate { database }) => {
            let config = operator_config(file, database)?;
            storefront::open_for_operator(&config, true).await?.store().close().await;
            println!("migrations applied");
            Ok(())
        }
        Some(Command::SeedDemo { database }) => {
            let config = operator_config(file, database)?;
            let app = storefront::open_for_operator(&config, false).await?;
            let seeded = app.seed_demo().await;
            app.store().close().await;
            let seeded = seeded.map_err(|e| format!("loading the demo catalog: {e}"))?;
            println!(
                "demo catalog loaded: {} categories, {} products, {} customers added",
                seeded.categories, seeded.products, seeded.customers
            );
            Ok(())
        }
        Some(Command::CreateAdmin { database, username, email, password_stdin }) => {
            let config = operator_config(file, database)?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                std::env::var("STOREFRONT_ADMIN_PASSWORD").map_err(|_| {
                    "give the password on standard input (--password-stdin) or in STOREFRONT_ADMIN_PASSWORD"
                })?
            };
            let app = storefront::open_for_operator(&config, false).await?;
            let new = NewAccount { username, email, password };
            let created = app.create_admin(&Actor::Operator, &new).await;
            app.store().close().await;
            let user = created.map_err(|e| format!("creating the admin: {}", describe(&e)))?;
            println!("admin {} created (id {})", user.username, user.id);
            Ok(())
        }
        Some(Command::PrintSpec { format }) => {
            let spec =
                if format == "json" { storefront::api::OPENAPI_JSON } else { storefront::api::OPENAPI_YAML };
            // A reader that stops early (`| head`) is not an error.
            match std::io::stdout().write_all(spec.as_bytes()).and_then(|()| std::io::stdout().flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing the spec: {e}")),
                _ => Ok(()),
            }
        }
    }
}

/// An error for a person at a terminal: the fields at fault, or the message.
fn describe(error: &storefront::error::Error) -> String {
    match error {
        storefront::error::Error::Invalid(fields) => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    args.config.check()?;
    // Dropped when `serve` returns, however it does: the lines the log holds are written.
    let (log, _flush) =
        storefront::logging::logger(args.config.log_format, args.config.log_level, args.config.log_flush());
    // sqlx (slow statements, connection errors) reports through `tracing`: into the same log.
    storefront::logging::forward_tracing(&log, args.config.log_level)?;
    if args.demo {
        let app = storefront::open_for_operator(&args.config, false).await?;
        let seeded = app.seed_demo().await;
        app.store().close().await;
        seeded.map_err(|e| format!("loading the demo catalog: {e}"))?;
    }
    let drain = args.config.shutdown_drain();
    let server = storefront::start(args.config, log.clone()).await?;
    shutdown_signal().await;
    // Readiness fails at once; the API is still served for the drain period, so that a load
    // balancer stops sending new requests before the listener closes. A second signal ends the
    // drain early.
    server.begin_shutdown();
    slog::info!(log, "shutting down"; "drain_secs" => drain.as_secs());
    if !drain.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(drain) => {}
            () = shutdown_signal() => slog::info!(log, "second signal: the drain ends early"),
        }
    }
    slog::info!(log, "closing the listener; open requests may finish");
    server.shutdown().await?;
    slog::info!(log, "stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
