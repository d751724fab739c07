//! Votes: what a voter has cast, casting and retracting.

use std::collections::HashMap;

use entity::{reply, vote};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
    TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::{Error, Result, Viewer, any::any_of, clock, db, lock, permissions, reply::Reply};

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
    change(db, viewer, reply_id, None).await
}

async fn change<C>(db: &C, viewer: &Viewer, reply_id: Uuid, new: Option<i16>) -> Result<Reply>
where
    C: TransactionTrait + ConnectionTrait,
{
    let txn = db::begin_write(db).await?;
    let reply = lock::row::<reply::Entity>(&txn, reply_id, "reply").await?;
    permissions::vote(viewer, &reply)?;
    let voter = viewer.user_id().unwrap_or_default().to_owned();
    let key = (reply_id, voter.clone());
    let old = vote::Entity::find_by_id(key.clone())
        .one(&txn)
        .await?
        .map(|v| v.value);
    if old == new {
        txn.commit().await?;
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
            .insert(&txn)
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
            .update(&txn)
            .await?;
        }
        (Some(_), None) => {
            vote::Entity::delete_by_id(key).exec(&txn).await?;
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
        .exec_with_returning(&txn)
        .await?;
    txn.commit().await?;
    updated.pop().ok_or(Error::NotFound("reply"))
}
