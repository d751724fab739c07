//! The mutation root. Every mutation takes one `input` and returns a payload; each is one
//! service command, which is one transaction and decides who may do it.

mod category;
mod moderation;
mod reply;
mod thread;
mod vote;

use std::sync::Arc;

use async_graphql::{Context, Error, ErrorExtensions, MergedObject, PathSegment, Result};
use service::{Db, Viewer, permissions};

use super::{
    context::{loader, viewer},
    error::{NOT_RUN, ServiceResultExt, TIMEOUT},
    nulls::{self, FieldTypes},
};

#[derive(MergedObject, Default)]
pub struct Mutation(
    category::CategoryMutation,
    thread::ThreadMutation,
    reply::ReplyMutation,
    vote::VoteMutation,
    moderation::ModerationMutation,
);

/// The database and the viewer a mutation acts with; refused when an error before it in
/// this operation made `data` null. Root mutations run one after another and are all
/// non-null, so one that fails, or whose payload fails where nothing nullable lies
/// between, nulls `data`: the spec's execution stops there (graphql-js does), where
/// async-graphql would go on and commit the rest behind an answer that shows none.
///
/// A signed-out client is refused here, before an id in its input is read: it hears
/// that it must sign in to `action` before anything else.
fn acting<'a>(ctx: &Context<'a>, action: &str) -> Result<(&'a Db, &'a Viewer)> {
    let env = &ctx.query_env;
    // A root mutation is non-null: its own failure always nulls `data`, whether or not
    // the path can be followed through the schema's types.
    let nulls_data = |path: &[PathSegment]| {
        path.len() == 1
            || ctx.data_opt::<Arc<FieldTypes>>().is_some_and(|types| {
                nulls::nulls_data(types, &env.operation.node, &env.fragments, path)
            })
    };
    let failed_before = env
        .errors
        .lock()
        .is_ok_and(|errors| errors.iter().any(|e| nulls_data(&e.path)));
    if failed_before {
        return Err(
            Error::new("not run: a mutation before it in this operation failed")
                .extend_with(|_, ext| ext.set("code", NOT_RUN)),
        );
    }
    if service::deadline::passed() {
        return Err(
            Error::new("not run: the request ran past REQUEST_TIMEOUT before it began")
                .extend_with(|_, ext| ext.set("code", TIMEOUT)),
        );
    }
    let viewer = viewer(ctx)?;
    permissions::signed_in(viewer, action).gql()?;
    Ok((&loader(ctx)?.loader().db, viewer))
}
