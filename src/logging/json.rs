//! JSON lines, formatted directly: the same keys and values `slog_json` writes (`time`, `level`,
//! `msg`, the logger's values, then the record's), without its serde machinery.
//!
//! Every request writes one line, so its cost is per request: `slog_json` took about 17,000
//! instructions for the access line (each key and value through an erased serde serializer, a
//! `chrono` RFC 3339 formatting per line); this drain takes about a fifth of that. A line is
//! gathered in a per-thread buffer, then written in one `write` under the output's lock, or
//! (the server's log: [`JsonLines::buffered`]) kept with others and written with them.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use slog::{Key, OwnedKVList, Record, KV};

/// Lines kept at most before they are written, when the output is buffered ([`JsonLines::buffered`]).
const BUFFER: usize = 32 * 1024;

/// A slog drain writing one JSON object per line to `out`.
pub struct JsonLines<W: Write> {
    output: Arc<Output<W>>,
}

/// The output and the lines not yet written to it.
struct Output<W> {
    state: Mutex<State<W>>,
    /// Told when a line goes into an empty buffer (the flusher waits for it).
    pending: Condvar,
}

struct State<W> {
    out: W,
    /// Lines not yet written: empty, and not used, unless the output is buffered and open.
    buffer: Vec<u8>,
    buffered: bool,
}

/// Ends the buffering of a `JsonLines::buffered` drain when dropped: the lines it holds are
/// written, and later lines are written as they come.
pub struct Flush {
    end: Box<dyn Fn() + Send + Sync>,
}

impl Drop for Flush {
    fn drop(&mut self) {
        (self.end)();
    }
}

impl<W: Write> JsonLines<W> {
    /// Every line written to `out` as it is logged (one `write`).
    pub fn new(out: W) -> Self {
        JsonLines { output: Arc::new(Output::new(out, false)) }
    }
}

impl<W: Write + Send + 'static> JsonLines<W> {
    /// Lines gathered and written together: once `interval` has passed since the oldest line
    /// still held, when 32 KiB are held, and at once for a warning or worse (with the lines
    /// before it, so the order is kept). Each write is a system call, so this is what a busy
    /// server wants: about 150 lines a call instead of one. A thread of its own writes the
    /// lines whose time has come; it sleeps while none is held. Dropping the [`Flush`] writes
    /// what is held and ends the buffering.
    pub fn buffered(out: W, interval: Duration) -> (Self, Flush) {
        let output = Arc::new(Output::new(out, true));
        let flusher = output.clone();
        let started = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || flusher.flush_every(interval))
            .is_ok();
        if !started {
            // No thread, no buffering: every line is written at once.
            output.lock().buffered = false;
        }
        let ending = output.clone();
        let end = Box::new(move || ending.end());
        (JsonLines { output }, Flush { end })
    }
}

