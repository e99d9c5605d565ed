//! Setup and teardown: a real server on 127.0.0.1:0 with a fresh database per test.
//!
//! The database is a new SQLite file, or, when `STOREFRONT_TEST_POSTGRES_URL` names a
//! PostgreSQL server (CI sets it), a new database created there and dropped afterwards.
//! Each server logs to its own file, which is kept (and its path printed) when the test fails.

use std::path::PathBuf;

use storefront::app::{Actor, NewAccount};
use storefront::config::Config;
use storefront_client::types::{Role, TokenPair};
use storefront_client::Client;

/// The environment variable that points the suite at PostgreSQL (an admin URL: the suite
/// creates and drops a database per test there).
pub const POSTGRES_ENV: &str = "STOREFRONT_TEST_POSTGRES_URL";

/// The admin every test server starts with.
pub const ADMIN: (&str, &str) = ("admin", "Admin-Pass-1");

/// Generous limits, so that only the tests about rate limits meet them.
pub const TEST_RATE_LIMITS: &str =
    "auth=10000/60s,auth-unknown-token=10000/60s,login-failures=10000/60s,default=100000/60s,admin=100000/60s";

/// A running server, its clients, and what to clean up.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// The generated client, as a Rust consumer uses it, logged in as the admin.
    pub client: Client,
    /// The generated client without credentials.
    pub anonymous: Client,
    /// For what the generated client cannot express (raw bodies, missing headers), logged in
    /// as the admin.
    pub http: reqwest::Client,
    /// Raw HTTP without credentials.
    pub anonymous_http: reqwest::Client,
    /// The server's database (for a second server on the same one).
    pub database_url: String,
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
        TestApp::spawn_with_clock(storefront::clock::Clock::system(), adjust).await
    }

    /// Starts a server after `adjust`, without the admin and clients the others get (for servers
    /// the usual clients cannot reach: HTTPS).
    pub async fn spawn_plain_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::start(storefront::clock::Clock::system(), adjust, false).await
    }

    /// Starts a server that tells time by `clock` (a manual one moves only when told to).
    pub async fn spawn_with_clock(
        clock: storefront::clock::Clock,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        TestApp::start(clock, adjust, true).await
    }

    async fn start(
        clock: storefront::clock::Clock,
        adjust: impl FnOnce(&mut Config),
        with_admin: bool,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (url, database) = match std::env::var(POSTGRES_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("sf_test_{}", uuid_like());
                admin(&admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
                (replace_database(&admin_url, &name), Database::Postgres { admin_url, name })
            }
            _ => (format!("sqlite://{}", dir.path().join("test.db").display()), Database::Sqlite),
        };
        let mut config = Config::with_database(url.clone());
        config.bind = "127.0.0.1:0".parse().expect("an address");
        config.db_max_connections = 4;
        config.jwt_secret = Some(storefront::config::Secret("a-test-secret-that-is-32-bytes-long!".into()));
        config.rate_limits = TEST_RATE_LIMITS.parse().expect("rate limits");
        // Photos in the test's own directory, whatever the database (see `TestApp::photo_files`).
        config.photo_store = Some(storefront::photos::Location::Directory(dir.path().join("photos")));
        adjust(&mut config);
        let log_path = dir.path().join("server.log");
        let log = storefront::logging::to_file(&log_path).expect("a log file");
        let running = storefront::start_with_clock(config, log, clock).await.expect("the server starts");
        let base = format!("http://{}", running.local_addr());
        let anonymous = Client::anonymous(&base);
        let admin_token = if with_admin {
            let admin = NewAccount {
                username: ADMIN.0.into(),
                email: "admin@example.com".into(),
                password: ADMIN.1.into(),
            };
            running.app().create_admin(&Actor::Operator, &admin).await.expect("the first admin");
            login(&anonymous, ADMIN.0, ADMIN.1).await
        } else {
            String::new()
        };
        TestApp {
            client: authorized_client(&base, &admin_token),
            anonymous,
            http: authorized_http(&admin_token),
            anonymous_http: reqwest::Client::new(),
            database_url: url,
            base,
            running: Some(running),
            database,
            log_path,
            _dir: dir,
        }
    }

    /// A new account with `role`, logged in.
    pub async fn user(&self, username: &str, role: Role) -> Identity {
        let password = "Correct-Horse-42";
        let user = self
            .anonymous
            .auth_register()
            .body_map(|b| b.username(username).email(format!("{username}@example.com")).password(password))
            .send()
            .await
            .unwrap_or_else(|e| panic!("registering {username}: {e:?}"))
            .into_inner();
        if role != Role::Customer {
            self.client
                .user_update()
                .id(user.id.0)
                .body_map(|b| b.role(Some(role)))
                .send()
                .await
                .unwrap_or_else(|e| panic!("making {username} {role}: {e:?}"));
        }
        let token = login(&self.anonymous, username, password).await;
        Identity {
            id: user.id.0,
            client: authorized_client(&self.base, &token),
            http: authorized_http(&token),
        }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The application behind the server, for the few tests that arrange what the API cannot,
    /// or that check a rule without HTTP.
    pub fn app(&self) -> &storefront::app::App {
        self.running.as_ref().expect("running").app()
    }

    /// The address of the metrics' own listener, when configured.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.as_ref().expect("running").metrics_addr()
    }

    /// The names of the files in the server's photo directory, sorted.
    pub fn photo_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self._dir.path().join("photos"))
            .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// What the server has logged so far (JSON lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Loads the tutorials' demo catalog.
    pub async fn seed_demo(&self) {
        self.app().seed_demo().await.expect("the demo catalog loads");
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

/// Someone with an account, and their clients.
pub struct Identity {
    pub id: std::num::NonZeroU64,
    pub client: Client,
    pub http: reqwest::Client,
}

/// Logs in and returns the token pair.
pub async fn login_pair(client: &Client, username: &str, password: &str) -> TokenPair {
    client
        .auth_login()
        .body_map(|b| b.username(username).password(password))
        .send()
        .await
        .unwrap_or_else(|e| panic!("logging in as {username}: {e:?}"))
        .into_inner()
}

/// Logs in and returns the access token.
pub async fn login(client: &Client, username: &str, password: &str) -> String {
    login_pair(client, username, password).await.access_token
}

/// Default headers carrying a bearer token.
fn bearer(token: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers
        .insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("a header value"));
    headers
}

