//! The Toxiproxy 2.x HTTP API over a [`Registry`], so any Toxiproxy client (and `toxiproxy-cli`)
//! can drive the embedded proxy, and the harness can swap in a real Toxiproxy.
//!
//! Same routes, JSON fields and status codes as Toxiproxy's api.go: 201 for a created proxy or a
//! populate, 204 for deletes and reset, 404 for a missing proxy or toxic, 409 for a duplicate,
//! 400 with `{"error": ..., "status": 400}` for bad input; POST and PATCH both update. Requests
//! from browsers (User-Agent `Mozilla/...`) get 403, as in Toxiproxy, so a web page cannot
//! drive the API.

use std::future::Future;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::ProxyError;
use super::registry::{ProxyConfig, ProxyUpdate, Registry};
use super::toxic::Toxic;

/// The Toxiproxy API version this server implements.
pub const TOXIPROXY_API_VERSION: &str = "2.12.0";

/// The routes, over a registry.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/reset", post(reset))
        .route("/proxies", get(proxy_index).post(proxy_create))
        .route("/populate", post(populate))
        .route(
            "/proxies/{proxy}",
            get(proxy_show)
                .post(proxy_update)
                .patch(proxy_update)
                .delete(proxy_delete),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(toxic_index).post(toxic_create),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(toxic_show)
                .post(toxic_update)
                .patch(toxic_update)
                .delete(toxic_delete),
        )
        .route("/version", get(version))
        .fallback(not_found)
        .layer(middleware::from_fn(stop_browsers))
        .with_state(registry)
}

/// The API server running on a socket, stopped by [`ApiServer::stop`] or when dropped.
pub struct ApiServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ApiServer {
    /// Serve the API for `registry` on `listen` (port 0 picks a free port).
    pub async fn start(listen: SocketAddr, registry: Registry) -> std::io::Result<ApiServer> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_until(listener, registry, async {
            let _ = stop_rx.await;
        }));
        Ok(ApiServer {
            local_addr,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting requests and wait for the server to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serve the API on `listener` until `shutdown` completes.
pub async fn serve_until(
    listener: TcpListener,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(registry))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn stop_browsers(req: Request, next: Next) -> Response {
    let from_browser = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if from_browser {
        return (StatusCode::FORBIDDEN, "User agent not allowed\n").into_response();
    }
    next.run(req).await
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn error_body(e: &ProxyError) -> Value {
    json!({ "error": e.to_string(), "status": e.http_status() })
}

fn status_of(e: &ProxyError) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Errors answer with Toxiproxy's `{"error": message, "status": code}`.
struct ApiError(ProxyError);

impl From<ProxyError> for ApiError {
    fn from(e: ProxyError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(status_of(&self.0), error_body(&self.0))
    }
}

type ApiResult = Result<Response, ApiError>;

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({ "error": "not found", "status": 404 }),
    )
}

async fn version() -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "version": TOXIPROXY_API_VERSION,
            "server": concat!("fencepost ", env!("CARGO_PKG_VERSION")),
        }),
    )
}

async fn reset(State(reg): State<Registry>) -> ApiResult {
    reg.reset().await?;
    Ok(no_content())
}

async fn proxy_index(State(reg): State<Registry>) -> Response {
    let map: serde_json::Map<String, Value> = reg
        .list()
        .await
        .into_iter()
        .map(|p| (p.name.clone(), p.to_json()))
        .collect();
    ok(Value::Object(map))
}

/// A proxy as clients send it; `listen` defaults to a free 127.0.0.1 port.
#[derive(Deserialize)]
struct ProxyBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    listen: String,
    #[serde(default)]
    upstream: String,
    #[serde(default)]
    enabled: Option<bool>,
}

impl ProxyBody {
    fn into_config(self) -> ProxyConfig {
        ProxyConfig {
            name: self.name,
            listen: if self.listen.is_empty() {
                "127.0.0.1:0".into()
            } else {
                self.listen
            },
            upstream: self.upstream,
            enabled: self.enabled.unwrap_or(true),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ProxyError> {
    serde_json::from_slice(body).map_err(|e| ProxyError::BadRequest(e.to_string()))
}

async fn proxy_create(State(reg): State<Registry>, body: Bytes) -> ApiResult {
    let input: ProxyBody = parse(&body)?;
    let info = reg.create(input.into_config()).await?;
    Ok(json_response(StatusCode::CREATED, info.to_json()))
}

async fn populate(State(reg): State<Registry>, body: Bytes) -> Response {
    let configs = match parse::<Vec<ProxyBody>>(&body) {
        Ok(list) => list.into_iter().map(ProxyBody::into_config).collect(),
        Err(e) => return populate_error(&e),
    };
    match reg.populate(configs).await {
        Ok(proxies) => json_response(
            StatusCode::CREATED,
            json!({ "proxies": proxies.iter().map(|p| p.to_json()).collect::<Vec<_>>() }),
        ),
        Err(e) => populate_error(&e),
    }
}

fn populate_error(e: &ProxyError) -> Response {
    let mut body = error_body(e);
    body["proxies"] = json!([]);
    json_response(status_of(e), body)
}

async fn proxy_show(State(reg): State<Registry>, Path(proxy): Path<String>) -> ApiResult {
    Ok(ok(reg.get(&proxy).await?.to_json()))
}

async fn proxy_update(
    State(reg): State<Registry>,
    Path(proxy): Path<String>,
    body: Bytes,
) -> ApiResult {
    // a missing proxy is a 404 even when the body is bad, as in Toxiproxy
    reg.get(&proxy).await?;
    #[derive(Deserialize)]
    struct Update {
        listen: Option<String>,
        upstream: Option<String>,
        enabled: Option<bool>,
    }
    let u: Update = parse(&body)?;
    let info = reg
        .update(
            &proxy,
            ProxyUpdate {
                listen: u.listen,
                upstream: u.upstream,
                enabled: u.enabled,
            },
        )
        .await?;
    Ok(ok(info.to_json()))
}

async fn proxy_delete(State(reg): State<Registry>, Path(proxy): Path<String>) -> ApiResult {
    reg.delete(&proxy).await?;
    Ok(no_content())
}

async fn toxic_index(State(reg): State<Registry>, Path(proxy): Path<String>) -> ApiResult {
    let toxics = reg.toxics(&proxy)?;
    Ok(ok(Value::Array(
        toxics.iter().map(Toxic::to_json).collect(),
    )))
}

async fn toxic_create(
    State(reg): State<Registry>,
    Path(proxy): Path<String>,
    body: Bytes,
) -> ApiResult {
    reg.toxics(&proxy)?; // 404 before 400, as in Toxiproxy
    let toxic = Toxic::from_json(&body)?;
    let toxic = reg.add_toxic(&proxy, toxic)?;
    Ok(ok(toxic.to_json()))
}

async fn toxic_show(
    State(reg): State<Registry>,
    Path((proxy, toxic)): Path<(String, String)>,
) -> ApiResult {
    Ok(ok(reg.toxic(&proxy, &toxic)?.to_json()))
}

async fn toxic_update(
    State(reg): State<Registry>,
    Path((proxy, toxic)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    Ok(ok(reg.update_toxic_json(&proxy, &toxic, &body)?.to_json()))
}

async fn toxic_delete(
    State(reg): State<Registry>,
    Path((proxy, toxic)): Path<(String, String)>,
) -> ApiResult {
    reg.remove_toxic(&proxy, &toxic)?;
    Ok(no_content())
}
