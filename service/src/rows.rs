//! Page rows read from the driver's rows by position.
//!
//! Pages read thousands of columns per request. Through SeaORM each one is a lookup by
//! name, and each NULL formats an error message first; through sqlx's `try_get` each
//! value has its column's type checked against the model's, which on Postgres cost about
//! a tenth of a front page's server time. The type of a column is the same in every row
//! of a statement, so here the first row checks each column's type (by the statement's
//! description, NULL or not) and the others decode without the check.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult};
use sqlx::{
    Column as _, Decode, Postgres, Row as _, Sqlite, Type, TypeInfo as _,
    error::BoxDynError,
    postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef},
    sqlite::{SqliteRow, SqliteTypeInfo, SqliteValueRef},
};

use crate::{
    page::{AuthorRow, Authored, Row},
    user::Card,
};

/// The rows of one statement, decoded.
pub trait FromRows: Sized {
    fn from_rows(rows: &[QueryResult]) -> Result<Vec<Self>, DbErr>;
}

impl<R: FromRow> FromRows for R {
    fn from_rows(rows: &[QueryResult]) -> Result<Vec<Self>, DbErr> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| read_row(row, 0, i == 0))
            .collect()
    }
}

/// One row read by position, from column `at` on. `check`: see `Read`.
pub trait FromRow: Sized {
    fn pg(row: &PgRow, at: usize, check: bool) -> Result<Self, sqlx::Error>;
    fn sqlite(row: &SqliteRow, at: usize, check: bool) -> Result<Self, sqlx::Error>;
}

/// A model whose columns are read in the entity's order (the order the author join lists
/// them in, and the table's order for `SELECT *`, which a migration test holds the
/// tables to).
pub trait Columns: FromRow {
    const WIDTH: usize;
}

/// One column of a driver row, by position.
trait Read: sqlx::Row {
    /// With `check`, first makes sure that the column's type is one `T` decodes.
    fn read<'r, T>(&'r self, index: usize, check: bool) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, Self::Database> + sqlx::Type<Self::Database>;

    fn is_null(&self, index: usize) -> Result<bool, sqlx::Error>
    where
        usize: sqlx::ColumnIndex<Self>,
    {
        Ok(sqlx::ValueRef::is_null(&self.try_get_raw(index)?))
    }
}

impl Read for PgRow {
    fn read<'r, T>(&'r self, index: usize, check: bool) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        if check {
            let column = self.try_column(index)?.type_info();
            if !column.is_null() && !T::compatible(column) {
                return Err(sqlx::Error::ColumnDecode {
                    index: index.to_string(),
                    source: format!(
                        "the model reads {}, the column is {}",
                        T::type_info().name(),
                        column.name()
                    )
                    .into(),
                });
            }
        }
        self.try_get_unchecked(index)
    }
}

impl Read for SqliteRow {
    /// SQLite types values, not columns: every value is checked.
    fn read<'r, T>(&'r self, index: usize, _: bool) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        self.try_get(index)
    }
}

fn driver_row<M>(
    row: &QueryResult,
    pg: impl FnOnce(&PgRow) -> Result<M, sqlx::Error>,
    sqlite: impl FnOnce(&SqliteRow) -> Result<M, sqlx::Error>,
) -> Result<M, DbErr> {
    let read = if let Some(row) = row.try_as_pg_row() {
        pg(row)
    } else if let Some(row) = row.try_as_sqlite_row() {
        sqlite(row)
    } else {
        return Err(DbErr::Type(
            "page rows are read from Postgres or SQLite only".to_owned(),
        ));
    };
    read.map_err(|e| DbErr::Type(format!("reading a page row: {e}")))
}

fn read_row<M: FromRow>(row: &QueryResult, at: usize, check: bool) -> Result<M, DbErr> {
    driver_row(
        row,
        |row| M::pg(row, at, check),
        |row| M::sqlite(row, at, check),
    )
}

/// The rows of a statement that returns parents and their children: a parent's row is
/// its columns (its id first) then NULLs, a child's is `P::WIDTH` NULLs then its own
/// (`keyset::parent_with_page`). Column types are checked on the first of each.
pub(crate) fn parents_and_children<P: Columns, C: FromRow>(
    rows: &[QueryResult],
) -> Result<(Vec<P>, Vec<C>), DbErr> {
    let mut parents = Vec::new();
    let mut children = Vec::with_capacity(rows.len());
    for row in rows {
        if driver_row(row, |row| row.is_null(0), |row| row.is_null(0))? {
            children.push(read_row(row, P::WIDTH, children.is_empty())?);
        } else {
            parents.push(read_row(row, 0, parents.is_empty())?);
        }
    }
    Ok((parents, children))
}

