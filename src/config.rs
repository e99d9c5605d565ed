//! Configuration: an optional TOML file, environment variables and command-line flags (each
//! overriding the one before), typed by clap and validated at start with a message naming the key.
//!
//! Every key of the file is a field of [`Config`] (its snake_case name); its environment variable
//! and flag are in `storefront serve --help`. The file's values become clap's defaults, so the
//! environment and the flags win over it. `storefront.example.toml` lists every key with its
//! default (a test keeps it complete). Secrets ([`SECRET_KEYS`]) are never printed.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the server is set up. Every field has a flag and an environment variable
/// (`storefront serve --help` lists them).
#[derive(Clone, clap::Args)]
pub struct Config {
    /// Address of the public listener.
    #[arg(long, env = "STOREFRONT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// `sqlite://path/to/file.db` (created when missing) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://storefront.db", hide_env_values = true)]
    pub database_url: Secret,

    /// Database connections for reads (and for writes too on PostgreSQL); 0 for the backend's
    /// own choice: on SQLite two per core the process may run on (at least 2), on PostgreSQL 8.
    #[arg(long, env = "STOREFRONT_DB_MAX_CONNECTIONS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub db_max_connections: u32,

    /// How long a request may wait for a database connection before the answer is 503.
    #[arg(long, env = "STOREFRONT_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub db_acquire_timeout_ms: u64,

    /// How long a request waits for a database connection while the database is known to be
    /// down (a failure or a failed readiness probe said so), before the answer is 503.
    #[arg(long, env = "STOREFRONT_DB_DOWN_ACQUIRE_TIMEOUT_MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub db_down_acquire_timeout_ms: u64,

    /// Statements that take at least this long are logged as warnings ("slow statement"), in
    /// milliseconds; 0 logs every statement so (to debug).
    #[arg(long, env = "STOREFRONT_DB_SLOW_STATEMENT_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub db_slow_statement_ms: u64,

    /// SQLite: how long a read may run on the request's own thread, without the hand-off to a
    /// connection thread, before it is interrupted and run again on the read pool, in
    /// microseconds; 0: every read goes through the pool.
    #[arg(long, env = "STOREFRONT_DB_INLINE_READ_US", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub db_inline_read_us: u64,

    /// Products kept in the in-process product cache (`GET /products/{id}` without a database
    /// read); 0 switches it off, and the cache of authenticated callers with it. This process's
    /// writes invalidate them at once.
    #[arg(long, env = "STOREFRONT_CACHE_ENTRIES", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    pub cache_entries: u64,

    /// How long a cached product or caller is served at most, in milliseconds: the bound on how
    /// long a write by another process (the CLI, another instance; a logout there) can go unseen.
    #[arg(long, env = "STOREFRONT_CACHE_TTL_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub cache_ttl_ms: u64,

