//! Locking and pinning (moderators and admins).

use entity::thread::{self, Status};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, IntoActiveModel, Set, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::Thread;
use crate::{Result, Viewer, db, lock, permissions};

/// Locks (no new replies) or unlocks a thread. Replies that commit before the lock are
/// in; none gets in after it, since adding a reply reads the thread under the same lock.
#[tracing::instrument(skip_all, fields(thread = %id, ?status))]
pub async fn set_status<C>(db: &C, viewer: &Viewer, id: Uuid, status: Status) -> Result<Thread>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::moderate(viewer)?;
    change(db, id, |active| active.status = Set(status)).await
}

/// Pins a thread to the top of its category, or unpins it.
#[tracing::instrument(skip_all, fields(thread = %id, pinned))]
pub async fn set_pinned<C>(db: &C, viewer: &Viewer, id: Uuid, pinned: bool) -> Result<Thread>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::moderate(viewer)?;
    change(db, id, |active| active.is_pinned = Set(pinned)).await
}

async fn change<C>(db: &C, id: Uuid, apply: impl FnOnce(&mut thread::ActiveModel)) -> Result<Thread>
where
    C: TransactionTrait + ConnectionTrait,
{
    let txn = db::begin_write(db).await?;
    let mut active = lock::row::<thread::Entity>(&txn, id, "thread")
        .await?
        .into_active_model();
    apply(&mut active);
    let thread = active.update(&txn).await?;
    txn.commit().await?;
    Ok(thread)
}
