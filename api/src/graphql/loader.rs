//! The per-request batch loader. Each key type is one (entity, key) pair and calls one
//! batch function of `service`, so a page costs the same number of statements whatever
//! its length. Values are cached for the request only.

use std::{collections::HashMap, hash::Hash, sync::Arc};

use async_graphql::dataloader::Loader;
use entity::thread::Status;
use service::{
    Db, Error, Viewer,
    category::{self, Category},
    page::{Authored, Page, Window},
    reply::{self, Reply, ThreadReplies},
    thread::{self, CategoryThreads, Thread},
    user::{self, User},
    vote,
};
use uuid::Uuid;

pub struct ForumLoader {
    pub db: Db,
    pub viewer: Viewer,
    /// The viewer's row, as the edge read it.
    pub me: Option<Arc<service::user::User>>,
}

type Loaded<K, V> = Result<HashMap<K, V>, Arc<Error>>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CategoryKey(pub Uuid);
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThreadKey(pub Uuid);
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplyKey(pub Uuid);
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserKey(pub String);
/// A page of a category's threads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CategoryThreadsKey(pub Uuid, pub CategoryThreads);
/// A page of a thread's replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThreadRepliesKey(pub Uuid, pub ThreadReplies);
/// A thread with a page of its replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThreadWithRepliesKey(pub Uuid, pub ThreadReplies);
/// A page of a user's threads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthorThreadsKey(pub String, pub Window);
/// A page of a user's replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthorRepliesKey(pub String, pub Window);
/// How many threads of a category have a status.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CategoryStatusCountKey(pub Uuid, pub Status);
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthorThreadCountKey(pub String);
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthorReplyCountKey(pub String);
/// Whether someone other than its author posted in a thread.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OthersRepliedKey(pub Uuid);
/// The signed-in viewer's vote on a reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ViewerVoteKey(pub Uuid);

/// Groups page keys by their (shared) query, so each distinct query is one statement.
fn by_query<P: Clone, Q: Clone + Eq + Hash>(
    keys: impl Iterator<Item = (P, Q)>,
) -> HashMap<Q, Vec<P>> {
    let mut groups: HashMap<Q, Vec<P>> = HashMap::new();
    for (parent, query) in keys {
        groups.entry(query).or_default().push(parent);
    }
    groups
}

impl Loader<CategoryKey> for ForumLoader {
    type Value = Category;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[CategoryKey]) -> Loaded<CategoryKey, Category> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = category::by_ids(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|c| (CategoryKey(c.id), c)).collect())
    }
}

impl Loader<ThreadKey> for ForumLoader {
    type Value = Thread;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ThreadKey]) -> Loaded<ThreadKey, Thread> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = thread::by_ids(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|t| (ThreadKey(t.id), t)).collect())
    }
}

impl Loader<ReplyKey> for ForumLoader {
    type Value = Reply;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ReplyKey]) -> Loaded<ReplyKey, Reply> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = reply::by_ids(&self.db, &ids).await?;
        Ok(rows.into_iter().map(|r| (ReplyKey(r.id), r)).collect())
    }
}

impl Loader<UserKey> for ForumLoader {
    type Value = User;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[UserKey]) -> Loaded<UserKey, User> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = user::by_ids(&self.db, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|u| (UserKey(u.id.clone()), u))
            .collect())
    }
}

impl Loader<CategoryThreadsKey> for ForumLoader {
    type Value = Arc<Page<Authored<Thread>>>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[CategoryThreadsKey]) -> Loaded<CategoryThreadsKey, Self::Value> {
        let mut out = HashMap::new();
        for (query, parents) in by_query(keys.iter().map(|k| (k.0, k.1.clone()))) {
            let pages = thread::pages_in_categories(&self.db, &parents, &query).await?;
            out.extend(
                pages
                    .into_iter()
                    .map(|(id, page)| (CategoryThreadsKey(id, query.clone()), Arc::new(page))),
            );
        }
        Ok(out)
    }
}

impl Loader<ThreadRepliesKey> for ForumLoader {
    type Value = Arc<Page<Authored<Reply>>>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ThreadRepliesKey]) -> Loaded<ThreadRepliesKey, Self::Value> {
        let mut out = HashMap::new();
        for (query, parents) in by_query(keys.iter().map(|k| (k.0, k.1.clone()))) {
            let pages = reply::pages_in_threads(&self.db, &parents, &query).await?;
            out.extend(
                pages
                    .into_iter()
                    .map(|(id, page)| (ThreadRepliesKey(id, query.clone()), Arc::new(page))),
            );
        }
        Ok(out)
    }
}

