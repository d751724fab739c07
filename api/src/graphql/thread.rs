//! `Thread` and the root field that finds one.

use std::sync::Arc;

use async_graphql::{
    Context, ContextSelectionSet, ID, Lookahead, Object, Positioned, Result, Value,
    parser::types::Field,
};
use chrono::{DateTime, Utc};
use service::{
    page::{Authored, Page, PageRequest},
    permissions,
    reply::{ReplyOrder as ServiceReplyOrder, ThreadReplies},
    thread,
};

use super::{
    category::Category,
    connection::{
        Asked, ForumConnection, Prefetched, TotalSource, authors_to_read, connection, or_empty,
        request, window,
    },
    context::{loader, viewer},
    enums::{ReplyOrder, ThreadStatus},
    error::{ServiceResultExt, gql},
    fast::{self, Direct, direct_object},
    id::NodeId,
    loader::{CategoryKey, OthersRepliedKey, ThreadKey, ThreadRepliesKey, ThreadWithRepliesKey},
    reply::Reply,
    timestamp,
    user::{Author, User},
};

/// A discussion in a category. Its opening post is its first reply.
pub struct Thread(ThreadFields);

/// A thread's data, and its fields as async-graphql resolves them.
pub struct ThreadFields {
    model: thread::Thread,
    author: Author,
    /// The page of replies read with the thread, if any.
    prefetched: Prefetched<ThreadReplies, RepliesPage>,
}

type RepliesPage = Page<Authored<service::reply::Reply>>;

direct_object!(Thread, ThreadFields);

impl Thread {
    pub fn new(model: thread::Thread) -> Self {
        Self::with_author(model, None)
    }

    fn with_author(model: thread::Thread, read: Option<service::page::AuthorRow>) -> Self {
        let author = Author::of(&model.author_id, read);
        let prefetched = Prefetched::default();
        Self(ThreadFields {
            model,
            author,
            prefetched,
        })
    }

    /// A thread read with the page of replies that `query` asks for.
    fn with_replies(model: thread::Thread, query: ThreadReplies, page: RepliesPage) -> Self {
        let mut thread = Self::new(model);
        thread.0.prefetched = Prefetched::new(query, page);
        thread
    }

    /// The `Node` interface's `id`.
    pub async fn id(&self, _: &Context<'_>) -> Result<ID> {
        Ok(NodeId::Thread(self.0.model.id).encode())
    }
}

impl Direct for Thread {
    fn value_of(
        &self,
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        let m = &self.0.model;
        Some(match name {
            "id" => Value::String(NodeId::Thread(m.id).encode().0),
            "title" => fast::string(&m.title),
            "status" => fast::enumeration(ThreadStatus::from(m.status)),
            "isPinned" => fast::scalar(&m.is_pinned),
            "createdAt" => timestamp::value(&m.created_at),
            "editedAt" => timestamp::optional(m.edited_at.as_ref()),
            "lastActivityAt" => timestamp::value(&m.last_activity_at),
            "replyCount" => fast::scalar(&m.reply_count),
            "author" => self.0.author.fast(ctx, field)?,
            "viewerCanReply" => fast::scalar(&permissions::reply(fast::viewer(ctx)?, m).is_ok()),
            "viewerCanModerate" => fast::scalar(&permissions::moderate(fast::viewer(ctx)?).is_ok()),
            "viewerCanEdit" => {
                fast::scalar(&permissions::edit_thread(fast::viewer(ctx)?, m).is_ok())
            }
            _ => return None,
        })
    }

    fn author(&self) -> Option<&Author> {
        Some(&self.0.author)
    }
}

impl From<Authored<thread::Thread>> for Thread {
    fn from(row: Authored<thread::Thread>) -> Self {
        Self::with_author(row.row, row.author)
    }
}

#[Object(name = "Thread")]
impl ThreadFields {
    /// The global id of this thread.
    async fn id(&self) -> ID {
        NodeId::Thread(self.model.id).encode()
    }

    /// The thread's title.
    async fn title(&self) -> &str {
        &self.model.title
    }

    /// Whether the thread takes new replies.
    async fn status(&self) -> ThreadStatus {
        self.model.status.into()
    }

    /// Pinned threads are listed before all others in their category.
    async fn is_pinned(&self) -> bool {
        self.model.is_pinned
    }

