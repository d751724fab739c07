//! `column IN (…)` that keeps one statement text on Postgres: `column = ANY($1)` with an
//! array, so a batch of any size reuses one prepared statement. One key, the most common
//! batch (a page's thread, a viewer's user), is `column = $1` instead: Postgres plans
//! `= ANY($1)` anew on every execution (it cannot cost a generic plan for an array of
//! unknown length), which measured 2.6× the Postgres CPU of `= $1` for the same row.
//! SQLite has no arrays and gets the plain list.
//!
//! `by_keys` is the same lookup written directly (no query builder) and read by position
//! (`rows`), for the loaders that run on nearly every request.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, Value,
    sea_query::{Expr, ExprTrait, extension::postgres::PgFunc},
};

use crate::{Result, rows::FromRows, sql::Sql};

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

/// The rows of `table` (`SELECT *`, read by position) whose `column` is one of `keys`.
pub(crate) async fn by_keys<M, V>(
    db: &impl ConnectionTrait,
    table: &str,
    column: &str,
    keys: &[V],
) -> Result<Vec<M>>
where
    M: FromRows,
    V: Clone + Into<Value>,
    Vec<V>: Into<Value>,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT * FROM ").push(table).push(" WHERE ");
    where_in(&mut sql, column, keys);
    Ok(M::from_rows(&db.query_all_raw(sql.statement()).await?)?)
}

fn where_in<V>(sql: &mut Sql, column: &str, keys: &[V])
where
    V: Clone + Into<Value>,
    Vec<V>: Into<Value>,
{
    sql.push(column);
    match keys {
        [one] => {
            sql.push(" = ").bind(one.clone());
        }
        _ if sql.backend() == DbBackend::Postgres => {
            sql.push(" = ANY(").bind(keys.to_vec()).push(")");
        }
        _ => {
            sql.push(" IN (");
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(key.clone());
            }
            sql.push(")");
        }
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

    #[test]
    fn keys_written_directly_the_same_way() {
        let text = |backend, keys: &[Uuid]| {
            let mut sql = Sql::new(backend);
            where_in(&mut sql, "id", keys);
            let statement = sql.statement();
            (statement.sql, statement.values.map_or(0, |v| v.0.len()))
        };
        let (a, b) = (Uuid::nil(), Uuid::max());
        let pg = DbBackend::Postgres;
        assert_eq!(text(pg, &[a]), ("id = $1".to_owned(), 1));
        assert_eq!(text(pg, &[a, b]), ("id = ANY($1)".to_owned(), 1));
        let sqlite = DbBackend::Sqlite;
        assert_eq!(text(sqlite, &[a]), ("id = ?".to_owned(), 1));
        assert_eq!(text(sqlite, &[a, b]), ("id IN (?, ?)".to_owned(), 2));
    }
}
