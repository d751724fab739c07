//! Keyset page queries. A page is one index range scan: `WHERE <scope> AND <rows past the
//! cursor> ORDER BY <keys> LIMIT n + 1` (`n` when no one asks whether more exist). Pages
//! of many parents (the five latest threads of every category) are one statement: on
//! Postgres a `LATERAL` join over the array of parents (one short statement whatever
//! their number, so its plan is cached), on SQLite a `UNION ALL` of the per-parent scans,
//! one statement per 500 parents (SQLite's limit on the terms of a compound `SELECT`).

use std::{
    collections::{HashMap, HashSet},
    hash::Hash,
    sync::LazyLock,
};

use sea_orm::{ConnectionTrait, DbBackend, IdenStatic, Iterable, Statement, Value};
use uuid::Uuid;

use crate::{
    Result, clock,
    page::{Authors, Key, Ordering, Page, Row, SortKey, Window},
    rows::{self, Columns, FromRow, FromRows},
    sql::Sql,
    user::Card,
};

/// Where a listing reads from, and which rows belong to it besides the parent.
pub(crate) struct Listing<'a, T: 'static> {
    /// Quoted table name.
    pub table: &'static str,
    pub ordering: &'static Ordering<T>,
    /// Extra conditions, as SQL: a literal lets the planner match a partial index (a
    /// thread status).
    pub filters: &'a [&'static str],
    /// How much of each row's author (`author_id`) to join into the same statement.
    pub authors: Authors,
}

/// SQLite's limit on the terms of one compound `SELECT` (`SQLITE_MAX_COMPOUND_SELECT`).
const SQLITE_MAX_BRANCHES: usize = 500;

/// The page of `window` for each of `parents`, whose key is `parent_column`. One
/// statement, whatever the number of parents (on SQLite, one per 500 parents).
pub(crate) async fn pages_by_parent<T, R, P>(
    db: &impl ConnectionTrait,
    listing: &Listing<'_, T>,
    parent_column: &'static str,
    parents: &[P],
    window: &Window,
    parent_of: impl Fn(&T) -> P,
) -> Result<HashMap<P, Page<R>>>
where
    R: FromRows + Row<T> + Send + Sync,
    P: Clone + Eq + Hash + Into<Value>,
    Vec<P>: Into<Value>,
{
    let mut seen = HashSet::with_capacity(parents.len());
    let unique: Vec<P> = parents
        .iter()
        .filter(|parent| seen.insert(*parent))
        .cloned()
        .collect();
    let backend = db.get_database_backend();
    let batch = match backend {
        DbBackend::Postgres => unique.len().max(1),
        _ => SQLITE_MAX_BRANCHES,
    };
    let mut rows = Vec::new();
    for parents in unique.chunks(batch) {
        let statement = pages_statement(backend, listing, parent_column, parents, window);
        rows.extend(R::from_rows(&db.query_all_raw(statement).await?)?);
    }
    Ok(pages_of(unique, rows, parent_of, window, listing.ordering))
}

/// The statement of `pages_by_parent` for some of its parents (at least one).
fn pages_statement<T, P>(
    backend: DbBackend,
    listing: &Listing<'_, T>,
    parent_column: &'static str,
    parents: &[P],
    window: &Window,
) -> Statement
where
    P: Clone + Into<Value>,
    Vec<P>: Into<Value>,
{
    let mut sql = Sql::new(backend);
    let join = listing.authors != Authors::Skip;
    if join {
        open_author_join(&mut sql, listing.authors);
    }
    match parents {
        [parent] => {
            branch(
                &mut sql,
                listing,
                Scope::Is(parent_column, parent.clone().into()),
                window,
            );
        }
        [first, ..] if backend == DbBackend::Postgres => {
            let element = match first.clone().into() {
                Value::Uuid(_) => "uuid",
                _ => "text",
            };
            sql.push("SELECT t.* FROM unnest(")
                .bind(parents.to_vec())
                .push(&format!("::{element}[]) AS p(parent) CROSS JOIN LATERAL ("));
            branch(&mut sql, listing, Scope::Outer(parent_column), window);
            sql.push(") AS t");
        }
        _ => {
            for (i, parent) in parents.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ALL ");
                }
                sql.push("SELECT * FROM (");
                branch(
                    &mut sql,
                    listing,
                    Scope::Is(parent_column, parent.clone().into()),
                    window,
                );
                sql.push(&format!(") AS p{i}"));
            }
        }
    }
    if join {
        close_author_join(&mut sql);
    }
    sql.statement()
}

