//! Votes: the (reply, voter) pair is the primary key, so a voter has at most one vote
//! per reply and a second vote can only change it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReplyVotes::Table)
                    .col(uuid(ReplyVotes::ReplyId))
                    .col(text(ReplyVotes::VoterId))
                    .col(small_integer(ReplyVotes::Value))
                    .col(timestamp_with_time_zone(ReplyVotes::CreatedAt))
                    .col(timestamp_with_time_zone(ReplyVotes::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .name("reply_votes_pkey")
                            .col(ReplyVotes::ReplyId)
                            .col(ReplyVotes::VoterId),
                    )
                    .check((
                        "reply_votes_value_check",
                        Expr::col(ReplyVotes::Value).is_in([-1, 1]),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("reply_votes_reply_id_fkey")
                            .from(ReplyVotes::Table, ReplyVotes::ReplyId)
                            .to(ThreadReplies::Table, ThreadReplies::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("reply_votes_voter_id_fkey")
                            .from(ReplyVotes::Table, ReplyVotes::VoterId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reply_votes_voter")
                    .table(ReplyVotes::Table)
                    .col(ReplyVotes::VoterId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReplyVotes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ReplyVotes {
    Table,
    ReplyId,
    VoterId,
    Value,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ThreadReplies {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
