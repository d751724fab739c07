//! The local mirror of Clerk users. Rows are never deleted (content references them);
//! a deleted account becomes a tombstone with `deleted_at` set and personal data erased.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ROLES: [&str; 3] = ["member", "moderator", "admin"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(text(User::Id).primary_key())
                    .col(text_null(User::Email))
                    .col(text_null(User::Username))
                    .col(text_null(User::FirstName))
                    .col(text_null(User::LastName))
                    .col(text_null(User::ImageUrl))
                    .col(text(User::Role).default("member"))
                    .col(text_null(User::RoleOverride))
                    .col(big_integer_null(User::SourceVersion))
                    .col(timestamp_with_time_zone_null(User::DeletedAt))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .col(timestamp_with_time_zone(User::UpdatedAt))
                    .check(("user_role_check", Expr::col(User::Role).is_in(ROLES)))
                    .check((
                        "user_role_override_check",
                        Expr::col(User::RoleOverride)
                            .is_null()
                            .or(Expr::col(User::RoleOverride).is_in(ROLES)),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(User::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Email,
    Username,
    FirstName,
    LastName,
    ImageUrl,
    Role,
    RoleOverride,
    SourceVersion,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}
