use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use service::vote;

use super::acting;
use crate::graphql::{enums::VoteValue, error::ServiceResultExt, id::NodeId, reply::Reply};

#[derive(InputObject)]
pub struct CastVoteInput {
    reply_id: ID,
    value: VoteValue,
}

#[derive(SimpleObject)]
pub struct CastVotePayload {
    /// The reply, with its tallies after the vote.
    reply: Reply,
}

#[derive(InputObject)]
pub struct RetractVoteInput {
    reply_id: ID,
}

#[derive(SimpleObject)]
pub struct RetractVotePayload {
    /// The reply, with its tallies after the retraction.
    reply: Reply,
}

#[derive(Default)]
pub struct VoteMutation;

#[Object]
impl VoteMutation {
    /// Votes a reply up or down (signed-in users, not on their own replies). A second vote
    /// replaces the first.
    async fn cast_vote(&self, ctx: &Context<'_>, input: CastVoteInput) -> Result<CastVotePayload> {
        let (db, viewer) = acting(ctx, "vote")?;
        let id = NodeId::reply(&input.reply_id, "replyId").gql()?;
        let value = match input.value {
            VoteValue::Up => 1,
            VoteValue::Down => -1,
        };
        let reply = vote::cast(db, viewer, id, value).await.gql()?;
        Ok(CastVotePayload {
            reply: Reply::voted(reply, Some(value)),
        })
    }

    /// Takes the viewer's vote on a reply back (nothing happens if there is none).
    async fn retract_vote(
        &self,
        ctx: &Context<'_>,
        input: RetractVoteInput,
    ) -> Result<RetractVotePayload> {
        let (db, viewer) = acting(ctx, "vote")?;
        let id = NodeId::reply(&input.reply_id, "replyId").gql()?;
        let reply = vote::retract(db, viewer, id).await.gql()?;
        Ok(RetractVotePayload {
            reply: Reply::voted(reply, None),
        })
    }
}
