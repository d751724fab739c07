//! Puts back the nulls that async-graphql leaves out when a field fails.
//!
//! The spec: a field that fails is `null`, and a `null` in a non-null position makes its
//! parent `null` in turn, up to the nearest nullable position (or `data` itself).
//! async-graphql 7 drops the failed field's key instead and leaves the parent as it is
//! (or `null` when nothing is left of it): `{ thread(id: "bad") { id } }` answers
//! `"data": null` where the spec asks for `{"thread": null}`, and an object keeps its
//! other fields where a failed non-null field should have nulled it. Typed clients read
//! such an answer as one that does not fit the schema. Errors are rare, so the work is
//! done only then: each error's path is walked through the document and the schema's field
//! types to the position that the spec makes `null`.

use std::collections::HashMap;

use async_graphql::{
    Name, PathSegment, Response, Value,
    indexmap::IndexMap,
    parser::types::{
        BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
        TypeKind, TypeSystemDefinition,
    },
};

/// The type of every field of the schema's objects and interfaces.
pub struct FieldTypes(HashMap<(Name, Name), Type>);

impl FieldTypes {
    pub fn new(sdl: &str) -> Self {
        let mut types = HashMap::new();
        let Ok(schema) = async_graphql::parser::parse_schema(sdl) else {
            return Self(types);
        };
        for definition in schema.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let definition = definition.node;
            let fields = match definition.kind {
                TypeKind::Object(object) => object.fields,
                TypeKind::Interface(interface) => interface.fields,
                _ => continue,
            };
            for field in fields {
                let field = field.node;
                types.insert(
                    (definition.name.node.clone(), field.name.node),
                    field.ty.node,
                );
            }
        }
        Self(types)
    }

    fn get(&self, parent: &Name, field: &Name) -> Option<&Type> {
        self.0.get(&(parent.clone(), field.clone()))
    }
}

/// Makes `response` say what the spec says of its errors; `document` is the one it ran.
pub fn restore(
    types: &FieldTypes,
    document: &ExecutableDocument,
    operation: Option<&str>,
    response: &mut Response,
) {
    let mut nulled: Vec<&[PathSegment]> = Vec::new();
    for error in &response.errors {
        if let Some(depth) = null_depth(types, document, operation, &error.path) {
            nulled.push(&error.path[..depth]);
        }
    }
    // A position inside another that is null is gone with it.
    nulled.sort_by_key(|path| path.len());
    let mut kept: Vec<&[PathSegment]> = Vec::new();
    for path in nulled {
        if !kept.iter().any(|outer| path.starts_with(outer)) {
            kept.push(path);
        }
    }
    for path in kept {
        set_null(&mut response.data, path);
    }
}

/// How many segments of `path` lead to the position the spec makes `null` (0: `data`);
/// `None` when the path cannot be followed (then the answer is left as it is).
fn null_depth(
    types: &FieldTypes,
    document: &ExecutableDocument,
    operation: Option<&str>,
    path: &[PathSegment],
) -> Option<usize> {
    if path.is_empty() {
        return None;
    }
    let operation = super::limits::selected(document, operation)?;
    let root = match operation.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => return None,
    };
    // Whether each position along the path may be null.
    let mut nullable = Vec::with_capacity(path.len());
    let mut sets = vec![(Name::new(root), &operation.selection_set.node)];
    let mut current: Option<&Type> = None;
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                let mut found: Option<&Type> = None;
                let mut next = Vec::new();
                for (parent, set) in &sets {
                    for (on, field) in fields_with_key(document, parent, set, key) {
                        let ty = types.get(&on, &field.name.node)?;
                        found = Some(ty);
                        next.push((named(ty).clone(), &field.selection_set.node));
                    }
                }
                let ty = found?;
                nullable.push(ty.nullable);
                current = Some(ty);
                sets = next;
            }
            PathSegment::Index(_) => {
                let BaseType::List(item) = &current?.base else {
                    return None;
                };
                nullable.push(item.nullable);
                current = Some(item);
            }
        }
    }
    Some(nullable.iter().rposition(|n| *n).map_or(0, |i| i + 1))
}

/// The name of the type a list of any depth holds, or of `ty` itself.
fn named(ty: &Type) -> &Name {
    match &ty.base {
        BaseType::Named(name) => name,
        BaseType::List(item) => named(item),
    }
}

/// The fields of `set` (and of its fragments) whose response key is `key`, each with the
/// type it is selected on.
fn fields_with_key<'a>(
    document: &'a ExecutableDocument,
    parent: &Name,
    set: &'a SelectionSet,
    key: &str,
) -> Vec<(Name, &'a Field)> {
    let mut out = Vec::new();
    collect(document, parent, set, key, &mut out, 0);
    out
}