    /// Refuse to start when the SQLite database file does not exist, instead of creating an
    /// empty one (always so with `STOREFRONT_ENVIRONMENT=production`).
    #[arg(long, env = "STOREFRONT_DB_NO_CREATE")]
    pub db_no_create: bool,

    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "STOREFRONT_MAX_BODY_BYTES", default_value_t = 65_536,
          value_parser = clap::value_parser!(u64).range(1_024..=1_073_741_824))]
    pub max_body_bytes: u64,

    /// How long a request may take before the answer is 503.
    #[arg(long, env = "STOREFRONT_REQUEST_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub request_timeout_ms: u64,

    /// Origins allowed to call the API from a browser (CORS), comma-separated; `*` for any.
    #[arg(long, env = "STOREFRONT_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// `development` (a signing secret is made up when none is set) or `production` (a secret of
    /// at least 32 bytes is required).
    #[arg(long, env = "STOREFRONT_ENVIRONMENT", default_value = "development")]
    pub environment: Environment,

    /// The secret that signs access tokens (HS256), at least 32 bytes.
    #[arg(long, env = "STOREFRONT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "STOREFRONT_ACCESS_TOKEN_TTL_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(30..=86_400))]
    pub access_token_ttl_secs: u64,

    /// Lifetime of refresh tokens, in seconds.
    #[arg(long, env = "STOREFRONT_REFRESH_TOKEN_TTL_SECS", default_value_t = 2_592_000,
          value_parser = clap::value_parser!(u64).range(60..=31_536_000))]
    pub refresh_token_ttl_secs: u64,

    /// How long an `Idempotency-Key` and the first answer to its request are kept, in seconds;
    /// a key reused later runs as a new request.
    #[arg(long, env = "STOREFRONT_IDEMPOTENCY_TTL_SECS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(60..=2_592_000))]
    pub idempotency_ttl_secs: u64,

    /// Password checks (argon2id, 19 MiB each) that run at once; 0 for one per core.
    #[arg(long, env = "STOREFRONT_PASSWORD_WORKERS", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=256))]
    pub password_workers: u16,

    /// Password checks that may wait for a worker; beyond them, 503 with `Retry-After`.
    #[arg(long, env = "STOREFRONT_PASSWORD_QUEUE", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(0..=4096))]
    pub password_queue: u16,

    /// Active API keys one account may have (409 beyond).
    #[arg(long, env = "STOREFRONT_MAX_API_KEYS_PER_USER", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_api_keys_per_user: u32,

    /// Where customers' photos are kept: a directory (`file:///var/lib/storefront/photos` or a
    /// path; created at start), `memory://` (lost at restart), or an S3-compatible bucket
    /// (`s3://bucket/prefix`, credentials and endpoint from the `AWS_*` variables). Default: a
    /// `photos` directory next to the SQLite database file, else `./photos`.
    #[arg(long, env = "STOREFRONT_PHOTO_STORE")]
    pub photo_store: Option<crate::photos::Location>,

    /// How long open requests may finish at shutdown; after it, connections are closed.
    #[arg(long, env = "STOREFRONT_SHUTDOWN_GRACE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,

    /// At shutdown, how long the API is still served while `/readyz` fails (so that a load
    /// balancer stops sending new requests) before the listener closes.
    #[arg(long, env = "STOREFRONT_SHUTDOWN_DRAIN_SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_drain_secs: u64,

    /// Rate-limit classes, `name=requests/window` (window in s, m or h), comma-separated. The
    /// spec names a class for every operation; `admin` replaces `default` for admins;
    /// `login-failures` counts the distinct usernames of failed logins per client address;
    /// `auth-unknown-token` the refreshes and logouts with a token of no login, per address.
    /// Classes not named keep their defaults.
    #[arg(
        long,
        env = "STOREFRONT_RATE_LIMITS",
        default_value = "auth=5/60s,auth-unknown-token=30/60s,login-failures=20/15m,default=300/60s,admin=3000/60s"
    )]
    pub rate_limits: crate::ratelimit::Classes,

    /// Proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` is believed.
    #[arg(long, env = "STOREFRONT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// An address of their own for the metrics (an admin address, kept off the public one);
    /// then `GET /metrics` on the public listener answers 404.
    #[arg(long, env = "STOREFRONT_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// The path of the metrics on `metrics_bind` (on the public listener they are at the spec's
    /// `/metrics`).
    #[arg(long, env = "STOREFRONT_METRICS_PATH", default_value = "/metrics", value_parser = parse_path)]
    pub metrics_path: String,

    /// PEM certificate chain for HTTPS; with `--tls-key`, the server speaks only HTTPS (and sends
    /// `Strict-Transport-Security`).
    #[arg(long, env = "STOREFRONT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "STOREFRONT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Log format: `json` (one object per line, for production), `terminal`, or `auto`
    /// (terminal when stderr is one, else JSON).
    #[arg(long, env = "STOREFRONT_LOG_FORMAT", default_value = "auto")]
    pub log_format: LogFormat,

    /// Lowest level logged: trace, debug, info, warn, error, critical.
    #[arg(long, env = "STOREFRONT_LOG_LEVEL", default_value = "info")]
    pub log_level: LogLevel,

    /// The JSON log's lines are written together, at most this many milliseconds after the
    /// first of them (or at 32 KiB, or at once for a warning or worse); 0 writes each line at
    /// once. A `write` per line costs a busy server about a tenth of its cached GETs.
    #[arg(long, env = "STOREFRONT_LOG_FLUSH_MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub log_flush_ms: u64,
}

