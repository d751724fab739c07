//! Category names sort by their bytes on Postgres too, as they do in Rust and SQLite. A
//! page is cut in Rust (`Page::from_rows`) from rows the database sorted; under a
//! language collation (en_US, ICU) the two orders disagree ("Zebra" sorts before "apple"
//! by bytes, after it by language), and pages of categories dropped some and repeated
//! others. `COLLATE "C"` makes the column's order, its index's and Rust's one order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        collate(manager, "\"C\"").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        collate(manager, "\"default\"").await
    }
}

/// SQLite compares text by its bytes already (`BINARY`).
async fn collate(manager: &SchemaManager<'_>, collation: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE categories ALTER COLUMN name TYPE text COLLATE {collation}"
        ))
        .await
        .map(drop)
}
