//! Locked threads of a category, in each listing order. `threads(status: LOCKED)` and its
//! count read the few locked threads (5% in the benchmark's forum) instead of every
//! thread of the category: a filter on the listing indexes ran over the whole category
//! until it had a page, and the count read every one of its rows. The indexes are
//! partial, so open threads, whose last activity moves with every reply, never touch
//! them. The statements name the status as a literal, which a partial index needs to be
//! chosen for a prepared statement's generic plan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Name, and the columns of the listing index it mirrors.
const INDEXES: [(&str, &str); 3] = [
    (
        "idx_threads_locked_latest",
        "category_id, is_pinned, last_activity_at, id",
    ),
    (
        "idx_threads_locked_newest",
        "category_id, is_pinned, created_at, id",
    ),
    (
        "idx_threads_locked_oldest",
        "category_id, is_pinned DESC, created_at, id",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, columns) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX {name} ON threads ({columns}) WHERE status = 'locked'"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}
