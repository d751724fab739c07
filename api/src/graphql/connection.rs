//! Relay connections: pages from `service` as `XConnection` objects, with a `totalCount`
//! that is read only when asked for, from a counter column where one exists.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{
    Context, ContextSelectionSet, InputType, Lookahead, Name, Object, OutputType, Positioned,
    Result, SelectionField, Value,
    connection::{Connection, CursorType, Edge, EmptyFields},
    parser::types::Field,
};
use entity::thread::Status;
use service::page::{Authors, Cursor, Ordering, Page, PageRequest, Window};
use uuid::Uuid;

use super::{
    context::loader,
    error::ServiceResultExt,
    fast::{self, Direct, direct_object},
    loader::*,
    user::CARD_FIELDS,
};

/// The extra fields of every connection.
pub struct Total(pub TotalSource);

pub enum TotalSource {
    Known(i64),
    Categories,
    CategoryStatus(Uuid, Status),
    AuthorThreads(String),
    AuthorReplies(String),
}

#[Object]
impl Total {
    /// The number of items in the whole list, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let loader = loader(ctx)?;
        let n = match &self.0 {
            TotalSource::Known(n) => *n,
            TotalSource::Categories => {
                let db = &loader.loader().db;
                service::category::count(db).await.gql()? as i64
            }
            TotalSource::CategoryStatus(id, status) => loader
                .load_one(CategoryStatusCountKey(*id, *status))
                .await
                .gql()?
                .unwrap_or(0),
            TotalSource::AuthorThreads(id) => loader
                .load_one(AuthorThreadCountKey(id.clone()))
                .await
                .gql()?
                .unwrap_or(0),
            TotalSource::AuthorReplies(id) => loader
                .load_one(AuthorReplyCountKey(id.clone()))
                .await
                .gql()?
                .unwrap_or(0),
        };
        Ok(clamp(n))
    }
}

type Inner<N> = Connection<PageCursor, N, Total>;

/// A page of `N` as a Relay connection (async-graphql's, with a direct path: its
/// `pageInfo`, a known `totalCount` and `nodes` whose fields are all in memory are built
/// without a resolver each).
pub struct ForumConnection<N: OutputType>(Inner<N>);

direct_object!([N: OutputType + Direct] ForumConnection<N>, Inner<N>);

impl<N: OutputType + Direct> Direct for ForumConnection<N> {
    fn value_of(
        &self,
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        let page = &self.0;
        match name {
            "totalCount" => match page.additional_fields.0 {
                TotalSource::Known(n) => Some(fast::scalar(&clamp(n))),
                _ => None,
            },
            // One list written in place, instead of a future per row; a row with a field
            // to wait for (a nested connection, a loader) leaves the whole list to
            // async-graphql. Rows share a selection, so that is nearly always the first
            // row; a later one (an author to load) means the rows written so far are
            // built again.
            "nodes" => fast::nested(ctx, field, |ctx| {
                fast::list(ctx, page.edges.iter().map(|edge| &edge.node))
            }),
            "pageInfo" => fast::nested(ctx, field, |ctx| {
                let cursor = |edge: Option<&Edge<PageCursor, N, EmptyFields>>| {
                    edge.map_or(Value::Null, |edge| {
                        Value::String(edge.cursor.encode_cursor())
                    })
                };
                fast::record(ctx, "PageInfo", |name| {
                    Some(match name {
                        "hasPreviousPage" => Value::Boolean(page.has_previous_page),
                        "hasNextPage" => Value::Boolean(page.has_next_page),
                        "startCursor" => cursor(page.edges.first()),
                        "endCursor" => cursor(page.edges.last()),
                        _ => return None,
                    })
                })
            }),
            _ => None,
        }
    }
}

fn clamp(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A row's position, turned into text only when `cursor`, `startCursor` or `endCursor`
/// is asked for.
pub struct PageCursor(Cursor);

impl CursorType for PageCursor {
    type Error = &'static str;

    /// Never called: `after`/`before` arrive as strings and are decoded by the service
    /// against the list's ordering, which this trait has no way to name.
    fn decode_cursor(_: &str) -> Result<Self, Self::Error> {
        Err("cursors are decoded by the service")
    }

    fn encode_cursor(&self) -> String {
        self.0.encode()
    }
}

/// Builds a connection from a page, wrapping each row in its GraphQL type.
pub fn connection<T, N: async_graphql::OutputType>(
    page: Page<T>,
    total: TotalSource,
    mut wrap: impl FnMut(T) -> N,
) -> ForumConnection<N> {
    let mut connection =
        Inner::with_additional_fields(page.has_previous_page, page.has_next_page, Total(total));
    connection.edges.extend(
        page.edges
            .into_iter()
            .map(|edge| Edge::new(PageCursor(edge.cursor), wrap(edge.node))),
    );
    ForumConnection(connection)
}

/// A page that a loader may have returned, or an empty one when its parent is gone. The
/// loader has let go of its copy by now, so the rows move out without being cloned.
pub fn or_empty<T: Clone>(page: Option<Arc<Page<T>>>) -> Page<T> {
    page.map_or_else(Page::empty, |page| {
        Arc::try_unwrap(page).unwrap_or_else(|shared| (*shared).clone())
    })
}

/// The complexity of a connection field: its selection counted once per row the page
/// may hold, so `threads(first: 100) { replies(first: 100) { … } }` costs what it loads.
pub fn cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let rows = first
        .or(last)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(service::page::DEFAULT_PAGE_SIZE as usize)
        .clamp(1, service::page::MAX_PAGE_SIZE as usize);
    1 + rows * child_complexity
}

