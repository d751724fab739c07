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

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, PathSegment, Positioned, Response, Value,
    indexmap::IndexMap,
    parser::types::{
        BaseType, ExecutableDocument, Field, FragmentDefinition, OperationDefinition,
        OperationType, Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
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
    let Some(operation) = super::limits::selected(document, operation) else {
        return;
    };
    let mut walk = Walk::new(types, operation, &document.fragments);
    let mut nulled: Vec<&[PathSegment]> = Vec::new();
    for error in &response.errors {
        if let Some(depth) = walk.null_depth(&error.path) {
            nulled.push(&error.path[..depth]);
        }
    }
    // A position inside another that is null is gone with it.
    nulled.sort_by_key(|path| path.len());
    let mut kept: HashSet<Vec<Seg>> = HashSet::new();
    let mut set = Vec::new();
    for path in nulled {
        let mut prefix = Vec::with_capacity(path.len());
        let inside = kept.contains(&prefix)
            || path.iter().any(|segment| {
                prefix.push(Seg::of(segment));
                kept.contains(&prefix)
            });
        if !inside {
            kept.insert(prefix);
            set.push(path);
        }
    }
    for path in set {
        set_null(&mut response.data, path, &walk);
    }
}

/// Whether the error at `path` makes `data` itself null (every position from the root
/// down to it is non-null), in the operation a resolver runs in.
pub fn nulls_data(
    types: &FieldTypes,
    operation: &OperationDefinition,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    path: &[PathSegment],
) -> bool {
    Walk::new(types, operation, fragments).null_depth(path) == Some(0)
}

/// Selection sets, each with the type it is on.
type Sets<'a> = Vec<(Name, &'a SelectionSet)>;

/// A path segment, borrowed, to look up.
#[derive(Hash, PartialEq, Eq)]
enum Seg<'a> {
    Field(&'a str),
    Index(usize),
}

impl<'a> Seg<'a> {
    fn of(segment: &'a PathSegment) -> Self {
        match segment {
            PathSegment::Field(key) => Self::Field(key),
            PathSegment::Index(i) => Self::Index(*i),
        }
    }
}

/// The walks of one response's error paths through its operation. Paths that differ only
/// in their list indexes (the same field failing in every row) share one walk.
struct Walk<'a> {
    types: &'a FieldTypes,
    operation: &'a OperationDefinition,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Each path's field keys, `None` for a list index, and what its walk found.
    walked: HashMap<Vec<Option<&'a str>>, Option<usize>>,
}

impl<'a> Walk<'a> {
    fn new(
        types: &'a FieldTypes,
        operation: &'a OperationDefinition,
        fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    ) -> Self {
        Self {
            types,
            operation,
            fragments,
            walked: HashMap::new(),
        }
    }

    /// How many segments of `path` lead to the position the spec makes `null` (0:
    /// `data`); `None` when the path cannot be followed (then the answer is left as it is).
    fn null_depth(&mut self, path: &'a [PathSegment]) -> Option<usize> {
        let shape: Vec<Option<&str>> = path.iter().map(step).collect();
        if let Some(known) = self.walked.get(&shape) {
            return *known;
        }
        let depth = self.walk(&shape);
        self.walked.insert(shape, depth);
        depth
    }

    fn walk(&self, shape: &[Option<&str>]) -> Option<usize> {
        if shape.is_empty() {
            return None;
        }
        let (nullable, _) = self.follow(shape)?;
        Some(nullable.iter().rposition(|n| *n).map_or(0, |i| i + 1))
    }

