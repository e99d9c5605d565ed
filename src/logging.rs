//! Logging with slog: JSON lines in production, human-readable in a terminal.
//!
//! One access-log line per request is written by the edge (`crate::edge`), with method, path,
//! status, latency, request id and peer. Dropshot's own per-request lines are filtered out (they
//! would repeat that line with dropshot's internal request id), its warnings are kept.
//!
//! Libraries that report through `tracing` (sqlx: slow statements, connection errors) reach the
//! same log through [`forward_tracing`]: a `tracing` subscriber that writes each event as a slog
//! record, with its target and fields.

mod json;

pub use json::Flush;

use std::io::IsTerminal;
use std::sync::Mutex;

use slog::{o, Drain, Logger};

use crate::config::{LogFormat, LogLevel};

/// A logger to stderr (terminal) or stdout (JSON), and what ends the JSON log's buffering.
///
/// JSON records are formatted synchronously, on the thread that logs (an asynchronous drain
/// would wake its thread for every request, and a context switch costs more than the
/// formatting: measured, about 10 µs of CPU per request on one core). With a `flush` interval,
/// lines are then kept and written together, at most that long after the first of them, at
/// 32 KiB, and at once for a warning or worse (`JsonLines::buffered` in `logging/json.rs`): a `write` per
/// line was a tenth of a cached GET's time. With `flush` zero, each line is written at once.
/// Drop the [`Flush`] before the process ends, so that no line is lost.
pub fn logger(format: LogFormat, level: LogLevel, flush: std::time::Duration) -> (Logger, Option<Flush>) {
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Terminal => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    if json {
        let (drain, flush) = if flush.is_zero() {
            (json::JsonLines::new(std::io::stdout()), None)
        } else {
            let (drain, flush) = json::JsonLines::buffered(std::io::stdout(), flush);
            (drain, Some(flush))
        };
        let drain = drain.filter_level(level.to_slog()).fuse();
        return (Logger::root(drain, o!("service" => "storefront")), flush);
    }
    let decorator = slog_term::TermDecorator::new().stderr().build();
    let drain = slog_term::CompactFormat::new(decorator).build().fuse();
    (
        Logger::root(Mutex::new(drain.filter_level(level.to_slog())).fuse(), o!("service" => "storefront")),
        None,
    )
}

/// A logger appending JSON lines to a file (the tests keep one per server).
pub fn to_file(path: &std::path::Path) -> std::io::Result<Logger> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    Ok(Logger::root(json::JsonLines::new(file).fuse(), o!("service" => "storefront")))
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

/// Installs, for the whole process, a `tracing` subscriber that forwards events at `level` and
/// above to `log` (spans are not kept: the libraries' events carry what matters in their
/// fields). Below `level`, events are disabled at their call site, so they cost nothing.
/// An error when another subscriber is already installed.
pub fn forward_tracing(log: &Logger, level: LogLevel) -> Result<(), String> {
    let max = match level {
        LogLevel::Trace => tracing::Level::TRACE,
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error | LogLevel::Critical => tracing::Level::ERROR,
    };
    let subscriber = TracingToSlog { log: log.new(o!("source" => "tracing")), max };
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("installing the tracing subscriber: {e}"))
}

/// A `tracing` subscriber writing events to slog.
struct TracingToSlog {
    log: Logger,
    max: tracing::Level,
}

impl tracing::Subscriber for TracingToSlog {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.enabled(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        // Events, and the hints of `tracing::enabled!` (sqlx asks before it formats a statement);
        // no spans. A more verbose level is a greater one.
        !metadata.is_span() && *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::from_level(self.max))
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = std::mem::take(&mut fields.message);
        let target = metadata.target();
        macro_rules! forward {
            ($level:ident) => {
                slog::$level!(self.log, "{}", if message.is_empty() { target } else { &message }; "target" => target, fields)
            };
        }
        match *metadata.level() {
            tracing::Level::ERROR => forward!(error),
            tracing::Level::WARN => forward!(warn),
            tracing::Level::INFO => forward!(info),
            tracing::Level::DEBUG => forward!(debug),
            tracing::Level::TRACE => forward!(trace),
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// An event's fields: its message, and the others as key-value pairs of the record.
#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, String)>,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.others.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.others.push((field.name(), format!("{value:?}")));
        }
    }
}

impl slog::KV for Fields {
    fn serialize(&self, _: &slog::Record<'_>, serializer: &mut dyn slog::Serializer) -> slog::Result {
        for (key, value) in &self.others {
            serializer.emit_str((*key).into(), value)?;
        }
        Ok(())
    }
}
