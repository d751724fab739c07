//! Users: lookups. A tombstoned user is still returned; callers decide what a ghost shows.

use chrono::{DateTime, Utc};
use entity::user::{self, Role};
use sea_orm::{ActiveEnum, ConnectionTrait};

use crate::{Error, Result, any::by_keys, clock, sql::Sql, validate};

pub use user::Model as User;

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<User>> {
    by_keys(db, "\"user\"", "id", ids).await
}

pub async fn by_id(db: &impl ConnectionTrait, id: &str) -> Result<Option<User>> {
    Ok(by_ids(db, &[id.to_owned()]).await?.into_iter().next())
}

/// The columns of a user that a byline shows (its name and avatar, and whether the
/// account is deleted): what a page joins when no other field of its authors is asked
/// for. Half the user's columns, so the database sends and the server decodes half.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub id: String,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Card {
    /// The columns a card is read from, in its fields' order.
    pub const COLUMNS: [user::Column; 6] = [
        user::Column::Id,
        user::Column::Username,
        user::Column::FirstName,
        user::Column::LastName,
        user::Column::ImageUrl,
        user::Column::DeletedAt,
    ];

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// The name to show for a user: first and last name, else the username, else nothing.
pub fn display_name(
    first_name: Option<&str>,
    last_name: Option<&str>,
    username: Option<&str>,
) -> Option<String> {
    let full = [first_name, last_name]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if full.is_empty() {
        username.map(str::to_owned)
    } else {
        Some(full)
    }
}

/// The row of a signed-in user whose webhook may not have arrived yet: created from the
/// token's subject (with `name`, if the token carries one) when missing. A tombstone is
/// returned as it is, never brought back.
pub async fn provision(db: &impl ConnectionTrait, id: &str, name: Option<&str>) -> Result<User> {
    if let Some(user) = by_id(db, id).await? {
        return Ok(user);
    }
    let now = clock::now();
    let mut sql = Sql::new(db.get_database_backend());
    // No source version: any webhook for this user is newer than this row.
    sql.push("INSERT INTO \"user\" (id, first_name, role, created_at, updated_at) VALUES (")
        .bind(id.to_owned())
        .push(", ")
        .bind(name.map(validate::storable_text))
        .push(", ")
        .bind(Role::Member.to_value())
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT (id) DO NOTHING");
    db.execute_raw(sql.statement()).await?;
    by_id(db, id).await?.ok_or(Error::NotFound("user"))
}

/// Sets (or with `None`, clears) the role an operator gives a user, which wins over the
/// role Clerk's metadata gives. Creates the row if the user never signed in, so that an
/// instance can be bootstrapped before its first admin arrives.
pub async fn set_role_override(
    db: &impl ConnectionTrait,
    id: &str,
    role: Option<Role>,
) -> Result<User> {
    let now = clock::now();
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("INSERT INTO \"user\" (id, role, role_override, created_at, updated_at) VALUES (")
        .bind(id.to_owned())
        .push(", ")
        .bind(Role::Member.to_value())
        .push(", ")
        .bind(role.map(|r| r.to_value()))
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(
            ") ON CONFLICT (id) DO UPDATE SET role_override = excluded.role_override, \
             updated_at = excluded.updated_at WHERE \"user\".deleted_at IS NULL",
        );
    db.execute_raw(sql.statement()).await?;
    let user = by_id(db, id).await?.ok_or(Error::NotFound("user"))?;
    if user.is_deleted() {
        return Err(Error::forbidden("this account was deleted"));
    }
    Ok(user)
}
