//! Extractors whose rejections are the shared JSON error body: malformed JSON is 400, a wrong shape
//! or an unknown field 422, an oversized body 413, a body that is not JSON 415, a bad query 400 and
//! a malformed path id 404.

use axum::extract::connect_info::Connected;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use patty_protocol::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;

/// A refused request, answered with the JSON error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: ErrorCode,
    /// What was wrong.
    pub message: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        error_response(self.status, self.code, self.message)
    }
}

/// The JSON error body with `status`.
pub fn error_response(status: StatusCode, code: ErrorCode, message: String) -> Response {
    (status, axum::Json(ErrorBody { message, code })).into_response()
}

/// The peer of a connection, plain or TLS: the `ConnectInfo` [`serve`] gives every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub std::net::SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for RemoteAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for RemoteAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// Serves `app` on `listener`, over TLS when `tls` is given, with each request's peer as
/// [`RemoteAddr`], until `shutdown` completes; then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.into_make_service_with_connect_info::<RemoteAddr>();
    match tls {
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await,
        Some(config) => {
            axum::serve(crate::tls::TlsListener::new(listener, config)?, app).with_graceful_shutdown(shutdown).await
        }
    }
}

/// The address of the connection's peer: `None` when the request did not come through [`serve`]
/// (an in-process request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ConnectInfo<RemoteAddr>>().map(|c| c.0.0.ip())))
    }
}

/// A page size from a query's `limit`: `default` when absent, refused (422) outside 1 to `max`,
/// the range its parameter documents.
pub fn page_limit(given: Option<i64>, default: i64, max: i64) -> Result<i64, crate::error::Error> {
    match given {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(crate::error::Error::Validation(format!("limit is 1 to {max}"))),
    }
}

/// `axum::Json` with JSON-error rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut body = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(r) => return Err(json_rejection(r)),
        };
        let invalid = |message: String| Rejection {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: ErrorCode::InvalidBody,
            message,
        };
        // Every request body is a JSON object; serde would also take a struct's fields as an array.
        if !body.is_object() {
            return Err(invalid("the request body must be a JSON object".into()));
        }
        whole_numbers(&mut body);
        serde_path_to_error::deserialize(body).map(Self).map_err(|e| match e.path().to_string().as_str() {
            "." => invalid(e.inner().to_string()),
            path => invalid(format!("{path}: {}", e.inner())),
        })
    }
}

/// Turns numbers written with a zero fraction (`2.0`) into integers, as JSON Schema counts them
/// (the API documents are OpenAPI 3.1): an integer field takes `2.0`, a float field still takes
/// `2`.
fn whole_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(r: JsonRejection) -> Rejection {
    let (status, code) = match &r {
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson),
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidBody),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType)
        }
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
        _ => (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson),
    };
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "request body is over the size limit".to_owned()
    } else {
        r.body_text()
    };
    Rejection { status, code, message }
}

/// `axum::extract::Query` with JSON-error rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Self(q.0)).map_err(|r| Rejection {
            status: StatusCode::BAD_REQUEST,
            code: ErrorCode::Validation,
            message: r.body_text(),
        })
    }
}

/// `axum::extract::Path` with JSON-error rejections (a malformed id names nothing: 404).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| Self(p.0)).map_err(|r| Rejection {
            status: StatusCode::NOT_FOUND,
            code: ErrorCode::NotFound,
            message: r.body_text(),
        })
    }
}

/// The fallback for unknown routes.
pub async fn not_found() -> Rejection {
    Rejection { status: StatusCode::NOT_FOUND, code: ErrorCode::NotFound, message: "no such route".into() }
}

/// The fallback for a known route with the wrong method.
pub async fn method_not_allowed() -> Rejection {
    Rejection {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: ErrorCode::NotFound,
        message: "method not allowed on this route".into(),
    }
}

/// What every service's router gets: `/openapi.json`, JSON 404/405 fallbacks, HTTP metrics, the
/// body limit, and a request id (generated or taken from `x-request-id`) that is echoed in the
/// response and recorded on the request's log span. `inner` adds a service's own layers (rate
/// limits, CORS) around the routes and fallbacks, inside the common ones.
pub fn finish<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    openapi: utoipa::openapi::OpenApi,
    metrics: std::sync::Arc<crate::metrics::HttpMetrics>,
    body_bytes: usize,
    inner: impl FnOnce(axum::Router<S>) -> axum::Router<S>,
) -> axum::Router<S> {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let openapi = std::sync::Arc::new(openapi);
    let router = router
        .route("/openapi.json", axum::routing::get(move || async move { axum::Json(openapi.as_ref().clone()) }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    inner(router)
        .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track))
        .layer(axum::extract::DefaultBodyLimit::max(body_bytes))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Adds a bearer-token security scheme to an OpenAPI document (`modifiers(&SCHEME)` in
/// `#[openapi(...)]`).
pub struct BearerScheme {
    /// The scheme's name, as handlers cite it in `security((name = []))`.
    pub name: &'static str,
    /// The token format, if it has one (`JWT`).
    pub format: Option<&'static str>,
    /// Where the token comes from.
    pub description: &'static str,
}

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let mut http = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(self.description));
        if let Some(f) = self.format {
            http = http.bearer_format(f);
        }
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(self.name, SecurityScheme::Http(http.build()));
    }
}

/// A built front end (`web/dist/...`) served under `mount` (`/pos`), and its page at `/` too when
/// `at_root`. A file that is not there, or the whole front end while it is not built, gets the
/// usual JSON error body; the latter says how to build it.
pub fn front_end<S: Clone + Send + Sync + 'static>(
    mount: &str,
    dir: &std::path::Path,
    at_root: bool,
) -> axum::Router<S> {
    use axum::handler::HandlerWithoutStateExt;
    use axum::routing::get;
    fn missing(message: String) -> impl Fn() -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
        move || std::future::ready(error_response(StatusCode::NOT_FOUND, ErrorCode::NotFound, message.clone()))
    }
    let index = dir.join("index.html");
    if index.is_file() {
        let absent = missing(format!("no such file under {mount}/"));
        let files = tower_http::services::ServeDir::new(dir).not_found_service(absent.into_service());
        let router = axum::Router::new().nest_service(mount, files);
        if at_root { router.route_service("/", tower_http::services::ServeFile::new(index)) } else { router }
    } else {
        tracing::info!(dir = %dir.display(), mount, "a front end is not built; it explains how to build it");
        let answer = missing(format!(
            "the front end is not built in {}: run `npm --prefix web ci && npm --prefix web run build`",
            dir.display()
        ));
        let router = axum::Router::new()
            .route(mount, get(answer.clone()))
            .route(&format!("{mount}/"), get(answer.clone()))
            .route(&format!("{mount}/{{*rest}}"), get(answer.clone()));
        if at_root { router.route("/", get(answer)) } else { router }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_written_with_a_fraction_become_integers() {
        let mut v = serde_json::json!({ "q": 181.0, "lat": 52.5, "lines": [{ "n": 2.0 }], "big": 1e300 });
        whole_numbers(&mut v);
        assert_eq!(v, serde_json::json!({ "q": 181, "lat": 52.5, "lines": [{ "n": 2 }], "big": 1e300 }));
    }

    #[test]
    fn a_page_limit_is_held_to_its_range() {
        assert_eq!(page_limit(None, 50, 500).unwrap(), 50);
        assert_eq!(page_limit(Some(500), 50, 500).unwrap(), 500);
        assert!(page_limit(Some(0), 50, 500).is_err());
        assert!(page_limit(Some(501), 50, 500).is_err());
    }
}
