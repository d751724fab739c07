use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use service::reply;

use super::acting;
use crate::graphql::{error::ServiceResultExt, id::NodeId, reply::Reply};

#[derive(InputObject)]
pub struct AddReplyInput {
    thread_id: ID,
    /// 1–20,000 characters after trimming; line breaks and tabs are its only control characters.
    body: String,
}

#[derive(SimpleObject)]
pub struct AddReplyPayload {
    reply: Reply,
}

#[derive(InputObject)]
pub struct EditReplyInput {
    reply_id: ID,
    /// The new text: 1–20,000 characters after trimming; line breaks and tabs are its only control characters.
    body: String,
}

#[derive(SimpleObject)]
pub struct EditReplyPayload {
    reply: Reply,
}

#[derive(InputObject)]
pub struct DeleteReplyInput {
    reply_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteReplyPayload {
    /// The deleted reply: still in its place, without its body.
    reply: Reply,
}

#[derive(Default)]
pub struct ReplyMutation;

#[Object]
impl ReplyMutation {
    /// Replies to a thread (signed-in users; not on a locked thread).
    async fn add_reply(&self, ctx: &Context<'_>, input: AddReplyInput) -> Result<AddReplyPayload> {
        let (db, viewer) = acting(ctx, "reply")?;
        let thread = NodeId::thread(&input.thread_id, "threadId").gql()?;
        let reply = reply::add(db, viewer, thread, &input.body).await.gql()?;
        Ok(AddReplyPayload {
            reply: Reply::new(reply),
        })
    }

    /// Changes a reply's text (its author or a moderator).
    async fn edit_reply(
        &self,
        ctx: &Context<'_>,
        input: EditReplyInput,
    ) -> Result<EditReplyPayload> {
        let (db, viewer) = acting(ctx, "edit a reply")?;
        let id = NodeId::reply(&input.reply_id, "replyId").gql()?;
        let reply = reply::edit(db, viewer, id, &input.body).await.gql()?;
        Ok(EditReplyPayload {
            reply: Reply::new(reply),
        })
    }

    /// Deletes a reply softly (its author or a moderator): it keeps its place and votes.
    /// Deleting it again changes nothing.
    async fn delete_reply(
        &self,
        ctx: &Context<'_>,
        input: DeleteReplyInput,
    ) -> Result<DeleteReplyPayload> {
        let (db, viewer) = acting(ctx, "delete a reply")?;
        let id = NodeId::reply(&input.reply_id, "replyId").gql()?;
        let reply = reply::delete(db, viewer, id).await.gql()?;
        Ok(DeleteReplyPayload {
            reply: Reply::new(reply),
        })
    }
}
