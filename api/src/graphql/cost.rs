//! A document's depth and complexity, counted once where the variables cannot change them.
//!
//! async-graphql's fast validation walks the whole document on every request to count
//! depth and complexity: 12% of a small thread page's instructions. Depth depends on the
//! document alone, and complexity on the document and the arguments its complexity
//! functions read: `first` and `last` (`connection::cost`) and `ids` (`node::nodes`),
//! an `Int` and a list. A document none of whose operations declares a variable of
//! either kind is therefore counted the same for every request, and its count is kept
//! with its parse (`documents.rs`). Requests that carry it skip the walk through
//! [`KnownCost`], the extension of a schema that serves only them (`Engine`); anything
//! else is validated as before. A complexity function that read another kind of
//! argument would have to be added to [`is_fixed`].

use std::sync::{Arc, OnceLock};

use async_graphql::{
    ServerError, ValidationResult,
    async_trait::async_trait,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation},
    parser::types::{BaseType, DocumentOperations, ExecutableDocument},
};

/// The validation result of one document with a fixed cost, once it has passed.
#[derive(Clone, Default)]
pub struct Cost(Arc<OnceLock<ValidationResult>>);

/// Whether no variable of `document` can change its depth or complexity: none is an
/// `Int` or a list, the only kinds of argument the schema's complexity functions read.
/// A document of several operations qualifies only without variables: validation counts
/// the operations that do not run too, with variables nobody checked (`validated.rs`
/// checks the running one's), and one missing inside a list (`ids: [$id]`) fails the
/// count, so the same request would pass or fail depending on what came before.
pub fn is_fixed(document: &ExecutableDocument) -> bool {
    let several = matches!(document.operations, DocumentOperations::Multiple(_));
    document.operations.iter().all(|(_, operation)| {
        let variables = &operation.node.variable_definitions;
        (!several || variables.is_empty())
            && variables
                .iter()
                .all(|definition| match &definition.node.var_type.node.base {
                    BaseType::Named(name) => name.as_str() != "Int",
                    BaseType::List(_) => false,
                })
    })
}

/// Answers validation from a request's [`Cost`] once it is known; the first request of
/// a document validates and records it. Requests without a `Cost` validate as usual.
pub struct KnownCost(Arc<dyn Extension>);

impl Default for KnownCost {
    fn default() -> Self {
        Self(Arc::new(Counted))
    }
}

impl ExtensionFactory for KnownCost {
    fn create(&self) -> Arc<dyn Extension> {
        self.0.clone()
    }
}

struct Counted;

#[async_trait]
impl Extension for Counted {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let Some(Cost(cost)) = ctx.data_opt::<Cost>() else {
            return next.run(ctx).await;
        };
        if let Some(known) = cost.get() {
            return Ok(*known);
        }
        let result = next.run(ctx).await?;
        // Refusals are not kept: they are reported again, as they always were.
        let _ = cost.set(result);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{
        EmptyMutation, EmptySubscription, Object, Request, Schema, ValidationMode,
        parser::parse_query,
    };

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn a(&self) -> i32 {
            1
        }
        async fn b(&self) -> i32 {
            2
        }
    }

    #[tokio::test]
    async fn a_known_cost_answers_validation_and_a_first_run_records_it() {
        let schema = |limit| {
            Schema::build(Query, EmptyMutation, EmptySubscription)
                .limit_complexity(limit)
                .validation_mode(ValidationMode::Fast)
                .extension(KnownCost::default())
                .finish()
        };
        let run = |limit, cost: Option<Cost>| async move {
            let mut request = Request::new("{ a b }");
            if let Some(cost) = cost {
                request = request.data(cost);
            }
            schema(limit).execute(request).await
        };
        let cost = Cost::default();
        assert!(run(1, Some(cost.clone())).await.is_err(), "over the limit");
        assert!(cost.0.get().is_none(), "a refusal is not kept");
        assert!(run(2, Some(cost.clone())).await.is_ok());
        assert_eq!(cost.0.get().map(|c| c.complexity), Some(2));
        // Once known, the count is not made again: the limit is not even read.
        assert!(run(1, Some(cost)).await.is_ok());
        assert!(
            run(1, None).await.is_err(),
            "without a cost, validation runs"
        );
    }

    #[test]
    fn only_int_and_list_variables_make_a_cost_variable() {
        let fixed = |query: &str| is_fixed(&parse_query(query).unwrap());
        assert!(fixed("{ categories { nodes { id } } }"));
        assert!(fixed(
            "query($id: ID!, $order: ReplyOrder, $s: String, $b: Boolean) { x }"
        ));
        assert!(!fixed("query($n: Int) { x }"));
        assert!(!fixed("query($n: Int!) { x }"));
        assert!(!fixed("query($ids: [ID!]!) { x }"));
        // Validation counts every operation, not only the one that runs, with variables
        // checked only for the one that runs.
        assert!(!fixed("query A { x } query B($n: Int) { x }"));
        assert!(!fixed(
            "query A { x } query B($r: ID!) { nodes(ids: [$r]) { id } }"
        ));
        assert!(fixed("query A { x } query B { y }"));
    }
}
