//! `User`, the `viewer` and `user` root fields, and author lookups.

use std::sync::Arc;

use async_graphql::{
    Context, ContextSelectionSet, ID, Object, Positioned, Result, Value, parser::types::Field,
};
use chrono::{DateTime, Utc};
use service::{Viewer, user};

use super::{
    connection::{ForumConnection, TotalSource, asks_whether_more, connection, or_empty, request},
    context::{loader, viewer},
    enums::Role,
    error::ServiceResultExt,
    fast::{self, Direct, direct_object},
    id::NodeId,
    loader::{AuthorRepliesKey, AuthorThreadsKey, UserKey},
    reply::Reply,
    thread::Thread,
};

/// A member of the forum, mirrored from Clerk.
pub struct User(UserFields);

/// A user's row, and its fields as async-graphql resolves them.
pub struct UserFields(Arc<user::User>);

direct_object!(User, UserFields);

impl User {
    pub fn new(user: Arc<user::User>) -> Self {
        Self(UserFields(user))
    }

    /// The `Node` interface's `id`.
    pub async fn id(&self, _: &Context<'_>) -> Result<ID> {
        Ok(NodeId::User(self.0.0.id.clone()).encode())
    }
}

impl Direct for User {
    fn value_of(
        &self,
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        _: &Positioned<Field>,
    ) -> Option<Value> {
        let u = &self.0.0;
        Some(match name {
            "id" => Value::String(NodeId::User(u.id.clone()).encode().0),
            "clerkId" => fast::string(&u.id),
            "displayName" => Value::String(display_name(u)),
            "firstName" => fast::optional(u.first_name.as_ref()),
            "lastName" => fast::optional(u.last_name.as_ref()),
            "imageUrl" => fast::optional(u.image_url.as_ref()),
            "role" => fast::enumeration(Role::from(u.effective_role())),
            "createdAt" => fast::scalar(&u.created_at),
            "email" => fast::optional(email(u, fast::viewer(ctx)?)),
            _ => return None,
        })
    }
}

fn display_name(u: &user::User) -> String {
    user::display_name(u).unwrap_or_else(|| "Anonymous".to_owned())
}

/// Shown only to the user and to admins.
fn email<'a>(u: &'a user::User, viewer: &Viewer) -> Option<&'a String> {
    let allowed = viewer.is(&u.id) || viewer.is_admin();
    u.email.as_ref().filter(|_| allowed)
}

/// The user with this id, unless the account is deleted (then content shows no author).
pub async fn author(ctx: &Context<'_>, id: &str) -> Result<Option<User>> {
    let user = loader(ctx)?.load_one(UserKey(id.to_owned())).await.gql()?;
    Ok(user
        .filter(|u| !u.is_deleted())
        .map(|u| User::new(Arc::new(u))))
}

/// The author of a thread or reply: read with it (a join in the page's statement), or
/// left to the loader.
pub enum Author {
    Load(String),
    Read(Arc<user::User>),
}

impl Author {
    pub fn of(author_id: &str, read: Option<user::User>) -> Self {
        match read {
            Some(user) => Self::Read(Arc::new(user)),
            None => Self::Load(author_id.to_owned()),
        }
    }

    /// The author, unless the account is deleted.
    pub async fn resolve(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self {
            Self::Read(user) => Ok((!user.is_deleted()).then(|| User::new(user.clone()))),
            Self::Load(id) => author(ctx, id).await,
        }
    }

    /// The `author { … }` field's value without async-graphql, when the author was read
    /// with the row (see `fast`).
    pub fn fast(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> Option<Value> {
        match self {
            Self::Read(user) if user.is_deleted() => Some(Value::Null),
            Self::Read(user) => fast::nested(ctx, field, |ctx| {
                fast::fields(ctx, &User::new(user.clone()))
            }),
            Self::Load(_) => None,
        }
    }
}

#[Object(name = "User")]
impl UserFields {
    /// The global id of this user.
    async fn id(&self) -> ID {
        NodeId::User(self.0.id.clone()).encode()
    }

    /// The user's id at Clerk, the identity provider.
    async fn clerk_id(&self) -> &str {
        &self.0.id
    }

    /// The name to show: first and last name, else the username.
    async fn display_name(&self) -> String {
        display_name(&self.0)
    }

    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }

    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }

    /// The user's avatar.
    async fn image_url(&self) -> Option<&str> {
        self.0.image_url.as_deref()
    }

    /// What the user may do beyond posting.
    async fn role(&self) -> Role {
        self.0.effective_role().into()
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The primary email address: shown only to the user and to admins.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(email(&self.0, viewer(ctx)?).map(String::as_str))
    }

    /// Threads the user started, newest first.
    #[graphql(complexity = "crate::graphql::connection::cost(first, last, child_complexity)")]
    async fn threads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ForumConnection<Thread>> {
        let window = request(first, after, last, before)
            .window(&service::thread::BY_AUTHOR)
            .gql()?
            .probing(asks_whether_more(ctx));
        let key = AuthorThreadsKey(self.0.id.clone(), window);
        let page = or_empty(loader(ctx)?.load_one(key).await.gql()?);
        let total = TotalSource::AuthorThreads(self.0.id.clone());
        Ok(connection(page, total, Thread::new))
    }

    /// Replies the user posted, newest first.
    #[graphql(complexity = "crate::graphql::connection::cost(first, last, child_complexity)")]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ForumConnection<Reply>> {
        let window = request(first, after, last, before)
            .window(&service::reply::BY_AUTHOR)
            .gql()?
            .probing(asks_whether_more(ctx));
        let key = AuthorRepliesKey(self.0.id.clone(), window);
        let page = or_empty(loader(ctx)?.load_one(key).await.gql()?);
        let total = TotalSource::AuthorReplies(self.0.id.clone());
        Ok(connection(page, total, Reply::new))
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user; null when signed out.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        // The edge read (or provisioned) this row a moment ago and refuses deleted
        // accounts; the role shown is the role this request's permissions use.
        Ok(loader(ctx)?.loader().me.clone().map(User::new))
    }

    /// The user with this id, or null if there is none (or the account is deleted).
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        let id = NodeId::user(&id, "id").gql()?;
        author(ctx, &id).await
    }
}