impl<T: Columns> FromRow for Authored<T> {
    /// With the join, the author's columns come first (its id is NULL only if the author
    /// row is missing), a card's or the whole row's: the row's width tells which. Without
    /// it the row is the page's own, and the author is left to the loader.
    fn pg(row: &PgRow, at: usize, check: bool) -> Result<Self, sqlx::Error> {
        Self::read(row, at, check, T::pg, Card::pg, entity::user::Model::pg)
    }

    fn sqlite(row: &SqliteRow, at: usize, check: bool) -> Result<Self, sqlx::Error> {
        let (card, full) = (Card::sqlite, entity::user::Model::sqlite);
        Self::read(row, at, check, T::sqlite, card, full)
    }
}

type ReadAt<R, M> = fn(&R, usize, bool) -> Result<M, sqlx::Error>;

// Widths tell a card from a full row.
const _: () = assert!(Card::WIDTH != entity::user::Model::WIDTH);

impl<T: Columns> Authored<T> {
    fn read<R: Read>(
        row: &R,
        at: usize,
        check: bool,
        read: ReadAt<R, T>,
        read_card: ReadAt<R, Card>,
        read_full: ReadAt<R, entity::user::Model>,
    ) -> Result<Self, sqlx::Error>
    where
        usize: sqlx::ColumnIndex<R>,
    {
        let author_width = row.len().checked_sub(at + T::WIDTH).ok_or_else(|| {
            sqlx::Error::Decode(format!("a row of {} columns is too narrow", row.len()).into())
        })?;
        if author_width == 0 {
            return Ok(Self {
                row: read(row, at, check)?,
                author: None,
            });
        }
        // The author's id is NULL only when the join found no author row.
        let author = match row.is_null(at)? {
            true => None,
            false if author_width == Card::WIDTH => {
                Some(AuthorRow::Card(read_card(row, at, check)?))
            }
            false if author_width == entity::user::Model::WIDTH => {
                Some(AuthorRow::Full(read_full(row, at, check)?))
            }
            false => {
                return Err(sqlx::Error::Decode(
                    format!("{author_width} author columns are neither a card nor a user").into(),
                ));
            }
        };
        Ok(Self {
            row: read(row, at + author_width, check)?,
            author,
        })
    }
}

/// Models that are page rows by themselves (no join).
macro_rules! rows_of_themselves {
    ($($model:ty),*) => {$(
        impl Row<$model> for $model {
            fn row(&self) -> &$model {
                self
            }
        }
    )*};
}

rows_of_themselves!(
    entity::user::Model,
    entity::category::Model,
    entity::thread::Model,
    entity::reply::Model
);

/// A `timestamptz` read straight from its binary form, microseconds since 2000-01-01
/// UTC. sqlx builds it through calendar arithmetic, a few percent of a page's server
/// time, whose `+` panics on overflow (as `infinity` would be).
struct Instant(DateTime<Utc>);