/// A command of `Config`'s arguments alone: the keys of the configuration.
#[derive(clap::Parser)]
#[command(name = "storefront")]
struct Keys {
    #[command(flatten)]
    config: Config,
}

/// The keys whose values are never printed (a database URL may hold a password).
pub const SECRET_KEYS: [&str; 2] = ["database_url", "jwt_secret"];

/// The environment variable naming the configuration file (or `--config`).
pub const CONFIG_FILE_ENV: &str = "STOREFRONT_CONFIG";

/// The clap command whose arguments are the configuration's keys (its ids are the keys).
pub fn command() -> clap::Command {
    <Keys as clap::CommandFactory>::command()
}

impl Config {
    /// The defaults, with another database: for tests and embedding.
    pub fn with_database(database_url: impl Into<String>) -> Config {
        use clap::Parser;
        let mut config = Keys::parse_from(["storefront"]).config;
        config.database_url = Secret(database_url.into());
        config
    }

    /// The configuration from the file (when there is one) and the environment, validated:
    /// what the operator's commands use. Also a description of each key's value and where it
    /// came from, secrets redacted (`check-config` prints it).
    pub fn from_file_and_env(file: Option<&ConfigFile>) -> Result<(Config, String), String> {
        use clap::FromArgMatches;
        let command = apply_file(command(), file);
        let matches =
            command.clone().try_get_matches_from(["storefront"]).map_err(|e| explain(&e, &command))?;
        let config = Keys::from_arg_matches(&matches).map_err(|e| explain(&e, &command))?.config;
        config.check()?;
        Ok((config, describe(&self::command(), &matches, file)))
    }

    /// Checks what clap cannot check key by key: the signing secret, the TLS files, the
    /// database URL's scheme, that every rate-limit class the spec names is defined.
    pub fn check(&self) -> Result<(), String> {
        let url = self.database_url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err("database_url (DATABASE_URL) must start with sqlite: or postgres://".into());
        }
        self.signing_secret()?;
        self.tls()?;
        let classes = self.rate_limits.clone().with_defaults();
        for op in crate::api::server::operations::ALL {
            for class in op.classes() {
                if !classes.0.contains_key(class) {
                    return Err(format!(
                        "operation {} is in rate-limit class {class:?}, which rate_limits (STOREFRONT_RATE_LIMITS) does not define",
                        op.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// Where photos are kept: as configured, or the default next to the database.
    pub fn photo_location(&self) -> crate::photos::Location {
        self.photo_store
            .clone()
            .unwrap_or_else(|| crate::photos::Location::default_for(self.database_url.expose()))
    }

    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_acquire_timeout_ms)
    }

    pub fn db_down_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_down_acquire_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    pub fn log_flush(&self) -> Duration {
        Duration::from_millis(self.log_flush_ms)
    }

    pub fn shutdown_drain(&self) -> Duration {
        Duration::from_secs(self.shutdown_drain_secs)
    }

    /// The number of password workers: as configured, or one per core.
    pub fn password_workers(&self) -> usize {
        match self.password_workers {
            0 => crate::passwords::Passwords::default_workers(),
            n => usize::from(n),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The TLS server configuration, when a certificate and key are configured.
    pub fn tls(&self) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else { return Ok(None) };
        let certs = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("STOREFRONT_TLS_CERT ({}): {e}", cert.display()))?;
        if certs.is_empty() {
            return Err(format!("STOREFRONT_TLS_CERT ({}) holds no certificate", cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("STOREFRONT_TLS_KEY ({}): {e}", key.display()))?;
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
            .map_err(|e| format!("the TLS certificate and key do not fit together: {e}"))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(std::sync::Arc::new(config)))
    }
}

/// Whether the server may make up what production must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// The shortest signing secret accepted (HS256 wants at least its 256-bit output).
pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// The token-signing secret, checked: production requires one of at least 32 bytes;
    /// development makes up a random one (tokens then die with the process) when none is set.
    pub fn signing_secret(&self) -> Result<(Vec<u8>, bool), String> {
        match (&self.jwt_secret, self.environment) {
            (Some(secret), _) if secret.expose().len() >= MIN_SECRET_BYTES => {
                Ok((secret.expose().as_bytes().to_vec(), false))
            }
            (Some(_), _) => Err(format!(
                "STOREFRONT_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (try `openssl rand -base64 48`)"
            )),
            (None, Environment::Production) => Err(
                "STOREFRONT_JWT_SECRET is required in production (at least 32 bytes; try `openssl rand -base64 48`)"
                    .into(),
            ),
            (None, Environment::Development) => {
                let mut secret = vec![0u8; 48];
                getrandom::fill(&mut secret).map_err(|e| format!("no randomness for a signing secret: {e}"))?;
                Ok((secret, true))
            }
        }
    }
}

fn parse_path(text: &str) -> Result<String, String> {
    let valid = text.starts_with('/')
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not a path (`/` then letters, digits, `/`, `-`, `_`, `.`)"))
    }
}

fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("database_url", &self.database_url)
            .field("db_max_connections", &self.db_max_connections)
            .field("cache_entries", &self.cache_entries)
            .field("cache_ttl_ms", &self.cache_ttl_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("cors_origins", &self.cors_origins)
            .field("environment", &self.environment)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "[redacted]"))
            .field("rate_limits", &self.rate_limits)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// A value that must not appear in logs (a URL with a password, a key).
#[derive(Clone)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Json,
    Terminal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

impl LogLevel {
    pub fn to_slog(self) -> slog::Level {
        match self {
            LogLevel::Trace => slog::Level::Trace,
            LogLevel::Debug => slog::Level::Debug,
            LogLevel::Info => slog::Level::Info,
            LogLevel::Warn => slog::Level::Warning,
            LogLevel::Error => slog::Level::Error,
            LogLevel::Critical => slog::Level::Critical,
        }
    }
}

/// An optional configuration file (TOML): one key per field of [`Config`], checked when read.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    /// Each key and its value(s), as clap reads them.
    values: Vec<(String, Vec<String>)>,
}

