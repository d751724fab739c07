use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use service::category::{self, NewCategory};

use super::acting;
use crate::graphql::{category::Category, error::ServiceResultExt};

#[derive(InputObject)]
pub struct CreateCategoryInput {
    /// Unique key in URLs: lowercase letters and digits in words joined by hyphens, 2–64
    /// characters.
    slug: String,
    /// Display name: 1–80 characters after trimming, on one line (no control characters).
    name: String,
}

#[derive(SimpleObject)]
pub struct CreateCategoryPayload {
    /// The new category.
    category: Category,
}

#[derive(Default)]
pub struct CategoryMutation;

#[Object]
impl CategoryMutation {
    /// Creates a category (admins only). A taken slug is a `CONFLICT`.
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
    ) -> Result<CreateCategoryPayload> {
        let (db, viewer) = acting(ctx, "create a category")?;
        let input = NewCategory {
            slug: input.slug,
            name: input.name,
        };
        let category = category::create(db, viewer, input).await.gql()?;
        Ok(CreateCategoryPayload {
            category: Category::new(category),
        })
    }
}
