//! Logging with slog: JSON lines in production, human-readable in a terminal.
//!
//! One access-log line per request is written by the edge (`crate::edge`), with method, path,
//! status, latency, request id and peer. Dropshot's own per-request lines are filtered out (they
//! would repeat that line with dropshot's internal request id), its warnings are kept.

mod json;

use std::io::IsTerminal;
use std::sync::Mutex;

use slog::{o, Drain, Logger};

use crate::config::{LogFormat, LogLevel};

/// A logger to stderr (terminal) or stdout (JSON).
///
/// Records are written synchronously, one `write` per line: an asynchronous drain would wake
/// its thread for every request, and a context switch costs more than the write (measured:
/// about 10 µs of CPU per request on one core).
pub fn logger(format: LogFormat, level: LogLevel) -> Logger {
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Terminal => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    if json {
        let drain = json_drain(std::io::stdout()).filter_level(level.to_slog()).fuse();
        return Logger::root(drain, o!("service" => "storefront"));
    }
    let decorator = slog_term::TermDecorator::new().stderr().build();
    let drain = slog_term::CompactFormat::new(decorator).build().fuse();
    Logger::root(Mutex::new(drain.filter_level(level.to_slog())).fuse(), o!("service" => "storefront"))
}

/// A logger appending JSON lines to a file (the tests keep one per server).
pub fn to_file(path: &std::path::Path) -> std::io::Result<Logger> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    Ok(Logger::root(json_drain(file).fuse(), o!("service" => "storefront")))
}

/// A logger that discards everything.
pub fn discard() -> Logger {
    Logger::root(slog::Discard, o!())
}

/// The logger dropshot gets: only its warnings and errors (the edge logs every request).
pub fn for_dropshot(log: &Logger) -> Logger {
    Logger::root(
        slog::LevelFilter::new(log.clone(), slog::Level::Warning).fuse(),
        o!("component" => "dropshot"),
    )
}

/// JSON lines to `out`, each line gathered and written in one piece (`json::JsonLines`).
fn json_drain<W: std::io::Write + Send + 'static>(out: W) -> json::JsonLines<W> {
    json::JsonLines::new(out)
}