/// How much of the connection's nodes' authors the selection (the connection field's)
/// asks for, so that the page reads them in its own statement: none, a card when only
/// fields of a card are selected (fragments included), else the whole row.
pub fn authors_to_read(look: &Lookahead<'_>) -> Authors {
    let nodes = [look.field("nodes"), look.field("edges").field("node")];
    let authors: Vec<_> = nodes
        .iter()
        .flat_map(|n| n.field("author").selection_fields())
        .collect();
    if authors.is_empty() {
        Authors::Skip
    } else if authors
        .iter()
        .flat_map(|a| a.selection_set())
        .all(|f| CARD_FIELDS.contains(&f.name()))
    {
        Authors::Card
    } else {
        Authors::Full
    }
}

/// The window of a connection field's arguments in `ordering`, reading the row past the
/// page only if the field's selection (`look`) asks whether more exist.
pub fn window<T>(
    request: PageRequest,
    ordering: &Ordering<T>,
    look: &Lookahead<'_>,
) -> Result<Window> {
    let info = look.field("pageInfo");
    let asks_whether_more =
        info.field("hasNextPage").exists() || info.field("hasPreviousPage").exists();
    Ok(request.window(ordering).gql()?.probing(asks_whether_more))
}

/// A connection field of the selection, when it is selected once: its arguments as its
/// resolver will read them, so that its parent can read the page with itself.
pub struct Asked<'a> {
    field: SelectionField<'a>,
    arguments: Vec<(Name, Value)>,
}

impl<'a> Asked<'a> {
    /// `None` when `name` is not selected, or selected more than once (aliases with other
    /// arguments), or an argument does not resolve: the field's resolver then reads its
    /// page itself, and reports what is wrong.
    pub fn once(look: Lookahead<'a>, name: &str) -> Option<Self> {
        let field = match look.field(name).selection_fields()[..] {
            [field] => field,
            _ => return None,
        };
        let arguments = field.arguments().ok()?;
        Some(Self { field, arguments })
    }

    /// The argument `name` as `T` (an `Option` for a nullable one), or `None` if it does
    /// not parse as one.
    pub fn argument<T: InputType>(&self, name: &str) -> Option<T> {
        let value = self.arguments.iter().find(|(n, _)| n.as_str() == name);
        T::parse(value.map(|(_, v)| v.clone())).ok()
    }

    /// Relay's four arguments, as `request` takes them from a resolver's.
    pub fn request(&self) -> Option<PageRequest> {
        Some(request(
            self.argument("first")?,
            self.argument("after")?,
            self.argument("last")?,
            self.argument("before")?,
        ))
    }

    /// The field's own look-ahead, as its resolver sees it.
    pub fn look_ahead(&self) -> Lookahead<'a> {
        Lookahead::from(self.field)
    }
}

/// A page read with its parent, held for the one field that asked for it. Boxed: every
/// object of a list carries the (empty) slot.
pub struct Prefetched<K, V>(Mutex<Option<Box<(K, V)>>>);

impl<K: PartialEq, V> Prefetched<K, V> {
    pub fn new(key: K, page: V) -> Self {
        Self(Mutex::new(Some(Box::new((key, page)))))
    }

    /// The page, if it was read for `key`. Taken by the first field that asks: a page read
    /// for another key is let go, and the field reads its own (a look-ahead that no
    /// longer matches its field costs a statement, never a wrong page).
    pub fn take(&self, key: &K) -> Option<V> {
        let read = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match read.map(|read| *read) {
            Some((read, page)) if read == *key => Some(page),
            Some(_) => {
                tracing::warn!("a page was read ahead for other arguments than its field's");
                None
            }
            None => None,
        }
    }
}

impl<K, V> Default for Prefetched<K, V> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

pub fn request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageRequest {
    PageRequest {
        first: first.map(i64::from),
        after,
        last: last.map(i64::from),
        before,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Schema, ValidationMode};

    use super::*;

    /// Answers which authors a page would read, instead of the page.
    struct Query;

    #[Object]
    impl Query {
        async fn page(&self, ctx: &Context<'_>) -> String {
            format!("{:?}", authors_to_read(&ctx.look_ahead()))
        }
    }

    #[tokio::test]
    async fn a_card_is_read_only_when_nothing_else_of_the_author_is_asked() {
        // The look-ahead reads only the document: `page` is a String in this schema, and
        // fast validation (no field rules) lets a page's selection through on it.
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .validation_mode(ValidationMode::Fast)
            .disable_introspection()
            .finish();
        let cases = [
            ("{ page { nodes { id } } }", "Skip"),
            (
                "{ page { nodes { author { displayName imageUrl } } } }",
                "Card",
            ),
            (
                "{ page { edges { node { author { __typename clerkId } } } } }",
                "Card",
            ),
            ("{ page { nodes { author { displayName role } } } }", "Full"),
            (
                "{ page { nodes { author { displayName } } edges { node { author { createdAt } } } } }",
                "Full",
            ),
            (
                "{ page { nodes { a: author { displayName } b: author { email } } } }",
                "Full",
            ),
            (
                "{ page { nodes { author { ... on User { role } } } } }",
                "Full",
            ),
            (
                "{ page { nodes { author { ...F } } } } fragment F on User { displayName role }",
                "Full",
            ),
            (
                "{ page { nodes { author { ...F } } } } fragment F on User { displayName }",
                "Card",
            ),
        ];
        for (query, expected) in cases {
            let response = schema.execute(query).await;
            let page = response.data.into_json().unwrap()["page"].clone();
            assert_eq!(page, expected, "{query}: {:?}", response.errors);
        }
    }
}
