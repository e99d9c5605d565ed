//! Configuration: the example file and the README table stay complete and true, a file's values
//! are checked with a message naming the key, the environment wins over the file, secrets are
//! never printed, and each operator command's `--help` shows its own options. Through the
//! `storefront` binary where the command line is what is tested.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use storefront::config::{ConfigFile, SECRET_KEYS};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The configuration's keys, with their environment variables and defaults.
fn keys() -> BTreeMap<String, (String, Vec<String>)> {
    storefront::config::command()
        .get_arguments()
        .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version"))
        .map(|arg| {
            let env =
                arg.get_env().expect("every key has an environment variable").to_string_lossy().into_owned();
            let mut defaults: Vec<String> =
                arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            if defaults.is_empty() && matches!(arg.get_action(), clap::ArgAction::SetTrue) {
                defaults.push("false".into());
            }
            (arg.get_id().to_string(), (env, defaults))
        })
        .collect()
}

/// The `storefront` binary with only the given environment.
fn storefront(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_storefront"));
    command.env_clear().args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the storefront binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_file_lists_every_key_with_its_default() {
    let path = root().join("storefront.example.toml");
    ConfigFile::load(&path).expect("the example file is valid");
    let example = std::fs::read_to_string(&path).unwrap();
    let table: toml::Table = toml::from_str(&example).unwrap();
    for (key, (_, defaults)) in keys() {
        let set = example.lines().any(|line| line.starts_with(&format!("{key} = ")));
        let commented = example.lines().any(|line| line.starts_with(&format!("# {key} = ")));
        assert!(set || commented, "storefront.example.toml lacks `{key}`");
        match table.get(&key) {
            Some(value) => {
                let value = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(vec![value], defaults, "`{key}` in storefront.example.toml is not its default");
            }
            None => assert!(
                defaults.is_empty(),
                "`{key}` has a default ({defaults:?}): storefront.example.toml should set it"
            ),
        }
    }
}

#[test]
fn the_readme_configuration_table_matches_the_example_file() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("## Configuration\n").nth(1).expect("a Configuration section");
    let rows: BTreeMap<String, String> = section
        .lines()
        .skip_while(|line| !line.starts_with("| key | variable |"))
        .take_while(|line| line.starts_with('|'))
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[2].trim_matches('`').to_string())
        })
        .collect();
    let example = std::fs::read_to_string(root().join("storefront.example.toml")).unwrap();
    let keys = keys();
    for (key, (env, _)) in &keys {
        assert!(example.contains(&format!("{key} = ")), "the example file lacks `{key}`");
        assert_eq!(rows.get(key), Some(env), "the README's configuration table: `{key}` should name {env}");
    }
    for key in rows.keys() {
        assert!(keys.contains_key(key), "the README's configuration table names `{key}`, which is no key");
    }
}

#[test]
fn a_bad_value_in_the_file_is_refused_naming_the_key() {
    let path = Path::new("storefront.toml");
    let cases = [
        ("db_max_connections = 1001", "`db_max_connections` = 1001: 1001 is not in 0..=1000"),
        ("db_max_connections = \"many\"", "`db_max_connections` = many: invalid digit"),
        ("log_level = \"loud\"", "`log_level` = loud: must be one of"),
        ("bind = 8080", "`bind` = 8080: invalid socket address"),
        ("db_no_create = \"yes\"", "`db_no_create` must be true or false, not string"),
        ("db_max_conections = 3", "unknown key `db_max_conections`"),
        ("bind = [\"127.0.0.1:1\", \"127.0.0.1:2\"]", "`bind` takes one value, not an array"),
        ("[server]\nbind = \"127.0.0.1:1\"", "unknown key `server`"),
        ("jwt_secret = \"unterminated-secret-value", "storefront.toml:1: not valid TOML"),
    ];
    for (text, expected) in cases {
        let error = ConfigFile::parse(path, text).expect_err(text);
        assert!(error.contains(expected), "{text}: {error}");
        assert!(!error.contains("unterminated-secret-value"), "a secret was printed: {error}");
    }
    let file = ConfigFile::parse(
        path,
        "cors_origins = [\"https://a.example\", \"https://b.example\"]\ndb_no_create = true",
    )
    .expect("lists and flags");
    assert_eq!(file.keys().collect::<Vec<_>>(), ["cors_origins", "db_no_create"]);
}

