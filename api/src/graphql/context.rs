//! What every resolver reads from the request: the viewer and the batch loader.

use async_graphql::{Context, Result, dataloader::DataLoader};
use service::Viewer;

use super::loader::ForumLoader;

pub type Loader = DataLoader<ForumLoader>;

pub fn loader<'a>(ctx: &Context<'a>) -> Result<&'a Loader> {
    ctx.data::<Loader>()
}

pub fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer> {
    Ok(&loader(ctx)?.loader().viewer)
}
