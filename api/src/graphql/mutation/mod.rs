//! The mutation root. Every mutation takes one `input` and returns a payload; each is one
//! service command, which is one transaction and decides who may do it.

mod category;
mod moderation;
mod reply;
mod thread;
mod vote;

use async_graphql::{Context, MergedObject, Result};
use service::{Db, Viewer};

use super::context::{loader, viewer};

#[derive(MergedObject, Default)]
pub struct Mutation(
    category::CategoryMutation,
    thread::ThreadMutation,
    reply::ReplyMutation,
    vote::VoteMutation,
    moderation::ModerationMutation,
);

/// The database and the viewer a mutation acts with.
fn acting<'a>(ctx: &Context<'a>) -> Result<(&'a Db, &'a Viewer)> {
    Ok((&loader(ctx)?.loader().db, viewer(ctx)?))
}
