//! SeaORM entities of the forum's tables, and nothing else: no queries, no rules.

pub mod category;
pub mod reply;
pub mod thread;
pub mod user;
pub mod vote;
