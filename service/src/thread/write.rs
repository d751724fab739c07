//! Starting, retitling and deleting threads.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use entity::{category, reply, thread};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, Set, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::Thread;
use crate::{Error, Result, Viewer, clock, db, lock, permissions, sql::Sql, validate};

/// A thread to start: its title and its opening post.
#[derive(Clone, Debug)]
pub struct NewThread {
    pub category_id: Uuid,
    pub title: String,
    pub body: String,
}

/// When the newest thread of `category` was started: the later of the newest pinned and
/// the newest unpinned, each the end of one range of the listing index.
async fn newest_in(txn: &impl ConnectionTrait, category: Uuid) -> Result<Option<DateTime<Utc>>> {
    let mut sql = Sql::new(txn.get_database_backend());
    for pinned in [true, false] {
        if !pinned {
            sql.push(" UNION ALL ");
        }
        sql.push("SELECT * FROM (SELECT created_at FROM threads WHERE category_id = ")
            .bind(category)
            .push(" AND is_pinned = ")
            .bind(pinned)
            .push(" ORDER BY created_at DESC LIMIT 1) AS newest");
    }
    let rows = txn.query_all_raw(sql.statement()).await?;
    let mut newest = None;
    for row in rows {
        newest = Ord::max(
            newest,
            Some(row.try_get::<DateTime<Utc>>("", "created_at")?),
        );
    }
    Ok(newest)
}

/// Starts a thread with its opening post, in one transaction.
#[tracing::instrument(skip_all, fields(category = %input.category_id))]
pub async fn create<C>(db: &C, viewer: &Viewer, input: NewThread) -> Result<Thread>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::create_thread(viewer)?;
    let author = viewer.user_id().unwrap_or_default().to_owned();
    let title = validate::line("title", &input.title, validate::TITLE_LEN)?;
    let body = validate::text("body", &input.body, validate::BODY_LEN)?;
    let txn = db::begin_write(db).await?;
    // Counting the thread in its category also proves the category exists.
    let counted = category::Entity::update_many()
        .col_expr(
            category::Column::ThreadCount,
            Expr::col(category::Column::ThreadCount).add(1),
        )
        .filter(category::Column::Id.eq(input.category_id))
        .exec(&txn)
        .await?;
    if counted.rows_affected == 0 {
        return Err(Error::NotFound("category"));
    }
    // Under the category's lock, as replies are under their thread's: a new thread comes
    // after the category's newest even when this clock is behind the one that wrote it,
    // or a reader paging on through the oldest-first list would never see it.
    let now = match newest_in(&txn, input.category_id).await? {
        Some(newest) => clock::not_before(newest + TimeDelta::microseconds(1)),
        None => clock::now(),
    };
    let thread = Thread {
        id: Uuid::now_v7(),
        category_id: input.category_id,
        author_id: author.clone(),
        title,
        status: thread::Status::Open,
        is_pinned: false,
        created_at: now,
        edited_at: None,
        last_activity_at: now,
        reply_count: 1,
    }
    .into_active_model()
    .insert(&txn)
    .await?;
    reply::ActiveModel {
        id: Set(Uuid::now_v7()),
        thread_id: Set(thread.id),
        author_id: Set(author),
        body: Set(body),
        created_at: Set(now),
        edited_at: Set(None),
        deleted_at: Set(None),
        score: Set(0),
        upvotes: Set(0),
        downvotes: Set(0),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(thread)
}

/// Changes a thread's title (its author or a moderator).
#[tracing::instrument(skip_all, fields(thread = %id))]
pub async fn edit<C>(db: &C, viewer: &Viewer, id: Uuid, title: &str) -> Result<Thread>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::signed_in(viewer, "edit a thread")?;
    let title = validate::line("title", title, validate::TITLE_LEN)?;
    let txn = db::begin_write(db).await?;
    let thread = lock::row::<thread::Entity>(&txn, id, "thread").await?;
    permissions::edit_thread(viewer, &thread)?;
    // Saving the title unchanged is no edit: the thread is not marked edited.
    if thread.title == title {
        txn.commit().await?;
        return Ok(thread);
    }
    let edited = clock::not_before(thread.edited_at.unwrap_or(thread.created_at));
    let mut active = thread.into_active_model();
    active.title = Set(title);
    active.edited_at = Set(Some(edited));
    let thread = active.update(&txn).await?;
    txn.commit().await?;
    Ok(thread)
}

/// Deletes a thread with its replies and their votes: a moderator may, and so may the
/// author while nobody else has replied. Returns the deleted thread's id.
#[tracing::instrument(skip_all, fields(thread = %id))]
pub async fn delete<C>(db: &C, viewer: &Viewer, id: Uuid) -> Result<Uuid>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::signed_in(viewer, "delete a thread")?;
    let txn = db::begin_write(db).await?;
    let thread = lock::row::<thread::Entity>(&txn, id, "thread").await?;
    let others = if viewer.is_moderator() {
        false
    } else {
        !others_replied(&txn, &[id]).await?.is_empty()
    };
    permissions::delete_thread(viewer, &thread, others)?;
    thread::Entity::delete_by_id(id).exec(&txn).await?;
    category::Entity::update_many()
        .col_expr(
            category::Column::ThreadCount,
            Expr::col(category::Column::ThreadCount).sub(1),
        )
        .filter(category::Column::Id.eq(thread.category_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(id)
}

/// Of `thread_ids`, those in which someone other than the thread's author has posted.
pub async fn others_replied(
    db: &impl ConnectionTrait,
    thread_ids: &[Uuid],
) -> Result<HashSet<Uuid>> {
    if thread_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    sql.push("SELECT t.id AS id FROM threads t WHERE ");
    if backend == DbBackend::Postgres {
        sql.push("t.id = ANY(").bind(thread_ids.to_vec()).push(")");
    } else {
        sql.push("t.id IN (");
        for (i, id) in thread_ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*id);
        }
        sql.push(")");
    }
    sql.push(
        " AND EXISTS (SELECT 1 FROM thread_replies r \
         WHERE r.thread_id = t.id AND r.author_id <> t.author_id)",
    );
    let rows = db.query_all_raw(sql.statement()).await?;
    rows.iter()
        .map(|row| row.try_get::<Uuid>("", "id").map_err(Error::from))
        .collect()
}
