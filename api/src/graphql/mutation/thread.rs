use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use service::thread::{self, NewThread};

use super::acting;
use crate::graphql::{error::ServiceResultExt, id::NodeId, thread::Thread};

#[derive(InputObject)]
pub struct CreateThreadInput {
    /// The category to start the thread in.
    category_id: ID,
    /// 3–200 characters after trimming, on one line (no control characters).
    title: String,
    /// The opening post: 1–20,000 characters after trimming; line breaks and tabs are its only control characters.
    body: String,
}

#[derive(SimpleObject)]
pub struct CreateThreadPayload {
    /// The new thread; its opening post is its first reply.
    thread: Thread,
}

#[derive(InputObject)]
pub struct EditThreadInput {
    thread_id: ID,
    /// The new title: 3–200 characters after trimming, on one line (no control characters).
    title: String,
}

#[derive(SimpleObject)]
pub struct EditThreadPayload {
    thread: Thread,
}

#[derive(InputObject)]
pub struct DeleteThreadInput {
    thread_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteThreadPayload {
    /// The id of the thread that no longer exists.
    deleted_thread_id: ID,
}

#[derive(Default)]
pub struct ThreadMutation;

#[Object]
impl ThreadMutation {
    /// Starts a thread with its opening post (signed-in users).
    async fn create_thread(
        &self,
        ctx: &Context<'_>,
        input: CreateThreadInput,
    ) -> Result<CreateThreadPayload> {
        let (db, viewer) = acting(ctx, "start a thread")?;
        let input = NewThread {
            category_id: NodeId::category(&input.category_id, "categoryId").gql()?,
            title: input.title,
            body: input.body,
        };
        let thread = thread::create(db, viewer, input).await.gql()?;
        Ok(CreateThreadPayload {
            thread: Thread::new(thread),
        })
    }

    /// Changes a thread's title (its author or a moderator).
    async fn edit_thread(
        &self,
        ctx: &Context<'_>,
        input: EditThreadInput,
    ) -> Result<EditThreadPayload> {
        let (db, viewer) = acting(ctx, "edit a thread")?;
        let id = NodeId::thread(&input.thread_id, "threadId").gql()?;
        let thread = thread::edit(db, viewer, id, &input.title).await.gql()?;
        Ok(EditThreadPayload {
            thread: Thread::new(thread),
        })
    }

    /// Deletes a thread with its replies: a moderator may, and so may its author while
    /// nobody else has replied.
    async fn delete_thread(
        &self,
        ctx: &Context<'_>,
        input: DeleteThreadInput,
    ) -> Result<DeleteThreadPayload> {
        let (db, viewer) = acting(ctx, "delete a thread")?;
        let id = NodeId::thread(&input.thread_id, "threadId").gql()?;
        let id = thread::delete(db, viewer, id).await.gql()?;
        Ok(DeleteThreadPayload {
            deleted_thread_id: NodeId::Thread(id).encode(),
        })
    }
}
