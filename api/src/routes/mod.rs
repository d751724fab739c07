//! HTTP routes of the host.

pub mod graphiql;
pub mod graphql;
pub mod health;
mod response_json;
pub mod webhook;