const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl Type<Postgres> for Instant {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Instant {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.format() != PgValueFormat::Binary {
            return <DateTime<Utc> as Decode<Postgres>>::decode(value).map(Self);
        }
        let micros = i64::from_be_bytes(value.as_bytes()?.try_into()?);
        micros
            .checked_add(POSTGRES_EPOCH_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .map(Self)
            .ok_or_else(|| "timestamp out of range".into())
    }
}

impl Type<Sqlite> for Instant {
    fn type_info() -> SqliteTypeInfo {
        <DateTime<Utc> as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <DateTime<Utc> as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for Instant {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<Sqlite>>::decode(value).map(Self)
    }
}

/// An enum stored as its string value.
fn active_enum<E: sea_orm::ActiveEnum<Value = String>>(value: String) -> Result<E, sqlx::Error> {
    E::try_from_value(&value).map_err(|e| sqlx::Error::Decode(e.to_string().into()))
}

macro_rules! columns {
    ($model:ty, $width:expr, |$row:ident, $at:ident, $check:ident| $body:expr) => {
        impl Columns for $model {
            const WIDTH: usize = $width;
        }

        impl FromRow for $model {
            fn pg($row: &PgRow, $at: usize, $check: bool) -> Result<Self, sqlx::Error> {
                Ok($body)
            }

            fn sqlite($row: &SqliteRow, $at: usize, $check: bool) -> Result<Self, sqlx::Error> {
                Ok($body)
            }
        }
    };
}

columns!(entity::user::Model, 12, |row, at, c| entity::user::Model {
    id: row.read(at, c)?,
    email: row.read(at + 1, c)?,
    username: row.read(at + 2, c)?,
    first_name: row.read(at + 3, c)?,
    last_name: row.read(at + 4, c)?,
    image_url: row.read(at + 5, c)?,
    role: active_enum(row.read(at + 6, c)?)?,
    role_override: match row.read::<Option<String>>(at + 7, c)? {
        Some(value) => Some(active_enum(value)?),
        None => None,
    },
    source_version: row.read(at + 8, c)?,
    deleted_at: row.read::<Option<Instant>>(at + 9, c)?.map(|t| t.0),
    created_at: row.read::<Instant>(at + 10, c)?.0,
    updated_at: row.read::<Instant>(at + 11, c)?.0,
});

columns!(Card, 6, |row, at, c| Card {
    id: row.read(at, c)?,
    username: row.read(at + 1, c)?,
    first_name: row.read(at + 2, c)?,
    last_name: row.read(at + 3, c)?,
    image_url: row.read(at + 4, c)?,
    deleted_at: row.read::<Option<Instant>>(at + 5, c)?.map(|t| t.0),
});

columns!(entity::category::Model, 5, |row, at, c| {
    entity::category::Model {
        id: row.read(at, c)?,
        slug: row.read(at + 1, c)?,
        name: row.read(at + 2, c)?,
        created_at: row.read::<Instant>(at + 3, c)?.0,
        thread_count: row.read(at + 4, c)?,
    }
});

columns!(entity::thread::Model, 10, |row, at, c| {
    entity::thread::Model {
        id: row.read(at, c)?,
        category_id: row.read(at + 1, c)?,
        author_id: row.read(at + 2, c)?,
        title: row.read(at + 3, c)?,
        status: active_enum(row.read(at + 4, c)?)?,
        is_pinned: row.read(at + 5, c)?,
        created_at: row.read::<Instant>(at + 6, c)?.0,
        edited_at: row.read::<Option<Instant>>(at + 7, c)?.map(|t| t.0),
        last_activity_at: row.read::<Instant>(at + 8, c)?.0,
        reply_count: row.read(at + 9, c)?,
    }
});

columns!(entity::reply::Model, 10, |row, at, c| {
    entity::reply::Model {
        id: row.read(at, c)?,
        thread_id: row.read(at + 1, c)?,
        author_id: row.read(at + 2, c)?,
        body: row.read(at + 3, c)?,
        created_at: row.read::<Instant>(at + 4, c)?.0,
        edited_at: row.read::<Option<Instant>>(at + 5, c)?.map(|t| t.0),
        deleted_at: row.read::<Option<Instant>>(at + 6, c)?.map(|t| t.0),
        score: row.read(at + 7, c)?,
        upvotes: row.read(at + 8, c)?,
        downvotes: row.read(at + 9, c)?,
    }
});

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Iterable, Statement};

    use super::*;

    /// The statement's column types are checked, on its first row, even where that row
    /// holds NULL: a value of another type is never decoded as the model's.
    #[tokio::test]
    async fn postgres_column_types_are_checked_on_the_first_row() {
        let Some(url) = std::env::var("TEST_DATABASE_URL").ok() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs TEST_DATABASE_URL"
            );
            return;
        };
        let db = Database::connect(&url).await.unwrap();
        let rows = |count: &str| {
            let sql = format!(
                "SELECT gen_random_uuid() AS id, 's' || g AS slug, 'N' AS name, \
                 now() AS created_at, {count} AS thread_count FROM generate_series(1, 3) g"
            );
            db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        };
        let read = entity::category::Model::from_rows(&rows("g").await.unwrap()).unwrap();
        let age = chrono::Utc::now() - read[0].created_at;
        assert!(age.num_seconds().abs() < 60, "{read:?}");
        let counts: Vec<i32> = read.iter().map(|c| c.thread_count).collect();
        assert_eq!(counts, [1, 2, 3]);
        assert_eq!(read[2].slug, "s3");

        // Timestamps from their binary form, to the microsecond, before 2000 too.
        for text in [
            "2024-02-29 23:59:59.999999+00",
            "1969-07-20 20:17:40.000001+00",
        ] {
            let sql = format!("SELECT '{text}'::timestamptz AS t");
            let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql));
            let row = row.await.unwrap().unwrap();
            let pg = row.try_as_pg_row().unwrap();
            let instant = pg.read::<Instant>(0, true).unwrap().0;
            let expected = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z").unwrap();
            assert_eq!(instant, expected);
        }

        let wider = "CASE WHEN g = 1 THEN NULL ELSE g::bigint END";
        let err = entity::category::Model::from_rows(&rows(wider).await.unwrap()).unwrap_err();
        assert!(err.to_string().contains("the column is INT8"), "{err}");
    }

    #[test]
    fn widths_are_the_entities_column_counts() {
        use entity::{category, reply, thread, user};
        assert_eq!(user::Model::WIDTH, user::Column::iter().count());
        assert_eq!(category::Model::WIDTH, category::Column::iter().count());
        assert_eq!(thread::Model::WIDTH, thread::Column::iter().count());
        assert_eq!(reply::Model::WIDTH, reply::Column::iter().count());
        assert_eq!(Card::WIDTH, Card::COLUMNS.len());
    }
}
