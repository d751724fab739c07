//! Categories: lookups and the listing.

use entity::category;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    Result,
    keyset::{self, Listing},
    page::{Key, KeyKind, Ordering, Page, SortKey, Window},
};

pub use category::Model as Category;

/// Categories by name; the id breaks ties.
pub static BY_NAME: Ordering<Category> = Ordering {
    tag: "category-name",
    keys: &[
        SortKey {
            column: "name",
            kind: KeyKind::Text,
            descending: false,
            read: |c| Key::Text(c.name.clone()),
        },
        SortKey {
            column: "id",
            kind: KeyKind::Uuid,
            descending: false,
            read: |c| Key::Uuid(c.id),
        },
    ],
};

pub async fn list(db: &impl ConnectionTrait, window: &Window) -> Result<Page<Category>> {
    let listing = Listing {
        table: "categories",
        ordering: &BY_NAME,
        filters: &[],
    };
    keyset::page(db, &listing, window).await
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64> {
    Ok(category::Entity::find().count(db).await?)
}

pub async fn by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<Option<Category>> {
    Ok(category::Entity::find()
        .filter(category::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<Category>> {
    Ok(category::Entity::find()
        .filter(category::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}