fn collect<'a>(
    document: &'a ExecutableDocument,
    on: &Name,
    set: &'a SelectionSet,
    key: &str,
    out: &mut Vec<(Name, &'a Field)>,
    depth: usize,
) {
    // Fragments cannot form cycles in a valid document; the bound keeps a walk finite anyway.
    if depth > 64 {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) if field.node.response_key().node == key => {
                out.push((on.clone(), &field.node));
            }
            Selection::Field(_) => {}
            Selection::InlineFragment(fragment) => {
                let on = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map_or(on, |c| &c.node.on.node);
                collect(
                    document,
                    on,
                    &fragment.node.selection_set.node,
                    key,
                    out,
                    depth + 1,
                );
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    let fragment = &fragment.node;
                    collect(
                        document,
                        &fragment.type_condition.node.on.node,
                        &fragment.selection_set.node,
                        key,
                        out,
                        depth + 1,
                    );
                }
            }
        }
    }
}

/// Sets the value at `path` to null, making the objects on the way that async-graphql
/// left out (an object whose every field failed was answered `null`; an error inside it
/// says it was there).
fn set_null(data: &mut Value, path: &[PathSegment]) {
    if !reachable(data, path) {
        return;
    }
    let Some((last, parents)) = path.split_last() else {
        *data = Value::Null;
        return;
    };
    let mut value = data;
    for segment in parents {
        value = match segment {
            PathSegment::Field(key) => match object(value) {
                Some(map) => map.entry(Name::new(key)).or_insert(Value::Null),
                None => return,
            },
            PathSegment::Index(i) => match value {
                Value::List(items) if *i < items.len() => &mut items[*i],
                _ => return,
            },
        };
    }
    match last {
        PathSegment::Field(key) => {
            if let Some(map) = object(value) {
                map.insert(Name::new(key), Value::Null);
            }
        }
        PathSegment::Index(i) => {
            if let Value::List(items) = value
                && let Some(item) = items.get_mut(*i)
            {
                *item = Value::Null;
            }
        }
    }
}

/// Whether `path` leads through `data` to a place a null can go: every list it indexes is
/// there (an object that is missing or `null` on the way is made, a list cannot be).
fn reachable(data: &Value, path: &[PathSegment]) -> bool {
    let mut value = Some(data);
    for segment in path {
        value = match (segment, value) {
            (PathSegment::Field(key), Some(Value::Object(map))) => map.get(key.as_str()),
            (PathSegment::Field(_), None | Some(Value::Null)) => None,
            (PathSegment::Index(i), Some(Value::List(items))) => match items.get(*i) {
                Some(item) => Some(item),
                None => return false,
            },
            _ => return false,
        };
    }
    true
}

/// `value` as an object: one that async-graphql answered `null` becomes an empty one; any
/// other kind of value (a list the direct path wrote as JSON, say) is left alone.
fn object(value: &mut Value) -> Option<&mut IndexMap<Name, Value>> {
    if matches!(value, Value::Null) {
        *value = Value::Object(IndexMap::new());
    }
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{ServerError, parser::parse_query};
    use serde_json::json;

    use super::*;

    fn restored(
        query: &str,
        data: serde_json::Value,
        paths: &[serde_json::Value],
    ) -> serde_json::Value {
        let types = FieldTypes::new(&super::super::sdl());
        let document = parse_query(query).unwrap();
        let mut response = Response::new(Value::from_json(data).unwrap());
        for path in paths {
            let mut error = ServerError::new("failed", None);
            error.path = serde_json::from_value(path.clone()).unwrap();
            response.errors.push(error);
        }
        restore(&types, &document, None, &mut response);
        response.data.into_json().unwrap()
    }

    #[test]
    fn inside_lists_the_nearest_nullable_position_is_null() {
        let query = "{ thread(id: \"x\") { replies { nodes { body author { displayName } } } } }";
        let data = json!({ "thread": { "replies": { "nodes": [
            { "body": "a", "author": {} },
            { "body": "b", "author": { "displayName": "Bo" } },
        ] } } });
        // `displayName: String!` failed in the first reply: its nullable author is null.
        assert_eq!(
            restored(
                query,
                data.clone(),
                &[json!([
                    "thread",
                    "replies",
                    "nodes",
                    0,
                    "author",
                    "displayName"
                ])]
            ),
            json!({ "thread": { "replies": { "nodes": [
                { "body": "a", "author": null },
                { "body": "b", "author": { "displayName": "Bo" } },
            ] } } })
        );
        // `body` is nullable: null in place, the key put back.
        let without_body = json!({ "thread": { "replies": { "nodes": [{ "author": null }] } } });
        assert_eq!(
            restored(
                query,
                without_body,
                &[json!(["thread", "replies", "nodes", 0, "body"])]
            ),
            json!({ "thread": { "replies": { "nodes": [{ "author": null, "body": null }] } } })
        );
    }

    #[test]
    fn a_null_inside_another_is_gone_with_it() {
        let query = "{ thread(id: \"x\") { title replies(first: 101) { totalCount } } }";
        // `replies` is non-null, so `thread` is null; the error inside it changes nothing more.
        assert_eq!(
            restored(
                query,
                json!({ "thread": { "title": "t" } }),
                &[
                    json!(["thread", "replies", "totalCount"]),
                    json!(["thread", "replies"])
                ]
            ),
            json!({ "thread": null })
        );
        // A path the document does not have is left as it is.
        assert_eq!(
            restored(query, json!({ "thread": null }), &[json!(["nope"])]),
            json!({ "thread": null })
        );
    }
}
