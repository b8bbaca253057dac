//! A JSON client for black-box tests of a service's API: status and body of each call, bearer
//! tokens, assertions for calls that must succeed, and whole lists read page by page.

use serde_json::Value;

/// Calls one service (or the single-process binary) at `base`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl ApiClient {
    /// A client of `base` (e.g. `http://127.0.0.1:40123`), without a token.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            http: reqwest::Client::new(),
            token: None,
        }
    }

    /// The same client calling with `token`.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same client calling another base URL (a restarted service on another port).
    pub fn with_base(&self, base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            ..self.clone()
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The underlying HTTP client, for requests that are not JSON.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Status and JSON body (`Null` when empty or not JSON); `Err` when no answer came back.
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let method = method.parse().unwrap_or_else(|_| panic!("method {method}"));
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Status and JSON body; panics when no answer came back.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"))
    }

    /// A call with `token` instead of this client's.
    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.with_token(token).call(method, path, body).await
    }

    /// A call that must succeed (2xx); returns the body.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// Every item of a paginated list (`items`, `next_offset`), page by page.
    pub async fn all(&self, path: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .ok(
                    "GET",
                    &format!("{path}{separator}limit=200&offset={offset}"),
                    None,
                )
                .await;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_offset"].as_u64() {
                Some(next) => offset = next,
                None => return items,
            }
        }
    }
}