impl<W: Write> Output<W> {
    fn new(out: W, buffered: bool) -> Self {
        let buffer = if buffered { Vec::with_capacity(BUFFER) } else { Vec::new() };
        Output { state: Mutex::new(State { out, buffer, buffered }), pending: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State<W>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `line` now or keeps it for later (see [`JsonLines::buffered`]).
    fn write(&self, line: &[u8], urgent: bool) {
        let mut state = self.lock();
        if !state.buffered {
            state.write_out(line);
            return;
        }
        let was_empty = state.buffer.is_empty();
        state.buffer.extend_from_slice(line);
        if urgent || state.buffer.len() >= BUFFER {
            state.write_out(&[]);
        } else if was_empty {
            self.pending.notify_one();
        }
    }

    /// The flusher's loop: waits for a line, lets `interval` pass, writes what is held.
    fn flush_every(&self, interval: Duration) {
        loop {
            let mut state = self.lock();
            while state.buffered && state.buffer.is_empty() {
                state = self.pending.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if !state.buffered {
                return;
            }
            drop(state);
            std::thread::sleep(interval);
            self.lock().write_out(&[]);
        }
    }

    /// Writes what is held and stops buffering.
    fn end(&self) {
        let mut state = self.lock();
        state.write_out(&[]);
        state.buffered = false;
        self.pending.notify_one();
    }
}

impl<W: Write> State<W> {
    /// Writes the lines held, then `line`. A log that cannot be written must not take the
    /// request down with it: the lines are dropped.
    fn write_out(&mut self, line: &[u8]) {
        let State { out, buffer, .. } = self;
        let mut result = Ok(());
        if !buffer.is_empty() {
            result = out.write_all(buffer);
            buffer.clear();
        }
        if !line.is_empty() {
            result = result.and_then(|()| out.write_all(line));
        }
        let _ = result.and_then(|()| out.flush());
    }
}

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
}

impl<W: Write> slog::Drain for JsonLines<W> {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        LINE.with(|line| {
            // A logging call made while formatting (a value's Display that logs) gets a buffer
            // of its own rather than a panic.
            let mut fresh = String::new();
            let mut borrowed = line.try_borrow_mut();
            let buffer = match borrowed.as_mut() {
                Ok(buffer) => &mut **buffer,
                Err(_) => &mut fresh,
            };
            buffer.clear();
            format_line(buffer, record, values);
            self.output.write(buffer.as_bytes(), record.level().is_at_least(slog::Level::Warning));
            if buffer.capacity() > 64 * 1024 {
                *buffer = String::with_capacity(512);
            }
        });
        Ok(())
    }
}

fn format_line(line: &mut String, record: &Record<'_>, values: &OwnedKVList) {
    line.push_str("{\"time\":\"");
    timestamp::append(line, std::time::SystemTime::now());
    line.push_str("\",\"level\":\"");
    line.push_str(record.level().as_short_str());
    line.push_str("\",\"msg\":\"");
    let message = record.msg();
    match message.as_str() {
        Some(text) => escape(line, text),
        None => {
            let _ = Escaped(line).write_fmt(*message);
        }
    }
    line.push('"');
    let mut serializer = Pairs { line };
    let _ = values.serialize(record, &mut serializer);
    let _ = record.kv().serialize(record, &mut serializer);
    line.push_str("}\n");
}

/// Writes `text` as the inside of a JSON string (what serde_json escapes, it escapes). Eight
/// bytes are looked at a time while none of them needs escaping (a log line is mostly plain
/// text and short keys: a byte-by-byte loop cost 3,500 instructions per access line).
fn escape(line: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let word = match bytes.get(i..i + 8) {
            Some(word) => u64::from_le_bytes(word.try_into().unwrap_or_default()),
            // The last few bytes (most keys are shorter than eight), padded with spaces.
            None => {
                let mut padded = [b' '; 8];
                padded[..bytes.len() - i].copy_from_slice(&bytes[i..]);
                u64::from_le_bytes(padded)
            }
        };
        if !needs_escape(word) {
            i += 8;
            continue;
        }
        let byte = bytes[i];
        let replacement = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => {
                i += 1;
                continue;
            }
        };
        // An escaped byte is ASCII: the slices end on character boundaries.
        line.push_str(&text[start..i]);
        if replacement.is_empty() {
            let _ = write!(line, "\\u{byte:04x}");
        } else {
            line.push_str(replacement);
        }
        i += 1;
        start = i;
    }
    line.push_str(&text[start..]);
}

/// Whether any of eight bytes is a control character, `"` or `\\` (the bit tricks "hasless"
/// and "haszero": exact, whatever the other bytes are).
const fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const fn has_zero(x: u64) -> bool {
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    }
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    control || has_zero(word ^ (ONES * b'"' as u64)) || has_zero(word ^ (ONES * b'\\' as u64))
}

/// `fmt::Write` that escapes what it is given.
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(self.0, s);
        Ok(())
    }
}

/// Appends `,"key":value` for each pair: numbers and booleans as JSON's, the rest as strings.
struct Pairs<'a> {
    line: &'a mut String,
}

