//! Votes: what a voter has cast on a set of replies.

use std::collections::HashMap;

use entity::vote;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::Result;

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
        .filter(vote::Column::ReplyId.is_in(reply_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
