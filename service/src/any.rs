//! `column IN (…)` that keeps one statement text on Postgres: `column = ANY($1)` with an
//! array, so a batch of any size reuses one prepared statement. One key, the most common
//! batch (a page's thread, a viewer's user), is `column = $1` instead: Postgres plans
//! `= ANY($1)` anew on every execution (it cannot cost a generic plan for an array of
//! unknown length), which measured 2.6× the Postgres CPU of `= $1` for the same row.
//! SQLite has no arrays and gets the plain list.

use sea_orm::{
    ColumnTrait, DbBackend, Value,
    sea_query::{Expr, ExprTrait, extension::postgres::PgFunc},
};

pub(crate) fn any_of<C, V>(backend: DbBackend, column: C, mut values: Vec<V>) -> Expr
where
    C: ColumnTrait,
    V: Into<Value>,
    Vec<V>: Into<Value>,
{
    if backend == DbBackend::Postgres
        && values.len() == 1
        && let Some(one) = values.pop()
    {
        return Expr::col(column).eq(Expr::val(one));
    }
    match backend {
        DbBackend::Postgres => Expr::col(column).eq(PgFunc::any(Expr::val(values))),
        _ => column.is_in(values),
    }
}

#[cfg(test)]
mod tests {
    use entity::thread;
    use sea_orm::{EntityTrait, QueryFilter, QueryTrait};
    use uuid::Uuid;

    use super::*;

    fn text(backend: DbBackend, ids: Vec<Uuid>) -> String {
        thread::Entity::find()
            .filter(any_of(backend, thread::Column::Id, ids))
            .build(backend)
            .sql
    }

    #[test]
    fn one_key_is_an_equality_and_more_are_one_array() {
        let (a, b) = (Uuid::nil(), Uuid::max());
        let one = text(DbBackend::Postgres, vec![a]);
        assert!(one.ends_with(r#"WHERE "id" = $1"#), "{one}");
        let many = text(DbBackend::Postgres, vec![a, b]);
        assert!(many.ends_with(r#"WHERE "id" = ANY($1)"#), "{many}");
        let sqlite = text(DbBackend::Sqlite, vec![a, b]);
        assert!(
            sqlite.ends_with(r#"WHERE "threads"."id" IN (?, ?)"#),
            "{sqlite}"
        );
    }
}