/// Each of `parents`' page of `window` from `rows` (one with no rows has an empty page).
fn pages_of<T: 'static, R: Row<T>, P: Eq + Hash>(
    parents: impl IntoIterator<Item = P>,
    rows: Vec<R>,
    parent_of: impl Fn(&T) -> P,
    window: &Window,
    ordering: &Ordering<T>,
) -> HashMap<P, Page<R>> {
    let mut by_parent: HashMap<P, Vec<R>> = parents.into_iter().map(|p| (p, Vec::new())).collect();
    for row in rows {
        if let Some(rows) = by_parent.get_mut(&parent_of(row.row())) {
            rows.push(row);
        }
    }
    by_parent
        .into_iter()
        .map(|(parent, rows)| (parent, Page::from_rows(rows, window, ordering)))
        .collect()
}

/// The page of `window` over a whole table (no parent).
pub(crate) async fn page<T>(
    db: &impl ConnectionTrait,
    listing: &Listing<'_, T>,
    window: &Window,
) -> Result<Page<T>>
where
    T: FromRows + Row<T> + Send + Sync,
{
    let mut sql = Sql::new(db.get_database_backend());
    branch(&mut sql, listing, Scope::All, window);
    let rows = T::from_rows(&db.query_all_raw(sql.statement()).await?)?;
    Ok(Page::from_rows(rows, window, listing.ordering))
}

/// The parent of a listing: one row of `table`, whose `id` the listing's rows point at.
pub(crate) struct Parent {
    pub table: &'static str,
    pub by: ParentKey,
}

