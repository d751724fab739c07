//! Threads. Each listing order has an index whose column order (and direction) matches
//! its `ORDER BY`, pinned threads first, so a page is one index range scan.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Threads::Table)
                    .col(uuid(Threads::Id).primary_key())
                    .col(uuid(Threads::CategoryId))
                    .col(text(Threads::AuthorId))
                    .col(text(Threads::Title))
                    .col(text(Threads::Status).default("open"))
                    .col(boolean(Threads::IsPinned).default(false))
                    .col(timestamp_with_time_zone(Threads::CreatedAt))
                    .col(timestamp_with_time_zone_null(Threads::EditedAt))
                    .col(timestamp_with_time_zone(Threads::LastActivityAt))
                    .col(integer(Threads::ReplyCount).default(0))
                    .check((
                        "threads_status_check",
                        Expr::col(Threads::Status).is_in(["open", "locked"]),
                    ))
                    .check((
                        "threads_reply_count_check",
                        Expr::col(Threads::ReplyCount).gte(0),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("threads_category_id_fkey")
                            .from(Threads::Table, Threads::CategoryId)
                            .to(Categories::Table, Categories::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        // Users are tombstoned, never deleted: content outlives accounts.
                        ForeignKey::create()
                            .name("threads_author_id_fkey")
                            .from(Threads::Table, Threads::AuthorId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            // LATEST_ACTIVITY and NEWEST scan these backwards: pinned, then newest first.
            index("idx_threads_category_latest")
                .col(Threads::CategoryId)
                .col(Threads::IsPinned)
                .col(Threads::LastActivityAt)
                .col(Threads::Id)
                .to_owned(),
            index("idx_threads_category_newest")
                .col(Threads::CategoryId)
                .col(Threads::IsPinned)
                .col(Threads::CreatedAt)
                .col(Threads::Id)
                .to_owned(),
            // OLDEST mixes directions (pinned first, then oldest first).
            index("idx_threads_category_oldest")
                .col(Threads::CategoryId)
                .col((Threads::IsPinned, IndexOrder::Desc))
                .col(Threads::CreatedAt)
                .col(Threads::Id)
                .to_owned(),
            index("idx_threads_author")
                .col(Threads::AuthorId)
                .col(Threads::CreatedAt)
                .col(Threads::Id)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Threads::Table).to_owned())
            .await
    }
}

fn index(name: &str) -> IndexCreateStatement {
    Index::create().name(name).table(Threads::Table).to_owned()
}

#[derive(DeriveIden)]
enum Threads {
    Table,
    Id,
    CategoryId,
    AuthorId,
    Title,
    Status,
    IsPinned,
    CreatedAt,
    EditedAt,
    LastActivityAt,
    ReplyCount,
}

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