impl ConfigFile {
    /// The file named by `--config` among `args`, or by `STOREFRONT_CONFIG`; read and checked.
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<ConfigFile>, String> {
        let mut args = args.into_iter().skip(1);
        let mut named = None;
        while let Some(arg) = args.next() {
            if arg == "--" {
                break;
            }
            if arg == "--config" {
                named = args.next().map(PathBuf::from);
            } else if let Some(path) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
                named = Some(PathBuf::from(path));
            }
        }
        let named =
            named.or_else(|| std::env::var_os(CONFIG_FILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
        named.map(|path| ConfigFile::load(&path)).transpose()
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the configuration file {}: {e}", path.display()))?;
        ConfigFile::parse(path, &text)
    }

    /// Checks a configuration file's text: TOML, known keys, values of the right type and range.
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, String> {
        let at = path.display();
        // The parser's message quotes the offending line, which may hold a secret: only its
        // position and the message are shown.
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].lines().count().max(1));
            format!("{at}:{line}: not valid TOML: {}", e.message())
        })?;
        let keys = command();
        // Each value is checked alone, without the environment, by the key's own parser.
        let checker = keys.clone().mut_args(|arg| arg.env(None::<&'static str>));
        let mut values = Vec::new();
        for (key, value) in table {
            let Some(arg) = keys.get_arguments().find(|a| a.get_id() == key.as_str()) else {
                return Err(format!(
                    "{at}: unknown key `{key}` (storefront.example.toml lists the keys; sections are not used)"
                ));
            };
            let many =
                arg.get_num_args().is_some_and(|n| n.max_values() > 1) || arg.get_value_delimiter().is_some();
            let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            let scalar = |value: toml::Value| match value {
                toml::Value::String(s) if !flag => Ok(s),
                toml::Value::Integer(i) if !flag => Ok(i.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                other => Err(format!(
                    "{at}: `{key}` must be {}, not {}",
                    if flag { "true or false" } else { "a string or an integer" },
                    other.type_str()
                )),
            };
            let strings = match value {
                toml::Value::Array(items) if many => {
                    items.into_iter().map(scalar).collect::<Result<Vec<_>, _>>()?
                }
                toml::Value::Array(_) => return Err(format!("{at}: `{key}` takes one value, not an array")),
                value => vec![scalar(value)?],
            };
            let long = arg.get_long().unwrap_or(key.as_str());
            let mut argv = vec!["storefront".to_string()];
            if flag {
                if strings.first().is_some_and(|v| v == "true") {
                    argv.push(format!("--{long}"));
                }
            } else {
                argv.extend(strings.iter().map(|v| format!("--{long}={v}")));
            }
            if let Err(error) = checker.clone().try_get_matches_from(argv) {
                if error.kind() != clap::error::ErrorKind::MissingRequiredArgument {
                    let shown = if SECRET_KEYS.contains(&key.as_str()) {
                        String::new()
                    } else {
                        format!(" = {}", strings.join(","))
                    };
                    return Err(format!("{at}: `{key}`{shown}: {}", reason(&error)));
                }
            }
            values.push((key, strings));
        }
        Ok(ConfigFile { path: path.to_path_buf(), values })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys the file sets.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|(key, _)| key.as_str())
    }
}