    /// Follows `shape` from the operation's root: whether each position along it may be
    /// null, and the selection sets (each with the type it is on) of the value at its end.
    fn follow(&self, shape: &[Option<&str>]) -> Option<(Vec<bool>, Sets<'a>)> {
        let root = match self.operation.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => return None,
        };
        let mut nullable = Vec::with_capacity(shape.len());
        let mut sets = vec![(Name::new(root), &self.operation.selection_set.node)];
        let mut current: Option<&Type> = None;
        for step in shape {
            match step {
                Some(key) => {
                    let mut found: Vec<&Type> = Vec::new();
                    let mut next = Vec::new();
                    let mut fields: HashSet<*const Field> = HashSet::new();
                    for (parent, set) in &sets {
                        for (on, field) in self.fields_with_key(parent, set, key) {
                            // The same field reached from two sets (a fragment spread in
                            // both) is one.
                            if !fields.insert(std::ptr::from_ref(field)) {
                                continue;
                            }
                            let ty = self.types.get(&on, &field.name.node)?;
                            found.push(ty);
                            next.push((named(ty).clone(), &field.selection_set.node));
                        }
                    }
                    let ty = *found.first()?;
                    // Validation does not compare fields of one key under different type
                    // conditions: where they disagree, the position counts as non-null, so
                    // that the null moves up and the answer fits either.
                    nullable.push(found.iter().all(|ty| ty.nullable));
                    current = Some(ty);
                    sets = next;
                }
                None => {
                    let BaseType::List(item) = &current?.base else {
                        return None;
                    };
                    nullable.push(item.nullable);
                    current = Some(item);
                }
            }
        }
        Some((nullable, sets))
    }

    /// The response keys of the object at `path`, in the order the document asks for them.
    fn keys_at(&self, path: &[PathSegment]) -> Vec<&'a str> {
        let shape: Vec<Option<&str>> = path.iter().map(step).collect();
        let mut keys = Vec::new();
        if let Some((_, sets)) = self.follow(&shape) {
            let mut spread = HashSet::new();
            for (_, set) in sets {
                self.list_keys(set, &mut keys, &mut spread);
            }
        }
        keys
    }

    fn list_keys(
        &self,
        set: &'a SelectionSet,
        keys: &mut Vec<&'a str>,
        spread: &mut HashSet<&'a str>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.as_str();
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.list_keys(&fragment.node.selection_set.node, keys, spread);
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if let Some((name, fragment)) = self.fragments.get_key_value(name)
                        && spread.insert(name.as_str())
                    {
                        self.list_keys(&fragment.node.selection_set.node, keys, spread);
                    }
                }
            }
        }
    }

    /// The fields of `set` (and of its fragments) whose response key is `key`, each with
    /// the type it is selected on. A fragment spread twice in the set is read once.
    fn fields_with_key(
        &self,
        parent: &Name,
        set: &'a SelectionSet,
        key: &str,
    ) -> Vec<(Name, &'a Field)> {
        let mut out = Vec::new();
        self.collect(parent, set, key, &mut out, &mut HashSet::new());
        out
    }

    fn collect(
        &self,
        on: &Name,
        set: &'a SelectionSet,
        key: &str,
        out: &mut Vec<(Name, &'a Field)>,
        spread: &mut HashSet<&'a str>,
    ) {
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
                    self.collect(on, &fragment.node.selection_set.node, key, out, spread);
                }
                // Once per fragment also ends a cycle, which validation refuses anyway.
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if let Some((name, fragment)) = self.fragments.get_key_value(name)
                        && spread.insert(name.as_str())
                    {
                        let fragment = &fragment.node;
                        self.collect(
                            &fragment.type_condition.node.on.node,
                            &fragment.selection_set.node,
                            key,
                            out,
                            spread,
                        );
                    }
                }
            }
        }
    }
}

/// A path segment as a step of a shape: a field's key, or `None` for a list index.
fn step(segment: &PathSegment) -> Option<&str> {
    match segment {
        PathSegment::Field(key) => Some(key.as_str()),
        PathSegment::Index(_) => None,
    }
}

/// The name of the type a list of any depth holds, or of `ty` itself.
fn named(ty: &Type) -> &Name {
    match &ty.base {
        BaseType::Named(name) => name,
        BaseType::List(item) => named(item),
    }
}

/// Sets the value at `path` to null, making the objects on the way that async-graphql
/// left out (an object whose every field failed was answered `null`; an error inside it
/// says it was there). A key async-graphql dropped goes back where the document asks
/// for it.
fn set_null(data: &mut Value, path: &[PathSegment], walk: &Walk<'_>) {
    if !reachable(data, path) {
        return;
    }
    if path.is_empty() {
        *data = Value::Null;
        return;
    }
    let mut value = data;
    for (depth, segment) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        value = match segment {
            PathSegment::Field(key) => match object(value) {
                Some(map) => {
                    let slot = in_place(map, key, || walk.keys_at(&path[..depth]));
                    if last {
                        *slot = Value::Null;
                    }
                    slot
                }
                None => return,
            },
            PathSegment::Index(i) => match value {
                Value::List(items) if *i < items.len() => {
                    if last {
                        items[*i] = Value::Null;
                    }
                    &mut items[*i]
                }
                _ => return,
            },
        };
    }
}