    /// When the thread was started.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When the title was last edited, if ever.
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.model.edited_at
    }

    /// When the newest reply was posted (the thread's creation if none since).
    async fn last_activity_at(&self) -> DateTime<Utc> {
        self.model.last_activity_at
    }

    /// How many replies the thread has, its opening post included.
    async fn reply_count(&self) -> i32 {
        self.model.reply_count
    }

    /// The category the thread belongs to.
    async fn category(&self, ctx: &Context<'_>) -> Result<Category> {
        let category = loader(ctx)?
            .load_one(CategoryKey(self.model.category_id))
            .await
            .gql()?;
        category
            .map(Category::new)
            .ok_or_else(|| gql(&service::Error::NotFound("category")))
    }

    /// Who started the thread; null once their account is deleted.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        self.author.resolve(ctx).await
    }

    /// The thread's replies, the opening post first in the default order.
    #[graphql(complexity = "crate::graphql::connection::cost(first, last, child_complexity)")]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        // Nullable, as the contract has it: an explicit null means the default.
        #[graphql(default_with = "Some(ReplyOrder::default())")] order_by: Option<ReplyOrder>,
    ) -> Result<ForumConnection<Reply>> {
        let look = ctx.look_ahead();
        let arguments = request(first, after, last, before);
        let query = replies_query(arguments, order_by.unwrap_or_default(), &look)?;
        let page = match self.prefetched.take(&query) {
            Some(page) => page,
            None => {
                let key = ThreadRepliesKey(self.model.id, query);
                or_empty(loader(ctx)?.load_one(key).await.gql()?)
            }
        };
        let total = TotalSource::Known(self.model.reply_count.into());
        Ok(connection(page, total, Reply::from))
    }

    /// Whether the signed-in user may reply (false when signed out or locked).
    async fn viewer_can_reply(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(permissions::reply(viewer(ctx)?, &self.model).is_ok())
    }

    /// Whether the signed-in user may lock, unlock, pin and unpin this thread.
    async fn viewer_can_moderate(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(permissions::moderate(viewer(ctx)?).is_ok())
    }

    /// Whether the signed-in user may change the title.
    async fn viewer_can_edit(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(permissions::edit_thread(viewer(ctx)?, &self.model).is_ok())
    }

    /// Whether the signed-in user may delete the thread.
    async fn viewer_can_delete(&self, ctx: &Context<'_>) -> Result<bool> {
        let viewer = viewer(ctx)?;
        // Whether others replied matters only to the author who is not a moderator.
        let others = if viewer.is(&self.model.author_id) && !viewer.is_moderator() {
            let key = OthersRepliedKey(self.model.id);
            loader(ctx)?.load_one(key).await.gql()?.unwrap_or(false)
        } else {
            false
        };
        Ok(permissions::delete_thread(viewer, &self.model, others).is_ok())
    }
}

/// The page that `replies(…)` asks for: read by the field, and by `thread(id:)` ahead of it.
fn replies_query(
    request: PageRequest,
    order_by: ReplyOrder,
    look: &Lookahead<'_>,
) -> Result<ThreadReplies> {
    let order = ServiceReplyOrder::from(order_by);
    Ok(ThreadReplies {
        order,
        window: window(request, order.ordering(), look)?,
        authors: authors_to_read(look),
    })
}

/// The page of replies selected under a thread, if it is selected once and its arguments
/// are valid.
fn replies_asked(ctx: &Context<'_>) -> Option<ThreadReplies> {
    let asked = Asked::once(ctx.look_ahead(), "replies")?;
    // Omitted or null, `orderBy` is the default, as in the field's resolver.
    let order_by = asked.argument::<Option<ReplyOrder>>("orderBy")?;
    let order_by = order_by.unwrap_or_default();
    replies_query(asked.request()?, order_by, &asked.look_ahead()).ok()
}

#[derive(Default)]
pub struct ThreadQuery;

#[Object]
impl ThreadQuery {
    /// The thread with this id, or null if there is none.
    async fn thread(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Thread>> {
        let id = NodeId::thread(&id, "id").gql()?;
        let loader = loader(ctx)?;
        // A thread page: the thread with its replies (one statement for one thread).
        if let Some(query) = replies_asked(ctx) {
            let read = loader
                .load_one(ThreadWithRepliesKey(id, query.clone()))
                .await;
            return Ok(read.gql()?.map(|read| {
                let (thread, page) = Arc::unwrap_or_clone(read);
                Thread::with_replies(thread, query, page)
            }));
        }
        let thread = loader.load_one(ThreadKey(id)).await.gql()?;
        Ok(thread.map(Thread::new))
    }
}
