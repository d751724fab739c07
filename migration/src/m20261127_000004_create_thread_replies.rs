//! Replies. Soft-deleted rows keep their place; the vote tallies live on the row, and
//! CHECKs keep them consistent with each other whatever a write does.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ThreadReplies::Table)
                    .col(uuid(ThreadReplies::Id).primary_key())
                    .col(uuid(ThreadReplies::ThreadId))
                    .col(text(ThreadReplies::AuthorId))
                    .col(text(ThreadReplies::Body))
                    .col(timestamp_with_time_zone(ThreadReplies::CreatedAt))
                    .col(timestamp_with_time_zone_null(ThreadReplies::EditedAt))
                    .col(timestamp_with_time_zone_null(ThreadReplies::DeletedAt))
                    .col(integer(ThreadReplies::Score).default(0))
                    .col(integer(ThreadReplies::Upvotes).default(0))
                    .col(integer(ThreadReplies::Downvotes).default(0))
                    .check((
                        "thread_replies_tally_check",
                        Expr::col(ThreadReplies::Upvotes)
                            .gte(0)
                            .and(Expr::col(ThreadReplies::Downvotes).gte(0))
                            .and(
                                Expr::col(ThreadReplies::Score)
                                    .eq(Expr::col(ThreadReplies::Upvotes)
                                        .sub(Expr::col(ThreadReplies::Downvotes))),
                            ),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("thread_replies_thread_id_fkey")
                            .from(ThreadReplies::Table, ThreadReplies::ThreadId)
                            .to(Threads::Table, Threads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("thread_replies_author_id_fkey")
                            .from(ThreadReplies::Table, ThreadReplies::AuthorId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            // OLDEST scans forwards, NEWEST backwards.
            index("idx_thread_replies_thread_created")
                .col(ThreadReplies::ThreadId)
                .col(ThreadReplies::CreatedAt)
                .col(ThreadReplies::Id)
                .to_owned(),
            // TOP: best score first, ties oldest first.
            index("idx_thread_replies_thread_top")
                .col(ThreadReplies::ThreadId)
                .col((ThreadReplies::Score, IndexOrder::Desc))
                .col(ThreadReplies::CreatedAt)
                .col(ThreadReplies::Id)
                .to_owned(),
            index("idx_thread_replies_author")
                .col(ThreadReplies::AuthorId)
                .col(ThreadReplies::CreatedAt)
                .col(ThreadReplies::Id)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ThreadReplies::Table).to_owned())
            .await
    }
}

fn index(name: &str) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(ThreadReplies::Table)
        .to_owned()
}

#[derive(DeriveIden)]
enum ThreadReplies {
    Table,
    Id,
    ThreadId,
    AuthorId,
    Body,
    CreatedAt,
    EditedAt,
    DeletedAt,
    Score,
    Upvotes,
    Downvotes,
}

#[derive(DeriveIden)]
enum Threads {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
