//! `Category` and the root fields that find categories.

use async_graphql::{
    Context, ContextSelectionSet, ID, Object, Positioned, Result, Value, parser::types::Field,
};
use chrono::{DateTime, Utc};
use service::{
    category,
    thread::{CategoryThreads, ThreadOrder as ServiceThreadOrder},
    validate,
};

use super::{
    connection::{
        ForumConnection, TotalSource, asks_whether_more, authors_to_read, connection, or_empty,
        request,
    },
    context::loader,
    enums::{ThreadOrder, ThreadStatus},
    error::ServiceResultExt,
    fast::{self, Direct, direct_object},
    id::NodeId,
    loader::CategoryThreadsKey,
    thread::Thread,
    timestamp,
};

/// A topic area of the forum. Every thread belongs to exactly one category.
pub struct Category(CategoryFields);

/// A category's row, and its fields as async-graphql resolves them.
pub struct CategoryFields(category::Category);

direct_object!(Category, CategoryFields);

impl Category {
    pub fn new(model: category::Category) -> Self {
        Self(CategoryFields(model))
    }

    /// The `Node` interface's `id`.
    pub async fn id(&self, _: &Context<'_>) -> Result<ID> {
        Ok(NodeId::Category(self.0.0.id).encode())
    }
}

impl Direct for Category {
    fn value_of(
        &self,
        _: &ContextSelectionSet<'_>,
        name: &str,
        _: &Positioned<Field>,
    ) -> Option<Value> {
        let c = &self.0.0;
        Some(match name {
            "id" => Value::String(NodeId::Category(c.id).encode().0),
            "slug" => fast::string(&c.slug),
            "name" => fast::string(&c.name),
            "createdAt" => timestamp::value(&c.created_at),
            "threadCount" => fast::scalar(&c.thread_count),
            _ => return None,
        })
    }
}

#[Object(name = "Category")]
impl CategoryFields {
    /// The global id of this category.
    async fn id(&self) -> ID {
        NodeId::Category(self.0.id).encode()
    }

    /// The category's unique key in URLs, e.g. `help`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The category's display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// When the category was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// How many threads the category holds.
    async fn thread_count(&self) -> i32 {
        self.0.thread_count
    }

    /// The category's threads: pinned threads first, then in `orderBy` order.
    #[graphql(complexity = "crate::graphql::connection::cost(first, last, child_complexity)")]
    async fn threads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order_by: ThreadOrder,
        status: Option<ThreadStatus>,
    ) -> Result<ForumConnection<Thread>> {
        let order = ServiceThreadOrder::from(order_by);
        let window = request(first, after, last, before)
            .window(order.ordering())
            .gql()?
            .probing(asks_whether_more(ctx));
        let status = status.map(Into::into);
        let authors = authors_to_read(ctx);
        let key = CategoryThreadsKey(
            self.0.id,
            CategoryThreads {
                order,
                status,
                window,
                authors,
            },
        );
        let page = or_empty(loader(ctx)?.load_one(key).await.gql()?);
        let total = match status {
            None => TotalSource::Known(self.0.thread_count.into()),
            Some(status) => TotalSource::CategoryStatus(self.0.id, status),
        };
        Ok(connection(page, total, Thread::from))
    }
}

#[derive(Default)]
pub struct CategoryQuery;

#[Object]
impl CategoryQuery {
    /// All categories, by name.
    #[graphql(complexity = "crate::graphql::connection::cost(first, last, child_complexity)")]
    async fn categories(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ForumConnection<Category>> {
        let window = request(first, after, last, before)
            .window(&category::BY_NAME)
            .gql()?
            .probing(asks_whether_more(ctx));
        let db = &loader(ctx)?.loader().db;
        let page = category::list(db, &window).await.gql()?;
        Ok(connection(page, TotalSource::Categories, Category::new))
    }

    /// The category with this slug, or null if there is none.
    async fn category(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Category>> {
        let slug = validate::slug("slug", &slug).gql()?;
        let db = &loader(ctx)?.loader().db;
        Ok(category::by_slug(db, &slug).await.gql()?.map(Category::new))
    }
}
