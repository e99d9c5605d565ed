//! Setup and teardown: a real server on 127.0.0.1:0 with a fresh database per test.
//!
//! The database is a new SQLite file, or, when `STOREFRONT_TEST_POSTGRES_URL` names a
//! PostgreSQL server (CI sets it), a new database created there and dropped afterwards.
//! Each server logs to its own file, which is kept (and its path printed) when the test fails.

use std::path::PathBuf;

use storefront::config::Config;
use storefront_client::Client;

/// The environment variable that points the suite at PostgreSQL (an admin URL: the suite
/// creates and drops a database per test there).
pub const POSTGRES_ENV: &str = "STOREFRONT_TEST_POSTGRES_URL";

/// A running server, its clients, and what to clean up.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// The generated client, as a Rust consumer uses it.
    pub client: Client,
    /// For what the generated client cannot express (raw bodies, missing headers).
    pub http: reqwest::Client,
    running: Option<storefront::Running>,
    database: Database,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

enum Database {
    Sqlite,
    Postgres { admin_url: String, name: String },
}

impl TestApp {
    /// Starts a server with the default configuration.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Starts a server after `adjust` has changed its configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (url, database) = match std::env::var(POSTGRES_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("sf_test_{}", uuid_like());
                admin(&admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
                (replace_database(&admin_url, &name), Database::Postgres { admin_url, name })
            }
            _ => (format!("sqlite://{}", dir.path().join("test.db").display()), Database::Sqlite),
        };
        let mut config = Config::with_database(url);
        config.bind = "127.0.0.1:0".parse().expect("an address");
        config.db_max_connections = 4;
        adjust(&mut config);
        let log_path = dir.path().join("server.log");
        let log = storefront::logging::to_file(&log_path).expect("a log file");
        let running = storefront::start(config, log).await.expect("the server starts");
        let base = format!("http://{}", running.local_addr());
        TestApp {
            client: Client::new(&base),
            http: reqwest::Client::new(),
            base,
            running: Some(running),
            database,
            log_path,
            _dir: dir,
        }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Dropshot's own listener, behind the edge.
    pub fn internal_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.as_ref().expect("running").internal_addr())
    }

    /// The server's database, for the few tests that arrange state the API cannot.
    pub fn db(&self) -> &storefront::db::Db {
        self.running.as_ref().expect("running").db()
    }

    /// Loads the tutorials' demo catalog.
    pub async fn seed_demo(&self) {
        storefront::db::demo::seed(self.db()).await.expect("the demo catalog loads");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!("storefront-test-{}.log", uuid_like()));
            if std::fs::copy(&self.log_path, &keep).is_ok() {
                eprintln!("server log kept at {}", keep.display());
            }
        }
        // The server's tasks live on the test's runtime, which ends with the test; Drop cannot
        // await, so dropping the database (FORCE closes the pool's connections) happens on a
        // runtime of its own.
        drop(self.running.take());
        if let Database::Postgres { admin_url, name } =
            std::mem::replace(&mut self.database, Database::Sqlite)
        {
            std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime
                    .block_on(admin(&admin_url, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")));
            })
            .join()
            .expect("dropping the test database");
        }
    }
}

/// Runs one statement on the PostgreSQL admin connection.
async fn admin(url: &str, statement: &str) {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url).await.expect("PostgreSQL answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// `postgres://user@host:port/db?x` with `db` replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:x}_{}_{}", nanos, std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The status of a client error, for asserting on documented error responses.
pub fn status_of<T: std::fmt::Debug>(
    result: Result<T, storefront_client::Error<storefront_client::types::Problem>>,
) -> u16 {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error.status().map(|s| s.as_u16()).unwrap_or_else(|| panic!("no status in {error:?}")),
    }
}

/// The problem body of a client error.
pub fn problem_of<T: std::fmt::Debug>(
    result: Result<T, storefront_client::Error<storefront_client::types::Problem>>,
) -> storefront_client::types::Problem {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(storefront_client::Error::ErrorResponse(response)) => response.into_inner(),
        Err(other) => panic!("expected a problem, got {other:?}"),
    }
}

/// The fields named by a 422 problem, each once, in order.
pub fn invalid_fields(problem: &storefront_client::types::Problem) -> Vec<String> {
    assert_eq!(problem.status, 422, "{problem:?}");
    let mut fields: Vec<String> = problem.errors.iter().map(|e| e.field.clone()).collect();
    fields.dedup();
    fields
}

/// Creates a category through the API.
pub async fn create_category(app: &TestApp, name: &str) -> storefront_client::types::Category {
    app.client
        .category_create()
        .body_map(|b| b.name(name))
        .send()
        .await
        .expect("category created")
        .into_inner()
}

/// Creates a product through the API.
pub async fn create_product(
    app: &TestApp,
    category_id: u64,
    name: &str,
    price: &str,
    stock: i64,
    tags: &[&str],
) -> storefront_client::types::Product {
    let tags: Vec<storefront_client::types::TagName> =
        tags.iter().map(|t| (*t).try_into().expect("a tag name")).collect();
    app.client
        .product_create()
        .body_map(|b| {
            b.name(name)
                .price(price)
                .stock(stock)
                .category_id(std::num::NonZeroU64::new(category_id).expect("an id"))
                .tags(Some(tags))
        })
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e:?}"))
        .into_inner()
}
