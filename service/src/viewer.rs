//! Who is asking: resolved once at the edge, passed to every service call that cares.

use entity::user::Role;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Viewer {
    #[default]
    Anonymous,
    User {
        id: String,
        role: Role,
    },
}

impl Viewer {
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::User { id, .. } => Some(id),
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Self::Anonymous => None,
            Self::User { role, .. } => Some(*role),
        }
    }

    pub fn is(&self, user_id: &str) -> bool {
        self.user_id() == Some(user_id)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    /// Moderators and admins may lock, pin, edit and delete others' content.
    pub fn is_moderator(&self) -> bool {
        matches!(self.role(), Some(Role::Moderator | Role::Admin))
    }
}
