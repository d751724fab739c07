//! The integration suite: the real app on a random loopback port, each test with its own
//! fresh database, spoken to over HTTP. Every test runs on SQLite and, when
//! `TEST_DATABASE_URL` is set, on Postgres (`<test>::sqlite`, `<test>::postgres`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod helpers;
mod authz;
mod binary;
mod browser;
mod concurrency;
mod fast_path;
mod faults;
mod field_errors;
mod fixtures;
mod host;
mod hostile;
mod identity;
mod kept;
mod migrations;
mod parent_pages;
mod pooled;
mod read;
mod schema;
mod soak;
mod statements;
mod transactions;
mod webhook;
mod writes;
