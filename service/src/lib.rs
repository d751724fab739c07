//! The forum itself: queries, commands, authorization and batch loads over the entities.
//! Knows nothing of HTTP or GraphQL; every entry point takes `&impl ConnectionTrait` so
//! that a caller can hand it a transaction.

mod any;
pub mod category;
pub mod clock;
mod count;
pub mod db;
pub mod deadline;
pub mod error;
mod handle;
mod kept;
mod keyset;
mod lock;
pub mod page;
pub mod permissions;
pub mod pooler;
pub mod reply;
mod rows;
pub mod seed;
mod sql;
mod statement;
pub mod sync;
pub mod thread;
mod tx;
pub mod user;
pub mod validate;
pub mod viewer;
pub mod vote;

pub use error::{Error, Result};
pub use handle::Db;
pub use tx::Tx;
pub use viewer::Viewer;