impl Loader<ThreadWithRepliesKey> for ForumLoader {
    type Value = Arc<(Thread, Page<Authored<Reply>>)>;
    type Error = Arc<Error>;

    /// One thread (a thread page) is one statement; several with the same page are two,
    /// whatever their number.
    async fn load(
        &self,
        keys: &[ThreadWithRepliesKey],
    ) -> Loaded<ThreadWithRepliesKey, Self::Value> {
        let mut out = HashMap::new();
        for (query, ids) in by_query(keys.iter().map(|k| (k.0, k.1.clone()))) {
            let found = if let [id] = ids[..] {
                Vec::from_iter(reply::thread_with_page(&self.db, id, &query).await?)
            } else {
                let mut pages = reply::pages_in_threads(&self.db, &ids, &query).await?;
                let threads = thread::by_ids(&self.db, &ids).await?;
                let with_page = |t: Thread| {
                    let page = pages.remove(&t.id).unwrap_or_else(Page::empty);
                    (t, page)
                };
                threads.into_iter().map(with_page).collect()
            };
            out.extend(found.into_iter().map(|(thread, page)| {
                (
                    ThreadWithRepliesKey(thread.id, query.clone()),
                    Arc::new((thread, page)),
                )
            }));
        }
        Ok(out)
    }
}

impl Loader<AuthorThreadsKey> for ForumLoader {
    type Value = Arc<Page<Thread>>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[AuthorThreadsKey]) -> Loaded<AuthorThreadsKey, Self::Value> {
        let mut out = HashMap::new();
        for (window, parents) in by_query(keys.iter().map(|k| (k.0.clone(), k.1.clone()))) {
            let pages = thread::pages_by_authors(&self.db, &parents, &window).await?;
            out.extend(
                pages
                    .into_iter()
                    .map(|(id, page)| (AuthorThreadsKey(id, window.clone()), Arc::new(page))),
            );
        }
        Ok(out)
    }
}

impl Loader<AuthorRepliesKey> for ForumLoader {
    type Value = Arc<Page<Reply>>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[AuthorRepliesKey]) -> Loaded<AuthorRepliesKey, Self::Value> {
        let mut out = HashMap::new();
        for (window, parents) in by_query(keys.iter().map(|k| (k.0.clone(), k.1.clone()))) {
            let pages = reply::pages_by_authors(&self.db, &parents, &window).await?;
            out.extend(
                pages
                    .into_iter()
                    .map(|(id, page)| (AuthorRepliesKey(id, window.clone()), Arc::new(page))),
            );
        }
        Ok(out)
    }
}

impl Loader<CategoryStatusCountKey> for ForumLoader {
    type Value = i64;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[CategoryStatusCountKey]) -> Loaded<CategoryStatusCountKey, i64> {
        let mut out = HashMap::new();
        for (status, ids) in by_query(keys.iter().map(|k| (k.0, k.1))) {
            let counts = thread::count_in_categories(&self.db, &ids, status).await?;
            out.extend(ids.into_iter().map(|id| {
                let n = counts.get(&id).copied().unwrap_or(0);
                (CategoryStatusCountKey(id, status), n)
            }));
        }
        Ok(out)
    }
}

impl Loader<AuthorThreadCountKey> for ForumLoader {
    type Value = i64;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[AuthorThreadCountKey]) -> Loaded<AuthorThreadCountKey, i64> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let counts = thread::count_by_authors(&self.db, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let n = counts.get(&id).copied().unwrap_or(0);
                (AuthorThreadCountKey(id), n)
            })
            .collect())
    }
}

impl Loader<AuthorReplyCountKey> for ForumLoader {
    type Value = i64;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[AuthorReplyCountKey]) -> Loaded<AuthorReplyCountKey, i64> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let counts = reply::count_by_authors(&self.db, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let n = counts.get(&id).copied().unwrap_or(0);
                (AuthorReplyCountKey(id), n)
            })
            .collect())
    }
}

impl Loader<ViewerVoteKey> for ForumLoader {
    type Value = i16;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ViewerVoteKey]) -> Loaded<ViewerVoteKey, i16> {
        let Some(voter) = self.viewer.user_id() else {
            return Ok(HashMap::new());
        };
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let votes = vote::values_by_voter(&self.db, voter, &ids).await?;
        Ok(votes
            .into_iter()
            .map(|(id, v)| (ViewerVoteKey(id), v))
            .collect())
    }
}

impl Loader<OthersRepliedKey> for ForumLoader {
    type Value = bool;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[OthersRepliedKey]) -> Loaded<OthersRepliedKey, bool> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let replied = thread::others_replied(&self.db, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| (OthersRepliedKey(id), replied.contains(&id)))
            .collect())
    }
}