impl Pairs<'_> {
    fn key(&mut self, key: Key) {
        self.line.push_str(",\"");
        escape(self.line, key.as_ref());
        self.line.push_str("\":");
    }

    fn number(&mut self, key: Key, value: impl itoa::Integer) -> slog::Result {
        self.key(key);
        self.line.push_str(itoa::Buffer::new().format(value));
        Ok(())
    }
}

macro_rules! numbers {
    ($($method:ident: $type:ty),*) => {
        $(fn $method(&mut self, key: Key, value: $type) -> slog::Result {
            self.number(key, value)
        })*
    };
}

impl slog::Serializer for Pairs<'_> {
    numbers!(emit_u8: u8, emit_i8: i8, emit_u16: u16, emit_i16: i16, emit_u32: u32, emit_i32: i32,
        emit_u64: u64, emit_i64: i64, emit_usize: usize, emit_isize: isize);

    fn emit_bool(&mut self, key: Key, value: bool) -> slog::Result {
        self.key(key);
        self.line.push_str(if value { "true" } else { "false" });
        Ok(())
    }

    fn emit_f64(&mut self, key: Key, value: f64) -> slog::Result {
        self.key(key);
        if value.is_finite() {
            let _ = write!(self.line, "{value}");
        } else {
            self.line.push_str("null");
        }
        Ok(())
    }

    fn emit_f32(&mut self, key: Key, value: f32) -> slog::Result {
        self.emit_f64(key, f64::from(value))
    }

    fn emit_unit(&mut self, key: Key) -> slog::Result {
        self.key(key);
        self.line.push_str("null");
        Ok(())
    }

    fn emit_none(&mut self, key: Key) -> slog::Result {
        self.emit_unit(key)
    }

    fn emit_str(&mut self, key: Key, value: &str) -> slog::Result {
        self.key(key);
        self.line.push('"');
        escape(self.line, value);
        self.line.push('"');
        Ok(())
    }

    fn emit_arguments(&mut self, key: Key, value: &fmt::Arguments<'_>) -> slog::Result {
        self.key(key);
        self.line.push('"');
        let _ = Escaped(self.line).write_fmt(*value);
        self.line.push('"');
        Ok(())
    }
}

