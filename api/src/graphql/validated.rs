//! Whether a request may skip async-graphql's full validation.
//!
//! Full validation runs 22 rules over the whole document on every request: 8% of a
//! thread page's instructions, for a handful of documents that clients send over and
//! over. Every rule but one depends on the document alone; that one
//! (`ArgumentsOfCorrectType`) also checks the variables' values against the arguments they
//! fill. So a document that passed once runs later under async-graphql's fast validation
//! (which still counts depth and complexity, with these variables) when every variable's
//! value plainly fits the type its definition declares: a value that fits the declared
//! type fits the argument, since full validation already held each variable to
//! positions its type allows. Anything this module cannot vouch for (input objects,
//! unknown types, integers out of range) goes through full validation, which reports
//! it as it always did.

use async_graphql::{
    Name, Value, Variables,
    parser::types::{BaseType, ExecutableDocument, Type},
    resolver_utils::EnumType,
};

use super::{
    enums::{ReplyOrder, Role, ThreadOrder, ThreadStatus, VoteValue},
    limits::selected,
};

/// Gives each variable the client left out its default, as GraphQL's coercion of
/// variables does. async-graphql applies defaults where a variable fills an argument, but
/// decides `@skip(if:)` and `@include(if:)` from the variables sent alone, so that a
/// left-out `$keep: Boolean = true` would read as false.
pub fn fill_defaults(document: &ExecutableDocument, name: Option<&str>, variables: &mut Variables) {
    let Some(operation) = selected(document, name) else {
        return;
    };
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        if let Some(default) = &definition.default_value
            && !variables.contains_key(&definition.name.node)
        {
            variables.insert(definition.name.node.clone(), default.node.clone());
        }
    }
}

/// Whether every variable of the operation that will run fits its declared type.
pub fn variables_fit(
    document: &ExecutableDocument,
    operation: Option<&str>,
    variables: &Variables,
) -> bool {
    let Some(operation) = selected(document, operation) else {
        return false;
    };
    operation.variable_definitions.iter().all(|definition| {
        let definition = &definition.node;
        let has_default = definition.default_value.is_some();
        match variables.get(&definition.name.node) {
            None => has_default || definition.var_type.node.nullable,
            // A variable with a default may fill a non-null position, where an explicit
            // null is refused: only full validation sees the position.
            Some(Value::Null) if has_default => false,
            Some(value) => fits(&definition.var_type.node, value),
        }
    })
}

fn fits(ty: &Type, value: &Value) -> bool {
    match (value, &ty.base) {
        (Value::Null, _) => ty.nullable,
        (Value::List(items), BaseType::List(item)) => items.iter().all(|v| fits(item, v)),
        // A single value where a list is declared is a list of one.
        (value, BaseType::List(item)) => fits(item, value),
        (value, BaseType::Named(name)) => named_fits(name, value),
    }
}

fn named_fits(name: &Name, value: &Value) -> bool {
    match (name.as_str(), value) {
        ("String", Value::String(_)) | ("Boolean", Value::Boolean(_)) => true,
        ("ID", Value::String(_)) => true,
        ("Int", Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        ("Float", Value::Number(_)) => true,
        ("ReplyOrder", value) => is_item::<ReplyOrder>(value),
        ("ThreadOrder", value) => is_item::<ThreadOrder>(value),
        ("ThreadStatus", value) => is_item::<ThreadStatus>(value),
        ("VoteValue", value) => is_item::<VoteValue>(value),
        ("Role", value) => is_item::<Role>(value),
        _ => false,
    }
}

fn is_item<E: EnumType>(value: &Value) -> bool {
    let text = match value {
        Value::String(text) => text.as_str(),
        Value::Enum(name) => name.as_str(),
        _ => return false,
    };
    E::items().iter().any(|item| item.name == text)
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::json;

    use super::*;

    fn fit(query: &str, operation: Option<&str>, variables: serde_json::Value) -> bool {
        let document = parse_query(query).unwrap();
        variables_fit(&document, operation, &Variables::from_json(variables))
    }

    #[test]
    fn only_plainly_fitting_values_skip_full_validation() {
        let q = "query($id: ID!, $n: Int, $order: ReplyOrder!, $tags: [String!]) { x }";
        let ok = json!({ "id": "abc", "n": 5, "order": "TOP" });
        assert!(fit(q, None, ok.clone()));
        assert!(fit(
            q,
            None,
            json!({ "id": "7", "order": "OLDEST", "n": null, "tags": ["a"] })
        ));
        assert!(fit(
            q,
            None,
            json!({ "id": "a", "order": "TOP", "tags": "one" })
        ));
        for bad in [
            json!({ "order": "TOP" }),
            json!({ "id": null, "order": "TOP" }),
            json!({ "id": true, "order": "TOP" }),
            json!({ "id": 7, "order": "TOP" }),
            json!({ "id": "a", "order": "SIDEWAYS" }),
            json!({ "id": "a", "order": 1 }),
            json!({ "id": "a", "order": "TOP", "n": 2_147_483_648_i64 }),
            json!({ "id": "a", "order": "TOP", "n": 1.5 }),
            json!({ "id": "a", "order": "TOP", "tags": [null] }),
            json!({ "id": "a", "order": "TOP", "tags": [1] }),
        ] {
            assert!(!fit(q, None, bad.clone()), "{bad}");
        }
        let input = "mutation($input: CastVoteInput!) { x }";
        assert!(!fit(
            input,
            None,
            json!({ "input": { "replyId": "r", "value": "UP" } })
        ));
        let defaulted = "query($n: Int! = 3) { x }";
        assert!(fit(defaulted, None, json!({})));
        assert!(!fit("query($n: Int = 3) { x }", None, json!({ "n": null })));
        let two = "query A($n: Int!) { x } query B { y }";
        assert!(fit(two, Some("B"), json!({})));
        assert!(!fit(two, Some("A"), json!({})));
        assert!(!fit(two, None, json!({})));
        assert!(!fit(two, Some("C"), json!({})));
    }
}
