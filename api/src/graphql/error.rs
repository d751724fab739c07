//! Service errors as GraphQL errors: every one carries `extensions.code`, internal ones
//! are logged (inside the request's span, so with its id) and answered generically.

use std::sync::Arc;

use async_graphql::{ErrorExtensions, ServerError};
use service::Error;

pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const CONFLICT: &str = "CONFLICT";
pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
pub const TIMEOUT: &str = "TIMEOUT";
pub const NOT_RUN: &str = "NOT_RUN";
pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Converts a service error into the GraphQL error a client sees.
pub fn gql(err: &Error) -> async_graphql::Error {
    let (code, message) = match err {
        Error::NotFound(_) => (NOT_FOUND, err.to_string()),
        Error::Forbidden(_) => (FORBIDDEN, err.to_string()),
        Error::Unauthenticated(_) => (UNAUTHENTICATED, err.to_string()),
        Error::Invalid { .. } => (BAD_USER_INPUT, err.to_string()),
        Error::Conflict { .. } => (CONFLICT, err.to_string()),
        Error::Db(db) if err.is_timeout() => {
            tracing::warn!(error = %db, "database timed out");
            (
                TIMEOUT,
                "the database took too long and this field was stopped (any change it made \
                 was undone); try again"
                    .to_owned(),
            )
        }
        Error::Db(db) => {
            tracing::error!(error = %db, "database error");
            let message = if err.is_unavailable() {
                "the service is temporarily unavailable, try again"
            } else {
                "internal server error"
            };
            (INTERNAL_SERVER_ERROR, message.to_owned())
        }
    };
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", code);
        match err {
            Error::Invalid { field, .. }
            | Error::Conflict {
                field: Some(field), ..
            } => ext.set("field", *field),
            _ => {}
        }
    })
}

/// Lets resolvers use `?` on service results.
pub trait ServiceResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> ServiceResultExt<T> for Result<T, Error> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| gql(&e))
    }
}

impl<T> ServiceResultExt<T> for Result<T, Arc<Error>> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| gql(&e))
    }
}

/// Gives a code to the errors async-graphql raises itself (parse, validation, limits,
/// argument coercion), which come without one. Anything else without a code is a bug of
/// ours: it is logged and answered generically.
pub fn classify(error: &mut ServerError) {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some());
    if has_code {
        return;
    }
    let message = error.message.as_str();
    let field = coerced_field(message);
    let code = if message.starts_with("Query is too complex")
        || message.starts_with("Query is nested too deep")
        || message.starts_with("The recursion depth of the query")
    {
        QUERY_TOO_COMPLEX
    } else if message.starts_with("Invalid value for argument")
        || message.starts_with("Failed to parse")
        || message.starts_with("Expected input type")
        // A required variable the request left out (async-graphql finds it only when a
        // resolver reads the argument, so the error has a path).
        || (message.starts_with("Variable ") && message.ends_with(" is not defined."))
    {
        BAD_USER_INPUT
    } else if error.path.is_empty() {
        GRAPHQL_VALIDATION_FAILED
    } else {
        tracing::error!(error = %error.message, path = ?error.path, "uncoded resolver error");
        error.message = "internal server error".to_owned();
        INTERNAL_SERVER_ERROR
    };
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", code);
    if let Some(field) = field.filter(|_| code == BAD_USER_INPUT) {
        extensions.set("field", field);
    }
}

/// The input field that async-graphql's argument coercion refused, named as the
/// service's own errors name it: `Invalid value for argument "input.value", …` is
/// `value`, `"ids.3"` is `ids`, and a missing field (`"input", field "name" of type … is
/// required`) is `name`.
fn coerced_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Invalid value for argument \"")?;
    let (path, rest) = rest.split_once('"')?;
    if let Some(missing) = rest.strip_prefix(", field \"")
        && rest.contains("is required")
    {
        return missing.split('"').next().map(str::to_owned);
    }
    path.rsplit('.')
        .find(|segment| segment.parse::<usize>().is_err())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::coerced_field;

    #[test]
    fn coercion_errors_name_their_field() {
        for (message, field) in [
            (
                "Invalid value for argument \"first\", expected type \"Int\"",
                Some("first"),
            ),
            (
                "Invalid value for argument \"input.value\", enumeration type \"VoteValue\" does not contain the value \"SIDEWAYS\"",
                Some("value"),
            ),
            (
                "Invalid value for argument \"ids.3\", expected type \"ID\"",
                Some("ids"),
            ),
            (
                "Invalid value for argument \"input\", field \"name\" of type \"CreateCategoryInput\" is required but not provided",
                Some("name"),
            ),
            ("Failed to parse \"Int\": invalid", None),
        ] {
            assert_eq!(coerced_field(message).as_deref(), field, "{message}");
        }
    }
}
