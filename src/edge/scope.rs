//! The request's scope: what the edge knows of a request (its id, its client, its path) and
//! what the layers below learn for its answer (the operation, the caller, headers such as
//! `WWW-Authenticate`, `Retry-After` or `RateLimit-*`, whether the body is already a problem).
//!
//! The edge sets one [`Scope`] around dropshot's handling of each request (a task-local), and
//! reads it back when dropshot answers. So metadata travels as typed values, from where it is
//! known to the one place that writes the response, on successes and errors alike — never in
//! bodies or private headers.

use std::cell::RefCell;
use std::net::IpAddr;

use http::{HeaderName, HeaderValue};
use slog::Logger;

use crate::error::ApiError;
use crate::http::fields::Fieldset;
use crate::http::idempotency::Pending;
use crate::http::policy::OperationMeta;
use crate::ratelimit::Decision;

tokio::task_local! {
    static SCOPE: Scope;
}

/// One request's scope.
pub struct Scope {
    request_id: String,
    client: IpAddr,
    path: String,
    accept: Option<HeaderValue>,
    log: Logger,
    answer: RefCell<Answer>,
    /// The request's idempotency key, claimed or to be replayed (`crate::http::idempotency`).
    idempotency: RefCell<Option<Pending>>,
}

/// What the layers below the edge learned for the answer.
#[derive(Default)]
pub struct Answer {
    /// The operation dropshot routed the request to (none: dropshot's router answered).
    pub operation: Option<&'static OperationMeta>,
    /// The authenticated user, for the access log.
    pub caller: Option<i64>,
    /// Headers for the response, whatever its status.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The rate limiter's last word on the request, written into the response by the edge as
    /// its `RateLimit-*` headers ([`Decision::write_headers`]).
    pub rate_limit: Option<Decision>,
    /// The response body is one of the API's problems (complete, with request id).
    pub problem: bool,
    /// An extractor's error on its way through dropshot (see `ApiError::into_extractor_error`).
    stashed: Option<ApiError>,
    /// The sparse fieldset the answer's body is to have (`fields`; see `crate::http::fields`).
    fieldset: Option<Fieldset>,
}

impl Answer {
    /// The answer of a problem made by the edge itself.
    pub fn problem() -> Answer {
        Answer { problem: true, ..Answer::default() }
    }
}

impl Scope {
    pub fn new(
        request_id: String,
        client: IpAddr,
        path: String,
        accept: Option<HeaderValue>,
        log: Logger,
    ) -> Scope {
        Scope {
            request_id,
            client,
            path,
            accept,
            log,
            answer: RefCell::new(Answer::default()),
            idempotency: RefCell::new(None),
        }
    }

    /// The request's `Accept` header (for the few operations that negotiate their media type).
    pub fn accept(&self) -> Option<&HeaderValue> {
        self.accept.as_ref()
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The client's address (behind a trusted proxy, the address it forwarded for).
    pub fn client(&self) -> IpAddr {
        self.client
    }

    /// The client's address as text, after `prefix` (a rate-limit key's `ip:`).
    pub fn client_text(&self, prefix: &str) -> String {
        ip_text(prefix, self.client)
    }

    /// The request's path (a problem's `instance`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The server's logger with the request id.
    pub fn log(&self) -> &Logger {
        &self.log
    }

    pub fn set_operation(&self, operation: &'static OperationMeta) {
        self.answer.borrow_mut().operation = Some(operation);
    }

    pub fn operation(&self) -> Option<&'static OperationMeta> {
        self.answer.borrow().operation
    }

    pub fn set_caller(&self, user_id: i64) {
        self.answer.borrow_mut().caller = Some(user_id);
    }

    /// Adds a header to the response (replacing one of the same name).
    pub fn header(&self, name: HeaderName, value: HeaderValue) {
        let mut answer = self.answer.borrow_mut();
        answer.headers.retain(|(n, _)| *n != name);
        answer.headers.push((name, value));
    }

    /// Sets the decision the response's `RateLimit-*` headers tell (the last one made wins).
    pub fn rate_limit(&self, decision: Decision) {
        self.answer.borrow_mut().rate_limit = Some(decision);
    }

    /// The response is a problem of the API's; these headers go with it.
    pub fn answered_with_problem(&self, headers: Vec<(HeaderName, HeaderValue)>) {
        let mut answer = self.answer.borrow_mut();
        for (name, _) in &headers {
            answer.headers.retain(|(n, _)| n != name);
        }
        answer.headers.extend(headers);
        answer.problem = true;
    }

    pub fn set_fieldset(&self, fieldset: Fieldset) {
        self.answer.borrow_mut().fieldset = Some(fieldset);
    }

    /// Calls `f` with the answer's fieldset, when it has one.
    pub fn fieldset<R>(&self, f: impl FnOnce(&Fieldset) -> R) -> Option<R> {
        self.answer.borrow().fieldset.as_ref().map(f)
    }

    pub fn take_fieldset(&self) -> Option<Fieldset> {
        self.answer.borrow_mut().fieldset.take()
    }

    pub fn set_idempotency(&self, pending: Pending) {
        *self.idempotency.borrow_mut() = Some(pending);
    }

    /// What the request holds of an idempotency key (the edge settles it once dropshot answered).
    pub fn take_idempotency(&self) -> Option<Pending> {
        self.idempotency.borrow_mut().take()
    }

    pub fn stash(&self, error: ApiError) {
        self.answer.borrow_mut().stashed = Some(error);
    }

    pub fn take_stashed(&self) -> Option<ApiError> {
        self.answer.borrow_mut().stashed.take()
    }

    /// What was learned for the answer (the edge takes it once dropshot has answered).
    pub fn take_answer(&self) -> Answer {
        std::mem::take(&mut self.answer.borrow_mut())
    }

    /// Runs `future` with this scope as the current one.
    pub async fn run<F: std::future::Future>(self, future: F) -> (F::Output, Scope) {
        let mut scoped = std::pin::pin!(SCOPE.scope(self, future));
        let output = (&mut scoped).await;
        let scope = scoped.as_mut().take_value().expect("the scope is returned once, after the future");
        (output, scope)
    }
}

/// Calls `f` with the current request's scope; `None` outside of one (the CLI, unit tests).
pub fn with<R>(f: impl FnOnce(&Scope) -> R) -> Option<R> {
    SCOPE.try_with(f).ok()
}

/// `prefix` and the address as `Display` writes it. IPv4 digit by digit: `Ipv4Addr`'s `Display`
/// formats into a buffer and pads it, about 2,700 instructions, and every request writes its
/// client's address twice (the rate-limit key and the access log).
pub fn ip_text(prefix: &str, ip: IpAddr) -> String {
    let mut text = String::with_capacity(prefix.len() + 15);
    text.push_str(prefix);
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                text.push_str(itoa::Buffer::new().format(octet));
            }
        }
        IpAddr::V6(v6) => {
            use std::fmt::Write;
            let _ = write!(text, "{v6}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_is_display() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text("ip:", ip), format!("ip:{ip}"));
        }
    }
}
