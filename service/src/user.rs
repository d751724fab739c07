//! Users: lookups. A tombstoned user is still returned; callers decide what a ghost shows.

use entity::user;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::Result;

pub use user::Model as User;

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<User>> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: &str) -> Result<Option<User>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// The name to show for a user: first and last name, else the username, else nothing.
pub fn display_name(user: &User) -> Option<String> {
    let full = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if full.is_empty() {
        user.username.clone()
    } else {
        Some(full)
    }
}
