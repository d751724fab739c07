//! Categories: slug-unique, listed by name.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Categories::Table)
                    .col(uuid(Categories::Id).primary_key())
                    .col(text(Categories::Slug))
                    .col(text(Categories::Name))
                    .col(timestamp_with_time_zone(Categories::CreatedAt))
                    .col(integer(Categories::ThreadCount).default(0))
                    .check((
                        "categories_thread_count_check",
                        Expr::col(Categories::ThreadCount).gte(0),
                    ))
                    .to_owned(),
            )
            .await?;
        // A named unique index: the service maps a violation of this name to CONFLICT.
        manager
            .create_index(
                Index::create()
                    .name("categories_slug_key")
                    .table(Categories::Table)
                    .col(Categories::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_categories_name")
                    .table(Categories::Table)
                    .col(Categories::Name)
                    .col(Categories::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Categories::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
    ThreadCount,
}
