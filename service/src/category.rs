//! Categories: lookups and the listing.

use entity::category;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::{
    Error, Result, Viewer,
    any::by_keys,
    clock, db,
    keyset::{self, Listing},
    page::{Authors, Key, KeyKind, Ordering, Page, SortKey, Window},
    permissions, validate,
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

/// Every category, by name.
pub(crate) static LISTING: Listing<'static, Category> = Listing {
    table: "categories",
    ordering: &BY_NAME,
    filters: &[],
    authors: Authors::Skip,
};

pub async fn list(db: &impl ConnectionTrait, window: &Window) -> Result<Page<Category>> {
    keyset::page(db, &LISTING, window).await
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64> {
    Ok(category::Entity::find().count(db).await?)
}

pub async fn by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<Option<Category>> {
    let found = by_keys(db, "categories", "slug", &[slug.to_owned()]).await?;
    Ok(found.into_iter().next())
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<Category>> {
    by_keys(db, "categories", "id", ids).await
}

/// A category to create.
#[derive(Clone, Debug)]
pub struct NewCategory {
    pub slug: String,
    pub name: String,
}

/// Creates a category (admins only). A taken slug is a `Conflict`.
#[tracing::instrument(skip_all, fields(slug = %input.slug))]
pub async fn create<C>(db: &C, viewer: &Viewer, input: NewCategory) -> Result<Category>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::create_category(viewer)?;
    let slug = validate::slug("slug", &input.slug)?;
    let name = validate::line("name", &input.name, validate::CATEGORY_NAME_LEN)?;
    let txn = db::begin_write(db).await?;
    let category = Category {
        id: Uuid::now_v7(),
        slug,
        name,
        created_at: clock::now(),
        thread_count: 0,
    }
    .into_active_model()
    .insert(&txn)
    .await
    .map_err(|e| match Error::from(e) {
        Error::Conflict { .. } => Error::Conflict {
            field: Some("slug"),
            message: "a category with this slug exists".to_owned(),
        },
        other => other,
    })?;
    txn.commit().await?;
    Ok(category)
}
