//! HTTP routes of the host.

pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod webhook;