/// The value under `key` in `map`; one that is missing is made `null` at its place in
/// `order` (the keys the document asks for, in order).
fn in_place<'m, 'k>(
    map: &'m mut IndexMap<Name, Value>,
    key: &str,
    order: impl FnOnce() -> Vec<&'k str>,
) -> &'m mut Value {
    let at = match map.get_index_of(key) {
        Some(at) => at,
        None => {
            let order = order();
            let rank = |k: &str| order.iter().position(|o| *o == k).unwrap_or(usize::MAX);
            let mine = rank(key);
            let at = map.keys().position(|k| rank(k) > mine).unwrap_or(map.len());
            map.shift_insert(at, Name::new(key), Value::Null);
            at
        }
    };
    &mut map[at]
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
    fn a_key_put_back_goes_where_the_document_asks_for_it() {
        let types = FieldTypes::new(&super::super::sdl());
        let query = "{ a: categories { totalCount } t: thread(id: \"x\") { id } ...F } \
                     fragment F on Query { c: categories { totalCount } }";
        let document = parse_query(query).unwrap();
        let data = json!({ "a": { "totalCount": 1 }, "c": { "totalCount": 1 } });
        let mut response = Response::new(Value::from_json(data).unwrap());
        let mut error = ServerError::new("failed", None);
        error.path = vec![PathSegment::Field("t".into())];
        response.errors.push(error);
        restore(&types, &document, None, &mut response);
        let Value::Object(map) = &response.data else {
            panic!("an object: {:?}", response.data)
        };
        let keys: Vec<&str> = map.keys().map(Name::as_str).collect();
        assert_eq!(keys, ["a", "t", "c"]);
        assert_eq!(map["t"], Value::Null);
    }

    #[test]
    fn each_place_is_walked_once() {
        let types = FieldTypes::new(&super::super::sdl());
        // 9,900 spreads of one field: a fragment spread again in the same set is read once.
        let query = format!(
            "{{ thread(id: \"x\") {{ ...A }} }} fragment A on Thread {{ {} }} \
             fragment B on Thread {{ {} }} fragment C on Thread {{ replies {{ nodes {{ author {{ displayName }} }} }} }}",
            "...B ".repeat(100),
            "...C ".repeat(99)
        );
        let document = parse_query(query).unwrap();
        let operation = crate::graphql::limits::selected(&document, None).unwrap();
        let mut walk = Walk::new(&types, operation, &document.fragments);
        let Selection::Field(thread) = &operation.selection_set.node.items[0].node else {
            panic!("a field")
        };
        let set = &thread.node.selection_set.node;
        assert_eq!(
            walk.fields_with_key(&Name::new("Thread"), set, "replies")
                .len(),
            1
        );
        // The same field failing in every row is one walk.
        let paths: Vec<Vec<PathSegment>> = (0..50)
            .map(|i| {
                serde_json::from_value(json!([
                    "thread",
                    "replies",
                    "nodes",
                    i,
                    "author",
                    "displayName"
                ]))
                .unwrap()
            })
            .collect();
        for path in &paths {
            assert_eq!(walk.null_depth(path), Some(5), "the author is nullable");
        }
        assert_eq!(walk.walked.len(), 1);
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
        // One key that is non-null under one type condition and nullable under another
        // (validation lets it through) counts as non-null, so the answer fits either.
        let query = "{ node(id: \"x\") { \
            ... on Reply { x: thread { y: replies(first: 101) { totalCount } } } \
            ... on Thread { x: author { y: threads(first: 101) { totalCount } } } } }";
        assert_eq!(
            restored(query, json!({ "node": {} }), &[json!(["node", "x", "y"])]),
            json!({ "node": null })
        );
        // A path the document does not have is left as it is.
        assert_eq!(
            restored(query, json!({ "thread": null }), &[json!(["nope"])]),
            json!({ "thread": null })
        );
    }
}
