//! `Category` and the root fields that find categories.

use async_graphql::{
    Context, ContextSelectionSet, ID, Lookahead, Object, Positioned, Result, Value,
    parser::types::Field,
};
use chrono::{DateTime, Utc};
use service::{
    category,
    page::{Authored, Page, PageRequest},
    thread::{CategoryThreads, ThreadOrder as ServiceThreadOrder},
    validate,
};

use super::{
    connection::{
        Asked, ForumConnection, Prefetched, TotalSource, authors_to_read, connection, or_empty,
        request, window,
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
pub struct CategoryFields {
    model: category::Category,
    /// The page of threads read with the category, if any.
    prefetched: Prefetched<CategoryThreads, ThreadsPage>,
}

type ThreadsPage = Page<Authored<service::thread::Thread>>;

direct_object!(Category, CategoryFields);

impl Category {
    pub fn new(model: category::Category) -> Self {
        let prefetched = Prefetched::default();
        Self(CategoryFields { model, prefetched })
    }

    /// The `Node` interface's `id`.
    pub async fn id(&self, _: &Context<'_>) -> Result<ID> {
        Ok(NodeId::Category(self.0.model.id).encode())
    }
}

impl Direct for Category {
    fn value_of(
        &self,
        _: &ContextSelectionSet<'_>,
        name: &str,
        _: &Positioned<Field>,
    ) -> Option<Value> {
        let c = &self.0.model;
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
        NodeId::Category(self.model.id).encode()
    }

    /// The category's unique key in URLs, e.g. `help`.
    async fn slug(&self) -> &str {
        &self.model.slug
    }

    /// The category's display name.
    async fn name(&self) -> &str {
        &self.model.name
    }

    /// When the category was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// How many threads the category holds.
    async fn thread_count(&self) -> i32 {
        self.model.thread_count
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
        // Nullable, as the contract has it: an explicit null means the default.
        #[graphql(default_with = "Some(ThreadOrder::default())")] order_by: Option<ThreadOrder>,
        status: Option<ThreadStatus>,
    ) -> Result<ForumConnection<Thread>> {
        let look = ctx.look_ahead();
        let arguments = request(first, after, last, before);
        let query = threads_query(arguments, order_by.unwrap_or_default(), status, &look)?;
        let status = query.status;
        let page = match self.prefetched.take(&query) {
            Some(page) => page,
            None => {
                let key = CategoryThreadsKey(self.model.id, query);
                or_empty(loader(ctx)?.load_one(key).await.gql()?)
            }
        };
        let total = match status {
            None => TotalSource::Known(self.model.thread_count.into()),
            Some(status) => TotalSource::CategoryStatus(self.model.id, status),
        };
        Ok(connection(page, total, Thread::from))
    }
}

/// The page that `threads(…)` asks for: read by the field, and by `category(slug:)` ahead
/// of it.
fn threads_query(
    request: PageRequest,
    order_by: ThreadOrder,
    status: Option<ThreadStatus>,
    look: &Lookahead<'_>,
) -> Result<CategoryThreads> {
    let order = ServiceThreadOrder::from(order_by);
    Ok(CategoryThreads {
        order,
        status: status.map(Into::into),
        window: window(request, order.ordering(), look)?,
        authors: authors_to_read(look),
    })
}

/// The page of threads selected under a category (`look`), if it is selected once and
/// its arguments are valid.
fn threads_asked(look: Lookahead<'_>) -> Option<CategoryThreads> {
    let asked = Asked::once(look, "threads")?;
    // Omitted or null, `orderBy` is the default, as in the field's resolver.
    let order_by = asked.argument::<Option<ThreadOrder>>("orderBy")?;
    let order_by = order_by.unwrap_or_default();
    let status = asked.argument("status")?;
    threads_query(asked.request()?, order_by, status, &asked.look_ahead()).ok()
}

/// The page of threads selected under every category of a connection (`look`), through
/// its `nodes` or its `edges { node }` but not both, as `threads_asked`.
fn node_threads_asked(look: &Lookahead<'_>) -> Option<CategoryThreads> {
    let nodes = look.field("nodes");
    let edges = look.field("edges").field("node");
    match (nodes.exists(), edges.exists()) {
        (true, false) => threads_asked(nodes),
        (false, true) => threads_asked(edges),
        _ => None,
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
        let arguments = request(first, after, last, before);
        let look = ctx.look_ahead();
        let window = window(arguments, &category::BY_NAME, &look)?;
        let db = &loader(ctx)?.loader().db;
        // The front page: the categories and their threads in one statement.
        if let Some(query) = node_threads_asked(&look) {
            let read = service::thread::categories_with_pages(db, &window, &query).await;
            let (page, mut pages) = read.gql()?;
            return Ok(connection(page, TotalSource::Categories, |model| {
                let threads = pages.remove(&model.id).unwrap_or_else(Page::empty);
                let prefetched = Prefetched::new(query.clone(), threads);
                Category(CategoryFields { model, prefetched })
            }));
        }
        let page = category::list(db, &window).await.gql()?;
        Ok(connection(page, TotalSource::Categories, Category::new))
    }

    /// The category with this slug, or null if there is none.
    async fn category(&self, ctx: &Context<'_>, slug: String) -> Result<Option<Category>> {
        let slug = validate::slug("slug", &slug).gql()?;
        let db = &loader(ctx)?.loader().db;
        // A category page: the category and its threads in one statement.
        if let Some(query) = threads_asked(ctx.look_ahead()) {
            let read = service::thread::category_with_page(db, &slug, &query).await;
            return Ok(read.gql()?.map(|(model, page)| {
                let prefetched = Prefetched::new(query, page);
                Category(CategoryFields { model, prefetched })
            }));
        }
        Ok(category::by_slug(db, &slug).await.gql()?.map(Category::new))
    }
}
