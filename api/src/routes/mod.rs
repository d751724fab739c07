//! HTTP routes of the host.

mod accept;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod webhook;
