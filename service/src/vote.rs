//! Votes: what a voter has cast, casting and retracting.

use std::collections::HashMap;

use entity::{reply, vote};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::{
    Error, Result, Viewer, any::any_of, clock, db, lock, permissions, reply::Reply, rows::FromRows,
    sql::Sql,
};

/// The vote (`1` or `-1`) that `voter_id` cast on each of `reply_ids`, where one exists.
pub async fn values_by_voter(
    db: &impl ConnectionTrait,
    voter_id: &str,
    reply_ids: &[Uuid],
) -> Result<HashMap<Uuid, i16>> {
    let rows: Vec<(Uuid, i16)> = vote::Entity::find()
        .select_only()
        .column(vote::Column::ReplyId)
        .column(vote::Column::Value)
        .filter(vote::Column::VoterId.eq(voter_id))
        .filter(any_of(
            db.get_database_backend(),
            vote::Column::ReplyId,
            reply_ids.to_vec(),
        ))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Casts `viewer`'s vote (`1` or `-1`) on a reply, replacing an earlier one, and keeps
/// the reply's tallies equal to its votes. Votes on one reply queue on its row lock.
#[tracing::instrument(skip_all, fields(reply = %reply_id, value))]
pub async fn cast<C>(db: &C, viewer: &Viewer, reply_id: Uuid, value: i16) -> Result<Reply>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::signed_in(viewer, "vote")?;
    if value != 1 && value != -1 {
        return Err(Error::invalid("value", "a vote is up (1) or down (-1)"));
    }
    change(db, viewer, reply_id, Some(value)).await
}

/// Takes `viewer`'s vote on a reply back, if there is one.
#[tracing::instrument(skip_all, fields(reply = %reply_id))]
pub async fn retract<C>(db: &C, viewer: &Viewer, reply_id: Uuid) -> Result<Reply>
where
    C: TransactionTrait + ConnectionTrait,
{
    permissions::signed_in(viewer, "vote")?;
    change(db, viewer, reply_id, None).await
}

async fn change<C>(db: &C, viewer: &Viewer, reply_id: Uuid, new: Option<i16>) -> Result<Reply>
where
    C: TransactionTrait + ConnectionTrait,
{
    let txn = db::begin_write(db).await?;
    let reply = lock::row::<reply::Entity>(&txn, reply_id, "reply").await?;
    match new {
        Some(_) => permissions::vote(viewer, &reply)?,
        None => permissions::retract(viewer, &reply)?,
    }
    let voter = viewer.user_id().unwrap_or_default().to_owned();
    let reply = if txn.get_database_backend() == DbBackend::Postgres {
        replace_in_one(&txn, reply, voter, new).await?
    } else {
        replace_in_steps(&txn, reply, voter, new).await?
    };
    txn.commit().await?;
    Ok(reply)
}

/// Replaces the vote in one statement (Postgres): it reads the old vote, writes the new
/// one and moves the tallies by the difference, or leaves all as they are when the vote
/// is the same. It runs after the reply's lock is taken, so its snapshot holds every
/// earlier change to the reply's votes (each takes that lock first). Read in the locking
/// statement itself, the old vote would come from that statement's snapshot, taken before
/// it waited for the lock: stale when two changes of one voter's vote race.
async fn replace_in_one(
    txn: &impl ConnectionTrait,
    reply: Reply,
    voter: String,
    new: Option<i16>,
) -> Result<Reply> {
    let mut sql = Sql::new(DbBackend::Postgres);
    let key = |sql: &mut Sql| {
        sql.push(" WHERE reply_id = ")
            .bind(reply.id)
            .push(" AND voter_id = ")
            .bind(voter.clone());
    };
    sql.push("WITH old AS (");
    match new {
        Some(value) => {
            let now = clock::now();
            sql.push("SELECT value FROM reply_votes");
            key(&mut sql);
            sql.push("), vote AS (INSERT INTO reply_votes AS v (reply_id, voter_id, value, created_at, updated_at) VALUES (")
                .bind(reply.id)
                .push(", ")
                .bind(voter.clone())
                .push(", ")
                .bind(value)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(") ON CONFLICT (reply_id, voter_id) DO UPDATE SET value = excluded.value, \
                       updated_at = excluded.updated_at WHERE v.value <> excluded.value");
        }
        None => {
            sql.push("DELETE FROM reply_votes");
            key(&mut sql);
            sql.push(" RETURNING value");
        }
    }
    let side = |v: i16| i32::from(new == Some(v));
    sql.push(") UPDATE thread_replies SET upvotes = upvotes + ")
        .bind(side(1))
        .push(" - (SELECT count(*) FROM old WHERE value = 1), downvotes = downvotes + ")
        .bind(side(-1))
        .push(" - (SELECT count(*) FROM old WHERE value = -1), score = score + ")
        .bind(side(1) - side(-1))
        .push(" - (SELECT coalesce(sum(value), 0) FROM old) WHERE id = ")
        .bind(reply.id);
    match new {
        Some(value) => sql
            .push(" AND NOT EXISTS (SELECT 1 FROM old WHERE value = ")
            .bind(value)
            .push(")"),
        None => sql.push(" AND EXISTS (SELECT 1 FROM old)"),
    };
    sql.push(" RETURNING *");
    let mut updated = Reply::from_rows(&txn.query_all_raw(sql.statement()).await?)?;
    // No row: nothing changed (the same vote again, or no vote to take back).
    Ok(updated.pop().unwrap_or(reply))
}

/// Replaces the vote statement by statement (SQLite, whose `BEGIN IMMEDIATE` already
/// holds the database's one write lock).
async fn replace_in_steps(
    txn: &impl ConnectionTrait,
    reply: Reply,
    voter: String,
    new: Option<i16>,
) -> Result<Reply> {
    let reply_id = reply.id;
    let key = (reply_id, voter.clone());
    let old = vote::Entity::find_by_id(key.clone())
        .one(txn)
        .await?
        .map(|v| v.value);
    if old == new {
        return Ok(reply);
    }
    let now = clock::now();
    match (old, new) {
        (None, Some(value)) => {
            vote::Model {
                reply_id,
                voter_id: voter,
                value,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .insert(txn)
            .await?;
        }
        (Some(_), Some(value)) => {
            vote::ActiveModel {
                reply_id: Unchanged(reply_id),
                voter_id: Unchanged(voter),
                value: Set(value),
                updated_at: Set(now),
                ..Default::default()
            }
            .update(txn)
            .await?;
        }
        (Some(_), None) => {
            vote::Entity::delete_by_id(key).exec(txn).await?;
        }
        (None, None) => {}
    }
    let count = |v: Option<i16>, side: i16| i32::from(v == Some(side));
    let up = count(new, 1) - count(old, 1);
    let down = count(new, -1) - count(old, -1);
    let mut updated = reply::Entity::update_many()
        .col_expr(
            reply::Column::Upvotes,
            Expr::col(reply::Column::Upvotes).add(up),
        )
        .col_expr(
            reply::Column::Downvotes,
            Expr::col(reply::Column::Downvotes).add(down),
        )
        .col_expr(
            reply::Column::Score,
            Expr::col(reply::Column::Score).add(up - down),
        )
        .filter(reply::Column::Id.eq(reply_id))
        .exec_with_returning(txn)
        .await?;
    updated.pop().ok_or(Error::NotFound("reply"))
}
