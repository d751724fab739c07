//! The mutation root. Every mutation takes one `input` and returns a payload; each is one
//! service command, which is one transaction and decides who may do it.

mod category;
mod moderation;
mod reply;
mod thread;
mod vote;

use async_graphql::{Context, Error, ErrorExtensions, MergedObject, Result};
use service::{Db, Viewer};

use super::{
    context::{loader, viewer},
    error::NOT_RUN,
};

#[derive(MergedObject, Default)]
pub struct Mutation(
    category::CategoryMutation,
    thread::ThreadMutation,
    reply::ReplyMutation,
    vote::VoteMutation,
    moderation::ModerationMutation,
);

/// The database and the viewer a mutation acts with; refused when a mutation before it in
/// this operation failed. Root mutations run one after another and are all non-null, so
/// one that fails makes `data` null: the spec's execution stops there (graphql-js does),
/// where async-graphql would go on and commit the rest behind an answer that shows none.
fn acting<'a>(ctx: &Context<'a>) -> Result<(&'a Db, &'a Viewer)> {
    let failed_before = ctx
        .query_env
        .errors
        .lock()
        .is_ok_and(|errors| errors.iter().any(|e| e.path.len() == 1));
    if failed_before {
        return Err(
            Error::new("not run: a mutation before it in this operation failed")
                .extend_with(|_, ext| ext.set("code", NOT_RUN)),
        );
    }
    Ok((&loader(ctx)?.loader().db, viewer(ctx)?))
}
