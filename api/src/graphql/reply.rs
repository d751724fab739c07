//! `Reply`.

use async_graphql::{
    Context, ContextSelectionSet, ID, Object, Positioned, Result, Value, parser::types::Field,
};
use chrono::{DateTime, Utc};
use service::{page::Authored, permissions, reply};

use super::{
    context::{loader, viewer},
    enums::VoteValue,
    error::{ServiceResultExt, gql},
    fast::{self, Direct, direct_object},
    id::NodeId,
    loader::{ThreadKey, ViewerVoteKey},
    thread::Thread,
    timestamp,
    user::{Author, User},
};

/// A post in a thread.
pub struct Reply(ReplyFields);

/// A reply's data, and its fields as async-graphql resolves them.
pub struct ReplyFields {
    model: reply::Reply,
    author: Author,
    /// The viewer's vote, when a vote mutation has just set it (read again, it could be a
    /// later vote than the one the tallies beside it count).
    known_vote: Option<Option<i16>>,
}

direct_object!(Reply, ReplyFields);

impl Reply {
    pub fn new(model: reply::Reply) -> Self {
        Self::with_author(model, None)
    }

    /// The reply as a vote mutation left it, with the viewer's vote (`None`: none).
    pub fn voted(model: reply::Reply, vote: Option<i16>) -> Self {
        let mut reply = Self::new(model);
        reply.0.known_vote = Some(vote);
        reply
    }

    fn with_author(model: reply::Reply, read: Option<service::page::AuthorRow>) -> Self {
        let author = Author::of(&model.author_id, read);
        Self(ReplyFields {
            model,
            author,
            known_vote: None,
        })
    }

    /// The `Node` interface's `id`.
    pub async fn id(&self, _: &Context<'_>) -> Result<ID> {
        Ok(NodeId::Reply(self.0.model.id).encode())
    }
}

impl Direct for Reply {
    fn value_of(
        &self,
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        let m = &self.0.model;
        Some(match name {
            "id" => Value::String(NodeId::Reply(m.id).encode().0),
            "body" => fast::optional((!m.is_deleted()).then_some(&m.body)),
            "createdAt" => timestamp::value(&m.created_at),
            "editedAt" => timestamp::optional(m.edited_at.as_ref()),
            "isDeleted" => fast::scalar(&m.is_deleted()),
            "author" => self.0.author.fast(ctx, field)?,
            "score" => fast::scalar(&m.score),
            "upvotes" => fast::scalar(&m.upvotes),
            "downvotes" => fast::scalar(&m.downvotes),
            "viewerCanEdit" => {
                fast::scalar(&permissions::edit_reply(fast::viewer(ctx)?, m).is_ok())
            }
            "viewerCanDelete" => {
                fast::scalar(&permissions::can_delete_reply(fast::viewer(ctx)?, m))
            }
            "viewerCanVote" => fast::scalar(&permissions::vote(fast::viewer(ctx)?, m).is_ok()),
            _ => return None,
        })
    }

    fn author(&self) -> Option<&Author> {
        Some(&self.0.author)
    }
}

impl From<Authored<reply::Reply>> for Reply {
    fn from(row: Authored<reply::Reply>) -> Self {
        Self::with_author(row.row, row.author)
    }
}

#[Object(name = "Reply")]
impl ReplyFields {
    /// The global id of this reply.
    async fn id(&self) -> ID {
        NodeId::Reply(self.model.id).encode()
    }

    /// The text of the reply; null once it is deleted.
    async fn body(&self) -> Option<&str> {
        (!self.model.is_deleted()).then_some(self.model.body.as_str())
    }

    /// When the reply was posted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When the body was last edited, if ever.
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.model.edited_at
    }

    /// A deleted reply keeps its place in the thread and its votes, without its body.
    async fn is_deleted(&self) -> bool {
        self.model.is_deleted()
    }

    /// The thread the reply belongs to.
    async fn thread(&self, ctx: &Context<'_>) -> Result<Thread> {
        let thread = loader(ctx)?
            .load_one(ThreadKey(self.model.thread_id))
            .await
            .gql()?;
        thread
            .map(Thread::new)
            .ok_or_else(|| gql(&service::Error::NotFound("thread")))
    }

    /// Who posted the reply; null once their account is deleted.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        self.author.resolve(ctx).await
    }

    /// Up votes minus down votes.
    async fn score(&self) -> i32 {
        self.model.score
    }

    /// How many up votes the reply has.
    async fn upvotes(&self) -> i32 {
        self.model.upvotes
    }

    /// How many down votes the reply has.
    async fn downvotes(&self) -> i32 {
        self.model.downvotes
    }

    /// The signed-in user's vote on this reply; null when none or signed out.
    async fn viewer_vote(&self, ctx: &Context<'_>) -> Result<Option<VoteValue>> {
        if viewer(ctx)?.user_id().is_none() {
            return Ok(None);
        }
        if let Some(known) = self.known_vote {
            return Ok(known.and_then(VoteValue::from_value));
        }
        let value = loader(ctx)?
            .load_one(ViewerVoteKey(self.model.id))
            .await
            .gql()?;
        Ok(value.and_then(VoteValue::from_value))
    }

    /// Whether the signed-in user may change the text.
    async fn viewer_can_edit(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(permissions::edit_reply(viewer(ctx)?, &self.model).is_ok())
    }

    /// Whether the signed-in user may delete the reply.
    async fn viewer_can_delete(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(permissions::can_delete_reply(viewer(ctx)?, &self.model))
    }

    /// Whether the signed-in user may vote on the reply (not on their own).
    async fn viewer_can_vote(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(permissions::vote(viewer(ctx)?, &self.model).is_ok())
    }
}
