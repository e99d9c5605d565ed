//! The contract suite: one test binary that starts the real server (port 0, a fresh database
//! per test) and drives it through the generated client, and through raw HTTP only for what
//! that client cannot send (each such test says so).

mod common;

mod api_keys;
mod auth;
mod cache;
mod categories;
mod config;
mod customers;
mod docs;
mod documented_errors;
mod drift;
mod edge;
mod fields;
mod generated_code;
mod hardening;
mod idempotency;
mod logs;
mod metrics;
mod ops;
mod orders;
mod photos;
mod policy;
mod problems;
mod products;
mod rate_limits;
mod shutdown;
mod tags;
mod tls;
mod users;
mod vendored;
