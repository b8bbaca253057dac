//! List queries with only the filters a request sets. A fixed query of the form
//! `($1 IS NULL OR column = $1)` gets a generic plan that cannot use an index for the filter or
//! the order, so every page sorted the whole table; naming only the set filters lets PostgreSQL
//! walk an index in `ORDER BY` order and stop after one page.

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use trainyard_platform::http::ApiError;

use super::PageQuery;

/// `WHERE` conditions and their parameters, numbered in order.
#[derive(Default)]
pub struct Filters<'a> {
    conditions: Vec<String>,
    params: Vec<&'a (dyn ToSql + Sync)>,
}

impl<'a> Filters<'a> {
    /// Adds `condition` with `?` standing for `value`'s placeholder, when `value` is set.
    pub fn when<T: ToSql + Sync>(&mut self, condition: &str, value: &'a Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.params.push(value);
            let placeholder = format!("${}", self.params.len());
            self.conditions.push(condition.replace('?', &placeholder));
        }
        self
    }

    /// `SELECT {columns} FROM {table} WHERE … ORDER BY {order} LIMIT … OFFSET …`; limit and
    /// offset take the two placeholders after the filters'.
    fn page_sql(&self, columns: &str, table: &str, order: &str) -> String {
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

    /// The rows of one page. The statement is prepared once per connection, so a page costs one
    /// round trip, not a prepare and an execute.
    pub async fn fetch_page(
        &self,
        pool: &Pool,
        columns: &str,
        table: &str,
        order: &str,
        page: &PageQuery,
    ) -> Result<Vec<Row>, ApiError> {
        let sql = self.page_sql(columns, table, order);
        let (limit, offset) = (page.fetch(), page.offset());
        let mut params = self.params.clone();
        params.push(&limit);
        params.push(&offset);
        let client = pool.get().await.map_err(ApiError::unavailable)?;
        let statement = client
            .prepare_cached(&sql)
            .await
            .map_err(ApiError::unavailable)?;
        client
            .query(&statement, &params)
            .await
            .map_err(ApiError::unavailable)
    }
}

impl std::fmt::Debug for Filters<'_> {
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
        let (tenant, project, name): (Option<uuid::Uuid>, Option<uuid::Uuid>, Option<String>) =
            (None, Some(uuid::Uuid::nil()), Some("a%".into()));
        let mut filters = Filters::default();
        filters
            .when("tenant_id = ?", &tenant)
            .when("project_id = ?", &project)
            .when("lower(name) LIKE ?", &name);
        assert_eq!(
            filters.page_sql("id", "t", "lower(name), id"),
            "SELECT id FROM t WHERE project_id = $1 AND lower(name) LIKE $2 ORDER BY lower(name), id LIMIT $3 OFFSET $4"
        );
        assert_eq!(filters.params.len(), 2);
        let none = Filters::default().page_sql("id", "t", "id");
        assert_eq!(none, "SELECT id FROM t ORDER BY id LIMIT $1 OFFSET $2");
    }
}
