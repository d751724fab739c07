//! The Relay `Node` interface and the `node` / `nodes` root fields.

use async_graphql::{Context, ID, Interface, Object, PathSegment, Result};
use futures_util::future::try_join_all;
use service::Error;

use super::{
    category::Category,
    context::loader,
    error::{ServiceResultExt, gql},
    id::NodeId,
    loader::{CategoryKey, ReplyKey, ThreadKey},
    reply::Reply,
    thread::Thread,
    user::{User, author},
};

/// How many ids `nodes` takes at once.
const MAX_NODES: usize = 100;

/// An object with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's global id."))]
pub enum Node {
    Category(Category),
    Thread(Thread),
    Reply(Reply),
    User(User),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global id, or null if there is none.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let id = NodeId::decode(&id).ok_or_else(|| gql(&Error::invalid("id", "not an id")))?;
        fetch(ctx, id).await
    }

    /// The objects with these global ids, in order; null where there is none, and null
    /// with an error at its index where an id is not one.
    #[graphql(complexity = "1 + ids.len() * child_complexity")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            let message = format!("at most {MAX_NODES} ids at once");
            return Err(gql(&Error::invalid("ids", message)));
        }
        // One bad id fails its own place: the list's items are nullable, so the other
        // objects (and the rest of the query) are still answered.
        try_join_all(ids.iter().enumerate().map(|(i, id)| async move {
            match NodeId::decode(id) {
                Some(id) => fetch(ctx, id).await,
                None => {
                    let error = gql(&Error::invalid("ids", "not an id"));
                    let mut error = ctx.set_error_path(error.into_server_error(ctx.item.pos));
                    error.path.push(PathSegment::Index(i));
                    ctx.add_error(error);
                    Ok(None)
                }
            }
        }))
        .await
    }
}

async fn fetch(ctx: &Context<'_>, id: NodeId) -> Result<Option<Node>> {
    let loader = loader(ctx)?;
    Ok(match id {
        NodeId::Category(id) => loader
            .load_one(CategoryKey(id))
            .await
            .gql()?
            .map(|c| Node::Category(Category::new(c))),
        NodeId::Thread(id) => loader
            .load_one(ThreadKey(id))
            .await
            .gql()?
            .map(|t| Node::Thread(Thread::new(t))),
        NodeId::Reply(id) => loader
            .load_one(ReplyKey(id))
            .await
            .gql()?
            .map(|r| Node::Reply(Reply::new(r))),
        NodeId::User(id) => author(ctx, &id).await?.map(Node::User),
    })
}
