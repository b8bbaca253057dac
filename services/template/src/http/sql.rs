//! List queries with only the filters a request sets. A fixed query of the form
//! `($1 IS NULL OR column = $1)` gets a generic plan that cannot use an index for the filter or
//! the order, so every page sorted the whole table; naming only the set filters lets PostgreSQL
//! walk an index in `ORDER BY` order and stop after one page.

use tokio_postgres::types::ToSql;

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

    /// `SELECT {columns} FROM {table} WHERE … ORDER BY {order} LIMIT … OFFSET …`, with the
    /// parameters to pass. `limit` and `offset` are bound last.
    pub fn page_query(
        mut self,
        columns: &str,
        table: &str,
        order: &str,
        limit: &'a i64,
        offset: &'a i64,
    ) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
        let filter = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        };
        self.params.push(limit);
        self.params.push(offset);
        let n = self.params.len();
        let sql = format!(
            "SELECT {columns} FROM {table}{filter} ORDER BY {order} LIMIT ${} OFFSET ${n}",
            n - 1
        );
        (sql, self.params)
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
        let (limit, offset) = (51_i64, 0_i64);
        let mut filters = Filters::default();
        filters
            .when("tenant_id = ?", &tenant)
            .when("project_id = ?", &project)
            .when("lower(name) LIKE ?", &name);
        let (sql, params) = filters.page_query("id", "t", "lower(name), id", &limit, &offset);
        assert_eq!(
            sql,
            "SELECT id FROM t WHERE project_id = $1 AND lower(name) LIKE $2 ORDER BY lower(name), id LIMIT $3 OFFSET $4"
        );
        assert_eq!(params.len(), 4);
    }
}