/// RFC 3339 timestamps in UTC with microseconds (`2026-11-29T21:40:36.123456Z`), as
/// `chrono`'s `to_rfc3339_opts(Micros, true)` writes them; the date and time of day are
/// formatted once a second per thread.
pub(crate) mod timestamp {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};

    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }

    pub(crate) fn append(line: &mut String, now: SystemTime) {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since.as_secs();
        SECOND.with(|cached| {
            let mut cached = cached.borrow_mut();
            if cached.0 != seconds {
                let at = chrono::DateTime::from_timestamp(i64::try_from(seconds).unwrap_or(0), 0)
                    .unwrap_or_default();
                cached.1 = at.format("%Y-%m-%dT%H:%M:%S").to_string();
                cached.0 = seconds;
            }
            line.push_str(&cached.1);
        });
        let micros = since.subsec_micros();
        let mut digits = *b".000000Z";
        let mut rest = micros;
        for digit in digits[1..7].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        line.push_str(std::str::from_utf8(&digits).unwrap_or(".000000Z"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::Value;
    use slog::{o, Drain, Logger};

    use super::*;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buffer: &Buffer) -> Vec<Value> {
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|line| serde_json::from_str(line).expect(line)).collect()
    }

    fn log_everything(log: &Logger) {
        let peer: std::net::IpAddr = "203.0.113.7".parse().unwrap();
        slog::info!(log, "request";
            "method" => "GET", "path" => "/api/v1/products/\"1\"\\\n\u{1}é", "status" => 200u16,
            "latency_us" => 123u64, "delta" => -5i64, "peer" => %peer, "ok" => true,
            "none" => Option::<&str>::None, "ratio" => 0.5f64);
        slog::warn!(log, "a {} message with \"quotes\"", "formatted"; "n" => 1usize);
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut texts: Vec<String> = (0u8..=0x7f).map(|b| format!("plain text {}, é €", b as char)).collect();
        texts.extend((0u8..=0x7f).map(|b| (b as char).to_string().repeat(9)));
        texts.extend(
            ["", "é", "\"", "0123456789abcdef\\", "\u{1}\u{1f}\u{7f}ab\"cd\\ef\ngh", "日本語のテキスト\t"]
                .map(String::from),
        );
        for text in texts {
            let mut ours = String::from("\"");
            escape(&mut ours, &text);
            ours.push('"');
            assert_eq!(ours, serde_json::to_string(&text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn lines_are_what_slog_json_writes() {
        let ours = Buffer::default();
        let log = Logger::root(JsonLines::new(ours.clone()).fuse(), o!("service" => "storefront"));
        log_everything(&log);

        let theirs = Buffer::default();
        let drain = slog_json::Json::new(theirs.clone())
            .add_key_value(o!(
                "level" => slog::FnValue(|record| record.level().as_short_str()),
                "msg" => slog::PushFnValue(|record, ser| ser.emit(record.msg())),
            ))
            .build();
        let log = Logger::root(Mutex::new(drain).fuse(), o!("service" => "storefront"));
        log_everything(&log);

        let (mut ours, theirs) = (lines(&ours), lines(&theirs));
        assert_eq!(ours.len(), 2);
        for line in &mut ours {
            let time = line.as_object_mut().unwrap().remove("time").unwrap();
            assert!(chrono::DateTime::parse_from_rfc3339(time.as_str().unwrap()).is_ok(), "{time}");
        }
        assert_eq!(ours, theirs);
    }

    #[test]
    fn timestamps_are_chronos_rfc3339_with_microseconds() {
        for (seconds, micros) in
            [(0, 0), (1_796_068_435, 7), (1_796_068_435, 999_999), (951_782_400, 120_000)]
        {
            let at = UNIX_EPOCH + Duration::new(seconds, micros * 1000);
            let mut line = String::new();
            timestamp::append(&mut line, at);
            let expected = chrono::DateTime::<chrono::Utc>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            assert_eq!(line, expected);
        }
    }

    fn written(buffer: &Buffer) -> usize {
        buffer.0.lock().unwrap().len()
    }

    #[test]
    fn a_buffered_log_writes_its_lines_at_a_warning_when_full_and_when_its_flush_is_dropped() {
        let out = Buffer::default();
        let (drain, flush) = JsonLines::buffered(out.clone(), Duration::from_secs(3600));
        let log = Logger::root(drain.fuse(), o!("service" => "storefront"));
        slog::info!(log, "first"; "n" => 1);
        slog::info!(log, "second"; "n" => 2);
        assert_eq!(written(&out), 0, "info lines are held");
        slog::warn!(log, "third");
        let msgs: Vec<Value> = lines(&out).iter().map(|line| line["msg"].clone()).collect();
        assert_eq!(msgs, ["first", "second", "third"], "a warning is written at once, after the lines held");

        let before = written(&out);
        let mut held = 0;
        while written(&out) == before {
            slog::info!(log, "filler"; "i" => held);
            held += 1;
            assert!(held < 10_000, "32 KiB of lines were never written");
        }
        assert!(written(&out) - before >= BUFFER, "written at 32 KiB, not before");
        assert_eq!(lines(&out).len(), 3 + held, "every line held is written, whole");

        slog::info!(log, "held until the flush is dropped");
        let before = written(&out);
        drop(flush);
        assert!(written(&out) > before);
        slog::info!(log, "written at once once the buffering is over");
        let last = lines(&out).pop().unwrap();
        assert_eq!(last["msg"], "written at once once the buffering is over");
    }

    #[test]
    fn a_buffered_log_writes_a_line_within_its_interval() {
        let out = Buffer::default();
        let (drain, _flush) = JsonLines::buffered(out.clone(), Duration::from_millis(20));
        let log = Logger::root(drain.fuse(), o!("service" => "storefront"));
        for round in 0..3 {
            slog::info!(log, "a line"; "round" => round);
            // Polled with a generous deadline: the flusher runs on a thread of its own.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while lines(&out).len() <= round {
                assert!(std::time::Instant::now() < deadline, "the line of round {round} was never written");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