pub(crate) enum ParentKey {
    /// The parent's id: the listing's rows are those that hold it.
    Id(Uuid),
    /// Another unique column of the parent, and its value: the listing's rows are those
    /// that hold the id of the row it finds.
    Unique(&'static str, Value),
}

/// A parent and its page of `window`, in one statement: a `UNION ALL` of the parent's row
/// (padded with NULLs where a page row has columns) and the page's rows (NULLs where the
/// parent has columns). Two statements' worth of work in one round trip, which through a
/// pooler is two hops fewer. `None` if there is no such parent.
pub(crate) async fn parent_with_page<P, T, R>(
    db: &impl ConnectionTrait,
    parent: Parent,
    listing: &Listing<'_, T>,
    parent_column: &'static str,
    window: &Window,
) -> Result<Option<(P, Page<R>)>>
where
    P: Columns,
    T: Columns,
    R: FromRow + Row<T>,
{
    let mut sql = Sql::new(db.get_database_backend());
    let page_width = author_width(listing.authors) + T::WIDTH;
    let (column, value) = match &parent.by {
        ParentKey::Id(id) => ("id", Value::from(*id)),
        ParentKey::Unique(column, value) => (*column, value.clone()),
    };
    sql.push("SELECT parent.*")
        .push(&", NULL".repeat(page_width))
        .push(" FROM ")
        .push(parent.table)
        .push(" AS parent WHERE parent.")
        .push(column)
        .push(" = ")
        .bind(value)
        .push(" UNION ALL SELECT ")
        .push(&"NULL, ".repeat(P::WIDTH))
        .push("children.* FROM (");
    let scope = match parent.by {
        ParentKey::Id(id) => Scope::Is(parent_column, id.into()),
        ParentKey::Unique(key, value) => Scope::Of(parent_column, parent.table, key, value),
    };
    authored_branch(&mut sql, listing, scope, window);
    sql.push(") AS children");
    let rows = db.query_all_raw(sql.statement()).await?;
    let (parents, children) = rows::parents_and_children::<P, R>(&rows)?;
    Ok(parents.into_iter().next().map(|parent| {
        let page = Page::from_rows(children, window, listing.ordering);
        (parent, page)
    }))
}

/// A page of parents and each one's page of children (the front page: categories with
/// their latest threads). On Postgres one statement: the parents' page as a CTE, then its
/// rows and, through a `LATERAL` join, each one's children, told apart as in
/// `parent_with_page`. SQLite has no `LATERAL`: there the parents' page, then the
/// children's (`pages_by_parent`), two statements. Either way a failure fails the whole,
/// parents included.
pub(crate) async fn page_with_pages<P, T, R>(
    db: &impl ConnectionTrait,
    parents: (&Listing<'_, P>, &Window),
    children: (&Listing<'_, T>, &Window),
    parent_column: &'static str,
    id_of: impl Fn(&P) -> Uuid,
    parent_of: impl Fn(&T) -> Uuid,
) -> Result<(Page<P>, HashMap<Uuid, Page<R>>)>
where
    P: Columns + Row<P> + Send + Sync,
    T: Columns,
    R: FromRow + Row<T> + Send + Sync,
{
    let ((parent_listing, parent_window), (listing, window)) = (parents, children);
    if db.get_database_backend() != DbBackend::Postgres {
        let parents = page(db, parent_listing, parent_window).await?;
        let ids: Vec<Uuid> = parents.edges.iter().map(|e| id_of(&e.node)).collect();
        let pages = pages_by_parent(db, listing, parent_column, &ids, window, parent_of).await?;
        return Ok((parents, pages));
    }
    let mut sql = Sql::new(DbBackend::Postgres);
    let page_width = author_width(listing.authors) + T::WIDTH;
    sql.push("WITH parent AS (");
    branch(&mut sql, parent_listing, Scope::All, parent_window);
    sql.push(") SELECT parent.*")
        .push(&", NULL".repeat(page_width))
        .push(" FROM parent UNION ALL SELECT ")
        .push(&"NULL, ".repeat(P::WIDTH))
        .push("children.* FROM (SELECT id AS parent FROM parent");
    // The row past the page only says that more parents exist: its children are not read.
    order_and_limit(
        &mut sql,
        parent_listing.ordering.keys,
        parent_window,
        parent_window.limit,
    );
    sql.push(") AS p CROSS JOIN LATERAL (");
    authored_branch(&mut sql, listing, Scope::Outer(parent_column), window);
    sql.push(") AS children");
    let rows = db.query_all_raw(sql.statement()).await?;
    let (parents, children) = rows::parents_and_children::<P, R>(&rows)?;
    let ids = parents.iter().map(&id_of);
    let pages = pages_of(ids, children, parent_of, window, listing.ordering);
    Ok((
        Page::from_rows(parents, parent_window, parent_listing.ordering),
        pages,
    ))
}

fn author_width(authors: Authors) -> usize {
    match authors {
        Authors::Skip => 0,
        Authors::Card => Card::WIDTH,
        Authors::Full => entity::user::Model::WIDTH,
    }
}

/// Starts `SELECT <author columns>, page.* FROM (`: the page's own statement goes inside,
/// so the join touches only the rows of the page. The author's columns come first:
/// `rows::Columns` reads joined rows by position, and tells a card from a full row by
/// the row's width.
fn open_author_join(sql: &mut Sql, authors: Authors) {
    fn select(columns: impl Iterator<Item = entity::user::Column>) -> String {
        let columns: String = columns
            .map(|column| {
                let name = column.as_str();
                format!("author.{name} AS author__{name}, ")
            })
            .collect();
        format!("SELECT {columns}page.* FROM (")
    }
    static CARD: LazyLock<String> = LazyLock::new(|| select(Card::COLUMNS.into_iter()));
    static FULL: LazyLock<String> = LazyLock::new(|| select(entity::user::Column::iter()));
    sql.push(if authors == Authors::Card {
        &CARD
    } else {
        &FULL
    });
}

fn close_author_join(sql: &mut Sql) {
    sql.push(") AS page LEFT JOIN \"user\" AS author ON author.id = page.author_id");
}

/// One page's statement, with its rows' authors joined as far as the listing asks.
fn authored_branch<T>(sql: &mut Sql, listing: &Listing<'_, T>, scope: Scope, window: &Window) {
    let join = listing.authors != Authors::Skip;
    if join {
        open_author_join(sql, listing.authors);
    }
    branch(sql, listing, scope, window);
    if join {
        close_author_join(sql);
    }
}

/// Which rows of the table a page ranges over.
enum Scope {
    All,
    /// `column = value`.
    Is(&'static str, Value),
    /// `column = p.parent`, the parent of a `LATERAL` join.
    Outer(&'static str),
    /// `column = (SELECT id FROM table WHERE key = value)`: the id of a parent found by
    /// another of its unique columns.
    Of(&'static str, &'static str, &'static str, Value),
}

fn branch<T>(sql: &mut Sql, listing: &Listing<'_, T>, scope: Scope, window: &Window) {
    sql.push("SELECT * FROM ")
        .push(listing.table)
        .push(" WHERE ");
    let mut and = Separator::new(" AND ");
    match scope {
        Scope::All => {}
        Scope::Is(column, value) => {
            sql.push(and.next()).push(column).push(" = ").bind(value);
        }
        Scope::Outer(column) => {
            sql.push(and.next()).push(column).push(" = p.parent");
        }
        Scope::Of(column, table, key, value) => {
            sql.push(and.next())
                .push(column)
                .push(" = (SELECT parent.id FROM ")
                .push(table)
                .push(" AS parent WHERE parent.")
                .push(key)
                .push(" = ")
                .bind(value)
                .push(")");
        }
    }
    for condition in listing.filters {
        sql.push(and.next()).push(condition);
    }
    let keys = listing.ordering.keys;
    if let Some(cursor) = &window.after {
        sql.push(and.next());
        past_cursor(sql, keys, &cursor.keys, true);
    }
    if let Some(cursor) = &window.before {
        sql.push(and.next());
        past_cursor(sql, keys, &cursor.keys, false);
    }
    if and.is_first() {
        sql.push("1 = 1");
    }
    order_and_limit(sql, keys, window, window.limit + u64::from(window.probe));
}

/// ` ORDER BY <keys in the window's direction> LIMIT <limit>`.
fn order_and_limit<T>(sql: &mut Sql, keys: &[SortKey<T>], window: &Window, limit: u64) {
    sql.push(" ORDER BY ");
    let mut comma = Separator::new(", ");
    for key in keys {
        let descending = key.descending != window.backward;
        sql.push(comma.next())
            .push(key.column)
            .push(if descending { " DESC" } else { " ASC" });
    }
    // A literal, not a parameter: the planner sees the page size, and a statement's text
    // (hence its cached plan) differs only by it.
    sql.push(&format!(" LIMIT {limit}"));
}

/// Rows strictly after (`forward`) or before the row whose sort keys are `values` in the
/// ordering. When all keys run the same way this is one row comparison, which both
/// backends turn into an index range; mixed directions bound the first key and compare
/// the rest.
fn past_cursor<T>(sql: &mut Sql, keys: &[SortKey<T>], values: &[Key], forward: bool) {
    let op = |key: &SortKey<T>| if key.descending == forward { "<" } else { ">" };
    let (first, rest) = match keys.split_first() {
        Some(split) => split,
        None => return,
    };
    if rest.is_empty() {
        sql.push(first.column).push(" ").push(op(first)).push(" ");
        bind_key(sql, &values[0]);
    } else if rest.iter().all(|k| k.descending == first.descending) {
        // SQLite matches a row comparison to an index only element by element on columns:
        // with an expression first (TOP's `(-score)`) it bounds the scan by nothing. The
        // first key's own bound, implied by the comparison, gives it the range.
        let bounded = sql.backend() == DbBackend::Sqlite && first.column.starts_with('(');
        if bounded {
            let bound = if first.descending == forward {
                " <= "
            } else {
                " >= "
            };
            sql.push("(").push(first.column).push(bound);
            bind_key(sql, &values[0]);
            sql.push(" AND ");
        }
        sql.push("(");
        let mut comma = Separator::new(", ");
        for key in keys {
            sql.push(comma.next()).push(key.column);
        }
        sql.push(") ").push(op(first)).push(" (");
        let mut comma = Separator::new(", ");
        for value in values {
            sql.push(comma.next());
            bind_key(sql, value);
        }
        sql.push(if bounded { "))" } else { ")" });
    } else if matches!(values[0], Key::Bool(b) if b == (op(first) == ">")) {
        // Nothing lies past this bool in the walk's direction (`is_pinned` false, walking
        // down): the rest of the walk is its group, one index range. The form below would
        // read the group from its start to the cursor on every page.
        sql.push("(").push(first.column).push(" = ");
        bind_key(sql, &values[0]);
        sql.push(" AND ");
        past_cursor(sql, rest, &values[1..], forward);
        sql.push(")");
    } else {
        let column = first.column;
        sql.push("(")
            .push(column)
            .push(" ")
            .push(op(first))
            .push("= ");
        bind_key(sql, &values[0]);
        sql.push(" AND (")
            .push(column)
            .push(" ")
            .push(op(first))
            .push(" ");
        bind_key(sql, &values[0]);
        sql.push(" OR ");
        past_cursor(sql, rest, &values[1..], forward);
        sql.push("))");
    }
}

fn bind_key(sql: &mut Sql, key: &Key) {
    match key {
        Key::Bool(b) => sql.bind(*b),
        Key::Int(n) => sql.bind(*n),
        Key::Time(micros) => sql.bind(clock::from_micros(*micros)),
        Key::Uuid(id) => sql.bind(*id),
        Key::Text(s) => sql.bind(s.clone()),
    };
}

/// Yields "" the first time and the separator afterwards.
struct Separator {
    text: &'static str,
    first: bool,
}

impl Separator {
    fn new(text: &'static str) -> Self {
        Self { text, first: true }
    }

    fn next(&mut self) -> &'static str {
        if std::mem::take(&mut self.first) {
            ""
        } else {
            self.text
        }
    }

    fn is_first(&self) -> bool {
        self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        category::BY_NAME,
        page::{KeyKind, PageRequest},
    };

    fn text(window: &Window) -> String {
        let listing = Listing {
            table: "categories",
            ordering: &BY_NAME,
            filters: &[],
            authors: Authors::Skip,
        };
        let mut sql = Sql::new(DbBackend::Postgres);
        branch(&mut sql, &listing, Scope::All, window);
        sql.statement().sql
    }

    /// Pinned first, then oldest: the shape of `threads(orderBy: OLDEST)`.
    const PINNED_THEN_OLDEST: &[SortKey<()>] = &[
        SortKey {
            column: "is_pinned",
            kind: KeyKind::Bool,
            descending: true,
            read: |_| Key::Bool(false),
        },
        SortKey {
            column: "created_at",
            kind: KeyKind::Int,
            descending: false,
            read: |_| Key::Int(0),
        },
    ];

    fn past(pinned: bool, forward: bool) -> String {
        let mut sql = Sql::new(DbBackend::Postgres);
        past_cursor(
            &mut sql,
            PINNED_THEN_OLDEST,
            &[Key::Bool(pinned), Key::Int(7)],
            forward,
        );
        sql.statement().sql
    }

    #[test]
    fn a_bool_with_nothing_past_it_bounds_one_group() {
        // Unpinned, walking on: only the unpinned rows are left, one range of the index.
        assert_eq!(past(false, true), "(is_pinned = $1 AND created_at > $2)");
        // Pinned, walking back: only the pinned ones.
        assert_eq!(past(true, false), "(is_pinned = $1 AND created_at < $2)");
        // Otherwise both groups are left.
        assert_eq!(
            past(true, true),
            "(is_pinned <= $1 AND (is_pinned < $2 OR created_at > $3))"
        );
        assert_eq!(
            past(false, false),
            "(is_pinned >= $1 AND (is_pinned > $2 OR created_at < $3))"
        );
    }

    #[test]
    fn sqlite_gets_an_expression_key_s_own_bound() {
        const TOP: &[SortKey<()>] = &[
            SortKey {
                column: "(-score)",
                kind: KeyKind::Int,
                descending: false,
                read: |_| Key::Int(0),
            },
            SortKey {
                column: "id",
                kind: KeyKind::Int,
                descending: false,
                read: |_| Key::Int(0),
            },
        ];
        let text = |backend, forward| {
            let mut sql = Sql::new(backend);
            past_cursor(&mut sql, TOP, &[Key::Int(-3), Key::Int(7)], forward);
            sql.statement().sql
        };
        assert_eq!(
            text(DbBackend::Sqlite, true),
            "((-score) >= ? AND ((-score), id) > (?, ?))"
        );
        assert_eq!(
            text(DbBackend::Sqlite, false),
            "((-score) <= ? AND ((-score), id) < (?, ?))"
        );
        assert_eq!(text(DbBackend::Postgres, true), "((-score), id) > ($1, $2)");
    }

    #[test]
    fn reads_the_row_past_the_page_only_when_probing() {
        let window = PageRequest::first(5).window(&BY_NAME).unwrap();
        assert!(text(&window).ends_with(" LIMIT 6"), "{}", text(&window));
        let window = window.probing(false);
        assert!(text(&window).ends_with(" LIMIT 5"), "{}", text(&window));
    }
}