/// `command` with the file's values as its defaults (for the keys it has as arguments), so that
/// the environment and the flags win over the file.
pub fn apply_file(mut command: clap::Command, file: Option<&ConfigFile>) -> clap::Command {
    let Some(file) = file else { return command };
    for (key, values) in &file.values {
        if command.get_arguments().any(|a| a.get_id() == key.as_str()) {
            let values: Vec<clap::builder::OsStr> = values.iter().map(|v| v.clone().into()).collect();
            command = command.mut_arg(key, |arg| arg.default_values(values));
        }
    }
    command
}

/// What is wrong with a value, without clap's decoration (nor the value).
fn reason(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    if let Some(source) = std::error::Error::source(error) {
        return source.to_string();
    }
    if let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue) {
        return format!("must be one of {}", valid.join(", "));
    }
    error.kind().to_string()
}

/// A clap error about a configuration value, naming the key, its environment variable and its
/// flag (a value may come from any of them); other errors as clap renders them.
pub fn explain(error: &clap::Error, command: &clap::Command) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let named = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(named)) => named.clone(),
        _ => String::new(),
    };
    let flag = named.split_whitespace().next().unwrap_or_default();
    let arg = command.get_arguments().find(|a| a.get_long().is_some_and(|long| flag == format!("--{long}")));
    match (error.kind(), arg) {
        (ErrorKind::InvalidValue | ErrorKind::ValueValidation, Some(arg)) => {
            let key = arg.get_id().as_str();
            let env = arg.get_env().map(|e| format!("{}, ", e.to_string_lossy())).unwrap_or_default();
            format!("configuration key `{key}` ({env}{flag} or the file's `{key}`): {}", reason(error))
        }
        _ => error.render().to_string().trim_end().trim_start_matches("error: ").to_string(),
    }
}

/// Each key's value and where it came from, one `key = value  # source` line each, secrets
/// redacted.
fn describe(command: &clap::Command, matches: &clap::ArgMatches, file: Option<&ConfigFile>) -> String {
    use clap::parser::ValueSource;
    let mut out = String::new();
    for arg in command.get_arguments() {
        let key = arg.get_id().as_str();
        if matches!(key, "help" | "version") {
            continue;
        }
        let values: Vec<String> = matches
            .get_raw(key)
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = if values.is_empty() {
            "(not set)".to_string()
        } else if SECRET_KEYS.contains(&key) {
            "[redacted]".to_string()
        } else {
            values.join(",")
        };
        let source = match matches.value_source(key) {
            Some(ValueSource::EnvVariable) => {
                arg.get_env().map_or("environment".into(), |e| format!("from {}", e.to_string_lossy()))
            }
            Some(ValueSource::CommandLine) => "from the command line".into(),
            Some(ValueSource::DefaultValue) => match file.filter(|f| f.keys().any(|k| k == key)) {
                Some(file) => format!("from {}", file.path().display()),
                None => "default".into(),
            },
            _ => "not set".into(),
        };
        out.push_str(&format!("{key} = {value}  # {source}\n"));
    }
    out
}
