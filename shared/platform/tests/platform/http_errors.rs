//! problem+json bodies for every error kind, JSON body rejections, panics, timeouts and unknown
//! routes, as a client sees them through the standard stack.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;
use trainyard_core::Rejection;
use trainyard_platform::http::{
    app, ApiError, Json, Ops, ProblemDetails, RequestDeadline, PROBLEM_JSON,
};
use trainyard_platform::metrics::Metrics;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct NewTemplate {
    name: String,
    settings: Settings,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Settings {
    batch_size: u32,
}

async fn fail(kind: &str) -> Result<&'static str, ApiError> {
    Err(match kind {
        "rejection" => Rejection::new("invalid_name", "names allow letters, digits, -, _ and .")
            .field("name")
            .into(),
        "bad_request" => ApiError::bad_request("bad_query", "page must be a number"),
        "not_found" => Rejection::not_found("template_not_found", "no such template").into(),
        "conflict" => Rejection::conflict("name_taken", "the name is taken")
            .field("name")
            .into(),
        "unauthenticated" => ApiError::unauthenticated("a bearer token is required"),
        "forbidden" => ApiError::forbidden("training templates: create is not granted"),
        "too_large" => ApiError::PayloadTooLarge(
            Rejection::new("upload_too_large", "the archive is over the limit").field("body"),
        ),
        "unavailable" => ApiError::unavailable(anyhow::anyhow!(
            "nats: connection refused (secret host 10.0.0.7)"
        )),
        _ => ApiError::internal(anyhow::anyhow!("pool exhausted at db.internal:5432")),
    })
}

async fn create(Json(_body): Json<NewTemplate>) -> &'static str {
    "created"
}

async fn panics() -> &'static str {
    panic!("index out of bounds")
}

async fn slow() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

/// Takes longer than the request timeout after lifting it, as an upload handler does.
async fn lifted(deadline: RequestDeadline) -> &'static str {
    assert!(deadline.at().is_some());
    deadline.lift();
    assert!(deadline.at().is_none());
    tokio::time::sleep(Duration::from_millis(600)).await;
    "done"
}

fn router() -> Router {
    let api = Router::new()
        .route(
            "/fail/{kind}",
            get(
                |axum::extract::Path(kind): axum::extract::Path<String>| async move {
                    fail(&kind).await
                },
            ),
        )
        .route("/templates", post(create))
        .route("/panic", get(panics))
        .route("/slow", get(slow))
        .route("/lifted", get(lifted));
    app(api, Ops::new(Metrics::new()), Duration::from_millis(300))
}

async fn call(request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = router().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, content_type, value)
}

async fn get_path(path: &str) -> (StatusCode, Option<String>, Value) {
    call(Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post_json(body: &str, content_type: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::post("/templates");
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    call(request.body(Body::from(body.to_owned())).unwrap()).await
}

fn problem(value: Value) -> ProblemDetails {
    serde_json::from_value(value).expect("a problem+json body")
}

#[tokio::test]
async fn each_error_kind_has_its_status_code_and_shape() {
    let cases = [
        ("rejection", 422, "invalid_name", Some("name")),
        ("bad_request", 400, "bad_query", None),
        ("not_found", 404, "template_not_found", None),
        ("conflict", 409, "name_taken", Some("name")),
        ("unauthenticated", 401, "unauthenticated", None),
        ("forbidden", 403, "forbidden", None),
        ("too_large", 413, "upload_too_large", Some("body")),
        ("unavailable", 503, "unavailable", None),
        ("internal", 500, "internal", None),
    ];
    for (kind, status, code, field) in cases {
        let path = format!("/fail/{kind}");
        let (got_status, content_type, body) = get_path(&path).await;
        assert_eq!(got_status.as_u16(), status, "{kind}");
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON), "{kind}");
        let p = problem(body.clone());
        assert_eq!(p.status, status, "{kind}");
        assert_eq!(p.code, code, "{kind}");
        assert_eq!(p.problem_type, format!("urn:trainyard:problem:{code}"));
        assert_eq!(p.field.as_deref(), field, "{kind}");
        assert_eq!(p.instance.as_deref(), Some(path.as_str()), "{kind}");
        assert!(!p.title.is_empty() && !p.detail.is_empty(), "{kind}");
        let text = body.to_string();
        assert!(
            !text.contains("10.0.0.7") && !text.contains("db.internal"),
            "{kind} leaks its cause: {text}"
        );
    }
}

#[tokio::test]
async fn json_body_errors_are_invalid_body_naming_the_field() {
    let (status, ct, body) = post_json(
        r#"{"name": "ocr", "settings": {"batch_size": "big"}}"#,
        Some("application/json"),
    )
    .await;
    assert_eq!(
        (status, ct.as_deref()),
        (StatusCode::BAD_REQUEST, Some(PROBLEM_JSON))
    );
    let p = problem(body);
    assert_eq!(
        (p.code.as_str(), p.field.as_deref()),
        ("invalid_body", Some("settings.batch_size"))
    );

    let (_, _, body) = post_json(
        r#"{"settings": {"batch_size": 4}}"#,
        Some("application/json"),
    )
    .await;
    let p = problem(body);
    assert_eq!(
        (p.code.as_str(), p.field.as_deref()),
        ("invalid_body", Some("name"))
    );

    let (status, _, body) = post_json(r#"{"name": "ocr", "#, Some("application/json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem(body).code, "invalid_body");

    let (status, _, body) = post_json(r#"{"name": "ocr"}"#, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let p = problem(body);
    assert_eq!(p.code, "invalid_body");
    assert!(p.detail.contains("application/json"), "{}", p.detail);
}

#[tokio::test]
async fn panics_timeouts_and_unknown_routes_are_problems() {
    let (status, ct, body) = get_path("/panic").await;
    assert_eq!(
        (status, ct.as_deref()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some(PROBLEM_JSON))
    );
    let p = problem(body.clone());
    assert_eq!(p.code, "internal");
    assert!(!body.to_string().contains("index out of bounds"));

    let (status, _, body) = get_path("/slow").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem(body).code, "timeout");

    // A handler may lift the limit for its own request; the others keep it.
    let response = router()
        .oneshot(Request::get("/lifted").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = to_bytes(response.into_body(), 1 << 10).await.unwrap();
    assert_eq!(&body[..], b"done");

    let (status, ct, body) = get_path("/no/such/route").await;
    assert_eq!(
        (status, ct.as_deref()),
        (StatusCode::NOT_FOUND, Some(PROBLEM_JSON))
    );
    assert_eq!(problem(body).instance.as_deref(), Some("/no/such/route"));
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let response = router()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    let given = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let response = router().oneshot(given).await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
}

#[test]
fn problem_details_has_an_openapi_schema() {
    use utoipa::PartialSchema;
    let schema = serde_json::to_value(ProblemDetails::schema()).unwrap();
    let properties = schema["properties"].as_object().expect("an object schema");
    for key in [
        "type", "title", "status", "detail", "code", "field", "instance",
    ] {
        assert!(properties.contains_key(key), "schema lacks {key}: {schema}");
    }
}