#[test]
fn check_config_reports_each_value_and_its_source_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("storefront.toml");
    std::fs::write(
        &file,
        "db_max_connections = 3\nrequest_timeout_ms = 1234\njwt_secret = \"file-secret-that-is-at-least-32-bytes-long\"\n\
         database_url = \"postgres://storefront:hunter2-password@db.internal/storefront\"\n\
         trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\"]\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = storefront(&["check-config", "--config", file], &[("STOREFRONT_DB_MAX_CONNECTIONS", "5")]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{}", stdout, text(&out.stderr));
    assert!(stdout.contains("db_max_connections = 5  # from STOREFRONT_DB_MAX_CONNECTIONS"), "{stdout}");
    assert!(stdout.contains(&format!("request_timeout_ms = 1234  # from {file}")), "{stdout}");
    assert!(stdout.contains("trusted_proxies = 10.0.0.0/8,127.0.0.1  #"), "{stdout}");
    assert!(stdout.contains("max_body_bytes = 65536  # default"), "{stdout}");
    for secret in SECRET_KEYS {
        assert!(stdout.contains(&format!("{secret} = [redacted]")), "{stdout}");
    }
    assert!(!stdout.contains("hunter2") && !stdout.contains("file-secret"), "a secret was printed: {stdout}");

    // The file named by the environment instead of the flag.
    let out = storefront(&["check-config"], &[("STOREFRONT_CONFIG", file)]);
    assert!(text(&out.stdout).contains("db_max_connections = 3  # from"), "{}", text(&out.stdout));
}

#[test]
fn a_bad_value_stops_the_server_before_it_starts_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("never.db").display());
    let out = storefront(&[], &[("DATABASE_URL", &database), ("STOREFRONT_DB_MAX_CONNECTIONS", "1001")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "configuration key `db_max_connections` (STOREFRONT_DB_MAX_CONNECTIONS, --db-max-connections"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("never.db").exists(), "the server went as far as the database");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "log_format = \"xml\"\n").unwrap();
    let out = storefront(&["check-config", "--config", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`log_format` = xml: must be one of"), "{}", text(&out.stderr));

    let out = storefront(&["check-config"], &[("STOREFRONT_ENVIRONMENT", "production")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("STOREFRONT_JWT_SECRET is required in production"),
        "{}",
        text(&out.stderr)
    );

    let out = storefront(&["check-config", "--config", "/nonexistent/storefront.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("reading the configuration file /nonexistent/storefront.toml"));
}

#[test]
fn the_operator_commands_help_shows_only_their_own_options() {
    let out = storefront(&["create-admin", "--help"], &[]);
    let help = text(&out.stdout);
    assert!(out.status.success(), "{help}");
    for own in ["--username", "--email", "--password-stdin", "--database-url", "--config"] {
        assert!(help.contains(own), "create-admin --help lacks {own}:\n{help}");
    }
    for other in ["--db-max-connections", "--jwt-secret", "--rate-limits", "--bind", "--tls-cert"] {
        assert!(!help.contains(other), "create-admin --help shows {other}:\n{help}");
    }
    // `--help` shows the environment's values, except secrets'.
    let secrets =
        [("DATABASE_URL", "postgres://u:hunter2@db/x"), ("STOREFRONT_JWT_SECRET", "jwt-secret-value")];
    let help = text(&storefront(&["serve", "--help"], &secrets).stdout);
    assert!(help.contains("--db-max-connections") && help.contains("--config"), "{help}");
    assert!(!help.contains("hunter2") && !help.contains("jwt-secret-value"), "{help}");
    let help = text(&storefront(&["create-admin", "--help"], &secrets).stdout);
    assert!(!help.contains("hunter2"), "{help}");
}

#[test]
fn the_file_configures_the_operator_commands_and_the_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file.db");
    let file = dir.path().join("storefront.toml");
    std::fs::write(&file, format!("database_url = \"sqlite://{}\"\n", from_file.display())).unwrap();
    let out = storefront(&["migrate", "--config", file.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(from_file.exists(), "migrate used the file's database_url");

    let from_env = dir.path().join("from-env.db");
    let env_url = format!("sqlite://{}", from_env.display());
    let out = storefront(&["migrate", "--config", file.to_str().unwrap()], &[("DATABASE_URL", &env_url)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(from_env.exists(), "the environment wins over the file");
}
