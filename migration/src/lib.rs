//! Schema migrations, one file per change, each with a working `down`. They name tables
//! and columns themselves (no entity imports) so that an old migration never changes
//! meaning when an entity does.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_user;
mod m20261127_000002_create_categories;
mod m20261127_000003_create_threads;
mod m20261127_000004_create_thread_replies;
mod m20261127_000005_create_reply_votes;
mod m20261204_000006_category_names_in_byte_order;
mod m20261205_000007_locked_thread_indexes;
mod m20261205_000008_top_replies_on_negated_score;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_user::Migration),
            Box::new(m20261127_000002_create_categories::Migration),
            Box::new(m20261127_000003_create_threads::Migration),
            Box::new(m20261127_000004_create_thread_replies::Migration),
            Box::new(m20261127_000005_create_reply_votes::Migration),
            Box::new(m20261204_000006_category_names_in_byte_order::Migration),
            Box::new(m20261205_000007_locked_thread_indexes::Migration),
            Box::new(m20261205_000008_top_replies_on_negated_score::Migration),
        ]
    }
}