/// The generated client, sending `token` with every request.
pub fn authorized_client(base: &str, token: &str) -> Client {
    Client::with_bearer_token(base, token)
}

/// Raw HTTP sending `token` with every request.
pub fn authorized_http(token: &str) -> reqwest::Client {
    reqwest::Client::builder().default_headers(bearer(token)).build().expect("a client")
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

/// A value that satisfies `schema`: its example, else the first enum value, else something of
/// its type; objects get their required properties (and, with `minProperties`, the others).
pub fn sample(schema: &serde_json::Value, spec: &serde_json::Value) -> serde_json::Value {
    if let Some(reference) = schema.get("$ref").and_then(serde_json::Value::as_str) {
        return sample(spec.pointer(reference.trim_start_matches('#')).unwrap(), spec);
    }
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    match schema.get("type").and_then(serde_json::Value::as_str) {
        Some("object") => {
            let properties =
                schema.get("properties").and_then(serde_json::Value::as_object).cloned().unwrap_or_default();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(serde_json::Value::as_array)
                .map_or_else(Vec::new, |r| r.iter().filter_map(serde_json::Value::as_str).collect());
            let all = schema.get("minProperties").is_some();
            serde_json::Value::Object(
                properties
                    .iter()
                    .filter(|(name, _)| all || required.contains(&name.as_str()))
                    .map(|(name, property)| (name.clone(), sample(property, spec)))
                    .collect(),
            )
        }
        Some("array") => serde_json::json!([]),
        Some("integer") => schema.get("minimum").cloned().unwrap_or(serde_json::json!(1)),
        Some("boolean") => serde_json::json!(true),
        Some("string") if schema.get("format").and_then(serde_json::Value::as_str) == Some("email") => {
            serde_json::json!("someone@example.com")
        }
        _ => serde_json::json!("sample"),
    }
}

/// A server in a process of its own (the `storefront` binary), on a database, with extra
/// environment: for what must be measured or signalled as a process (memory, SIGTERM), or a
/// second instance.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub base: String,
    /// What it has logged on standard output since it said where it serves (JSON lines).
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        use std::io::BufRead;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"));
        command
            .env("DATABASE_URL", database_url)
            .env("STOREFRONT_BIND", "127.0.0.1:0")
            .env("STOREFRONT_LOG_FORMAT", "json")
            .env("STOREFRONT_RATE_LIMITS", TEST_RATE_LIMITS)
            .env("STOREFRONT_JWT_SECRET", "a-test-secret-that-is-32-bytes-long!");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the storefront binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let address = lines
            .by_ref()
            .take(50)
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
            .find(|line| line["msg"] == "serving")
            .and_then(|line| line["address"].as_str().map(String::from))
            .expect("the server says where it serves");
        // Keep draining its log so that it never blocks on a full pipe, and keep it.
        let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = std::sync::Arc::clone(&kept);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                keep.lock().expect("the log").push(line);
            }
        });
        ServerProcess { child, base: format!("http://{address}"), lines: kept }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process's peak resident memory, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
