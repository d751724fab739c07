//! Adding, editing and (softly) deleting replies.

use chrono::TimeDelta;
use entity::{reply, thread};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::Reply;
use crate::{Result, Viewer, clock, db, lock, permissions, validate};

/// Adds a reply to an open thread, counting it and moving the thread's last activity.
#[tracing::instrument(skip_all, fields(thread = %thread_id))]
pub async fn add<C>(db: &C, viewer: &Viewer, thread_id: Uuid, body: &str) -> Result<Reply>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::signed_in(viewer, "reply")?;
    let body = validate::text("body", body, validate::BODY_LEN)?;
    let txn = db::begin_write(db).await?;
    // Under the thread's lock: a lock that committed first is seen, and replies to one
    // thread get their times in the order they commit. The thread's last activity is its
    // latest reply's time, and a new reply comes after it even when this clock is behind
    // the one that wrote that reply (another instance's, or this one's before it was set
    // back): a reader paging on with `after` would otherwise never see it.
    let thread = lock::row::<thread::Entity>(&txn, thread_id, "thread").await?;
    permissions::reply(viewer, &thread)?;
    let now = clock::not_before(thread.last_activity_at + TimeDelta::microseconds(1));
    thread::Entity::update_many()
        .col_expr(
            thread::Column::ReplyCount,
            Expr::col(thread::Column::ReplyCount).add(1),
        )
        .col_expr(thread::Column::LastActivityAt, Expr::value(now))
        .filter(thread::Column::Id.eq(thread_id))
        .exec(&txn)
        .await?;
    let reply = Reply {
        id: Uuid::now_v7(),
        thread_id,
        author_id: viewer.user_id().unwrap_or_default().to_owned(),
        body,
        created_at: now,
        edited_at: None,
        deleted_at: None,
        score: 0,
        upvotes: 0,
        downvotes: 0,
    }
    .into_active_model()
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(reply)
}

/// Changes a reply's body (its author or a moderator).
#[tracing::instrument(skip_all, fields(reply = %id))]
pub async fn edit<C>(db: &C, viewer: &Viewer, id: Uuid, body: &str) -> Result<Reply>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::signed_in(viewer, "edit a reply")?;
    let body = validate::text("body", body, validate::BODY_LEN)?;
    let txn = db::begin_write(db).await?;
    let reply = lock::row::<reply::Entity>(&txn, id, "reply").await?;
    permissions::edit_reply(viewer, &reply)?;
    // Saving the text unchanged is no edit: the reply is not marked edited.
    if reply.body == body {
        txn.commit().await?;
        return Ok(reply);
    }
    let edited = clock::not_before(reply.edited_at.unwrap_or(reply.created_at));
    let mut active = reply.into_active_model();
    active.body = Set(body);
    active.edited_at = Set(Some(edited));
    let reply = active.update(&txn).await?;
    txn.commit().await?;
    Ok(reply)
}

/// Deletes a reply softly: it keeps its place in the thread and its votes, and its body
/// is no longer shown (nor lost to an accidental click).
#[tracing::instrument(skip_all, fields(reply = %id))]
pub async fn delete<C>(db: &C, viewer: &Viewer, id: Uuid) -> Result<Reply>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::signed_in(viewer, "delete a reply")?;
    let txn = db::begin_write(db).await?;
    let reply = lock::row::<reply::Entity>(&txn, id, "reply").await?;
    permissions::delete_reply(viewer, &reply)?;
    if reply.is_deleted() {
        txn.commit().await?;
        return Ok(reply);
    }
    let deleted = clock::not_before(reply.edited_at.unwrap_or(reply.created_at));
    let mut active = reply.into_active_model();
    active.deleted_at = Set(Some(deleted));
    let reply = active.update(&txn).await?;
    txn.commit().await?;
    Ok(reply)
}
