//! The service's one error type. The API maps each variant to a GraphQL error code.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A unique value is taken; `field` names the input that holds it, when one does.
    #[error("{message}")]
    Conflict {
        field: Option<&'static str>,
        message: String,
    },
    /// The database failed or is unreachable. Never shown to a client as is.
    #[error(transparent)]
    Db(DbErr),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// True when the database could not be reached, or gave up on this transaction for
    /// another's sake (a serialization failure or a deadlock): the request may succeed if
    /// retried.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Db(DbErr::ConnectionAcquire(_) | DbErr::Conn(_)))
            || self
                .code()
                .is_some_and(|code| code == "40001" || code == "40P01")
    }

    /// True when the database stopped waiting: a statement ran past the statement timeout
    /// (Postgres' `query_canceled`; a lock held too long by another transaction, say), or
    /// SQLite's busy timeout ran out before its write lock came; or the request's deadline
    /// passed before the transaction could commit.
    pub fn is_timeout(&self) -> bool {
        if matches!(self, Self::Db(DbErr::Custom(m)) if m == crate::deadline::TOO_LATE) {
            return true;
        }
        let Some(error) = self.database_error() else {
            return false;
        };
        let code = error.code();
        if error
            .try_downcast_ref::<sqlx::sqlite::SqliteError>()
            .is_some()
        {
            // Extended result codes keep the primary one in their low byte.
            return code
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| code & 0xff == SQLITE_BUSY);
        }
        code.is_some_and(|code| code == "57014")
    }

    /// Postgres' SQLSTATE, or SQLite's result code.
    fn code(&self) -> Option<String> {
        Some(self.database_error()?.code()?.into_owned())
    }

    fn database_error(&self) -> Option<&dyn sqlx::error::DatabaseError> {
        let Self::Db(
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)),
        ) = self
        else {
            return None;
        };
        e.as_database_error()
    }
}

/// SQLite's primary result code for "the database is locked" (extended codes keep it in
/// their low byte).
const SQLITE_BUSY: i32 = 5;

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict {
                field: None,
                message: "it already exists".to_owned(),
            },
            _ => Self::Db(err),
        }
    }
}

impl<E> From<sea_orm::TransactionError<E>> for Error
where
    E: Into<Error> + std::error::Error,
{
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}
