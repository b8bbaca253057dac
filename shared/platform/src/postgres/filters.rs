//! List queries that name only the filters a request sets. A fixed query of the form
//! `($1 IS NULL OR column = $1)` gets a generic plan that cannot use an index for the filter or
//! the order, so every page sorted the whole table; naming only the set filters lets PostgreSQL
//! walk an index in `ORDER BY` order and stop after one page. Statements are prepared once per
//! connection, so a page costs one round trip.

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::PostgresError;

type Param = Box<dyn ToSql + Sync + Send>;

/// `WHERE` conditions and their parameters, numbered in order.
#[derive(Default)]
pub struct Filters {
    conditions: Vec<String>,
    params: Vec<Param>,
}

/// One page of a list: `LIMIT` rows after skipping `OFFSET` (see `http::PageQuery`, which asks for
/// one row more than it shows to learn whether another page follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: i64,
    pub offset: i64,
}

impl Filters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `condition`, with `?` standing for `value`'s placeholder, when `value` is set.
    pub fn when<T: ToSql + Sync + Send + 'static>(
        &mut self,
        condition: &str,
        value: Option<T>,
    ) -> &mut Self {
        if let Some(value) = value {
            self.params.push(Box::new(value));
            let placeholder = format!("${}", self.params.len());
            self.conditions.push(condition.replace('?', &placeholder));
        }
        self
    }

    /// Adds `expression LIKE ?` for values starting with `prefix`, when it is set. `expression`
    /// decides the case rule (`lower(name)` with a lowercased prefix compares without case).
    pub fn starts_with(&mut self, expression: &str, prefix: Option<String>) -> &mut Self {
        let pattern = prefix.map(|p| {
            let escaped = p
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("{escaped}%")
        });
        self.when(&format!("{expression} LIKE ?"), pattern)
    }

    /// `SELECT {columns} FROM {table} WHERE … ORDER BY {order} LIMIT … OFFSET …`; limit and
    /// offset take the two placeholders after the filters'.
    pub fn page_sql(&self, columns: &str, table: &str, order: &str) -> String {
        let filter = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        };
        let n = self.params.len();
        format!(
            "SELECT {columns} FROM {table}{filter} ORDER BY {order} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        )
    }

    /// The rows of one page, through a statement prepared once per connection.
    pub async fn fetch_page(
        &self,
        pool: &Pool,
        columns: &str,
        table: &str,
        order: &str,
        window: Window,
    ) -> Result<Vec<Row>, PostgresError> {
        let sql = self.page_sql(columns, table, order);
        let mut params: Vec<&(dyn ToSql + Sync)> = self
            .params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        params.push(&window.limit);
        params.push(&window.offset);
        let client = pool.get().await?;
        let statement = client.prepare_cached(&sql).await?;
        Ok(client.query(&statement, &params).await?)
    }
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters")
            .field("conditions", &self.conditions)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::Filters;

    #[test]
    fn only_set_filters_are_named_and_numbered_in_order() {
        let mut filters = Filters::new();
        filters
            .when("tenant_id = ?", None::<uuid::Uuid>)
            .when("project_id = ?", Some(uuid::Uuid::nil()))
            .starts_with("lower(name)", Some("a%".into()));
        assert_eq!(
            filters.page_sql("id", "t", "lower(name), id"),
            "SELECT id FROM t WHERE project_id = $1 AND lower(name) LIKE $2 ORDER BY lower(name), id LIMIT $3 OFFSET $4"
        );
        assert_eq!(filters.params.len(), 2);
        let none = Filters::new().page_sql("id", "t", "id");
        assert_eq!(none, "SELECT id FROM t ORDER BY id LIMIT $1 OFFSET $2");
    }

    #[test]
    fn a_prefix_matches_its_wildcards_literally() {
        let mut filters = Filters::new();
        filters.starts_with("name", Some(r"50%_a\b".into()));
        let pattern = format!("{:?}", filters.params[0]);
        assert_eq!(pattern, r#""50\\%\\_a\\\\b%""#);
    }
}
