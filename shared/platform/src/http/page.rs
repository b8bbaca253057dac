//! Pagination shared by every list: `limit` (1–200, default 50) and `offset`, answered with the
//! items and the offset of the next page when there is one.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }

    pub fn offset(&self) -> i64 {
        self.offset.unwrap_or(0).max(0)
    }

    /// Fetches one row more than the page to learn whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit() + 1
    }

    /// The rows to fetch for this page (one more than shown, see [`PageQuery::fetch`]).
    pub fn window(&self) -> crate::postgres::Window {
        crate::postgres::Window {
            limit: self.fetch(),
            offset: self.offset(),
        }
    }

    pub fn page<T>(&self, mut items: Vec<T>) -> Page<T> {
        let limit = usize::try_from(self.limit()).unwrap_or(50);
        let more = items.len() > limit;
        items.truncate(limit);
        Page {
            items,
            next_offset: more.then(|| self.offset() + self.limit()),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `offset` for the next page; absent on the last page.
    pub next_offset: Option<i64>,
}
