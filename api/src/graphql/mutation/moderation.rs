use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::thread::Status;
use service::thread;

use super::acting;
use crate::graphql::{error::ServiceResultExt, id::NodeId, thread::Thread};

/// One input and one payload type per moderation mutation, as for every other mutation.
macro_rules! moderation_types {
    ($($input:ident => $payload:ident),* $(,)?) => {$(
        #[derive(InputObject)]
        pub struct $input {
            thread_id: ID,
        }

        #[derive(SimpleObject)]
        pub struct $payload {
            thread: Thread,
        }
    )*};
}

moderation_types! {
    LockThreadInput => LockThreadPayload,
    UnlockThreadInput => UnlockThreadPayload,
    PinThreadInput => PinThreadPayload,
    UnpinThreadInput => UnpinThreadPayload,
}

enum Change {
    Status(Status),
    Pinned(bool),
}

async fn moderate(ctx: &Context<'_>, thread_id: &ID, change: Change) -> Result<Thread> {
    let (db, viewer) = acting(ctx, "moderate")?;
    let id = NodeId::thread(thread_id, "threadId").gql()?;
    let thread = match change {
        Change::Status(status) => thread::set_status(db, viewer, id, status).await,
        Change::Pinned(pinned) => thread::set_pinned(db, viewer, id, pinned).await,
    };
    Ok(Thread::new(thread.gql()?))
}

#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Locks a thread: no new replies (moderators and admins).
    async fn lock_thread(
        &self,
        ctx: &Context<'_>,
        input: LockThreadInput,
    ) -> Result<LockThreadPayload> {
        let thread = moderate(ctx, &input.thread_id, Change::Status(Status::Locked)).await?;
        Ok(LockThreadPayload { thread })
    }

    /// Reopens a locked thread (moderators and admins).
    async fn unlock_thread(
        &self,
        ctx: &Context<'_>,
        input: UnlockThreadInput,
    ) -> Result<UnlockThreadPayload> {
        let thread = moderate(ctx, &input.thread_id, Change::Status(Status::Open)).await?;
        Ok(UnlockThreadPayload { thread })
    }

    /// Pins a thread above the others of its category (moderators and admins).
    async fn pin_thread(
        &self,
        ctx: &Context<'_>,
        input: PinThreadInput,
    ) -> Result<PinThreadPayload> {
        let thread = moderate(ctx, &input.thread_id, Change::Pinned(true)).await?;
        Ok(PinThreadPayload { thread })
    }

    /// Unpins a thread (moderators and admins).
    async fn unpin_thread(
        &self,
        ctx: &Context<'_>,
        input: UnpinThreadInput,
    ) -> Result<UnpinThreadPayload> {
        let thread = moderate(ctx, &input.thread_id, Change::Pinned(false)).await?;
        Ok(UnpinThreadPayload { thread })
    }
}
