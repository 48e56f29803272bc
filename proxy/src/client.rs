//! An async client for a real, external Toxiproxy (`--toxiproxy URL`), with the same typed calls
//! as [`Registry`](super::Registry), so the nemeses can drive either.
//!
//! One HTTP/1.1 request per connection (hyper's low-level client, already in the build through
//! axum), each bounded by a timeout so a stuck Toxiproxy cannot hang a run. Updates use POST,
//! which every Toxiproxy 2.x accepts (PATCH came later).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use super::error::ProxyError;
use super::registry::{ProxyConfig, ProxyInfo, ProxyUpdate};
use super::toxic::{Stream, Toxic, ToxicKind};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A Toxiproxy server's HTTP API.
#[derive(Clone, Debug)]
pub struct ToxiproxyClient {
    /// `host:port`
    authority: String,
    /// Prepended to every proxy name this client is given (see [`ToxiproxyClient::scoped`]).
    scope: String,
}

impl ToxiproxyClient {
    /// `url` is `http://host:port` (a trailing `/` is fine) or just `host:port`.
    pub fn new(url: &str) -> Result<ToxiproxyClient, ProxyError> {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        if rest.contains("://") {
            return Err(ProxyError::InvalidAddress {
                field: "toxiproxy",
                value: url.to_owned(),
                reason: "only http:// is supported".into(),
            });
        }
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || !authority.contains(':') {
            return Err(ProxyError::InvalidAddress {
                field: "toxiproxy",
                value: url.to_owned(),
                reason: "expected http://host:port".into(),
            });
        }
        Ok(ToxiproxyClient {
            authority: authority.to_owned(),
            scope: String::new(),
        })
    }

    /// The same server, with every proxy name this client is given prefixed by `scope`: how a
    /// run keeps its proxies apart from another run's on a shared Toxiproxy while its nemeses
    /// keep naming links `c0-n1`. `list` and `reset` still see the whole server.
    pub fn scoped(&self, scope: &str) -> ToxiproxyClient {
        ToxiproxyClient {
            authority: self.authority.clone(),
            scope: scope.to_owned(),
        }
    }

    /// A proxy name as a path segment, in this client's scope.
    fn segment(&self, name: &str) -> String {
        encode(&format!("{}{name}", self.scope))
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Bytes), ProxyError> {
        let remote = |what: &str, e: &dyn std::fmt::Display| {
            ProxyError::Remote(format!("{method} {path}: {what}: {e}"))
        };
        let exchange = async {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| remote("connect", &e))?;
            let _ = stream.set_nodelay(true);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| remote("handshake", &e))?;
            let body = body.map(|v| v.to_string()).unwrap_or_default();
            let req = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::HOST, &self.authority)
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header(hyper::header::USER_AGENT, "fencepost")
                .header(hyper::header::CONNECTION, "close")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| remote("request", &e))?;
            let send = async move {
                let resp = sender
                    .send_request(req)
                    .await
                    .map_err(|e| remote("send", &e))?;
                let status = resp.status().as_u16();
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| remote("body", &e))?
                    .to_bytes();
                Ok::<_, ProxyError>((status, body))
            };
            let (result, _conn) = tokio::join!(send, conn);
            result
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| remote("timeout", &format!("no answer in {REQUEST_TIMEOUT:?}")))?
    }

    /// Send a request; a non-2xx answer becomes the matching typed error.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        names: (&str, Option<&str>),
    ) -> Result<Bytes, ProxyError> {
        let (status, bytes) = self.request(method, path, body).await?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_owned());
        let (proxy, toxic) = (names.0.to_owned(), names.1.map(str::to_owned));
        Err(match (status, toxic) {
            (404, Some(toxic)) if message.contains("toxic") => {
                ProxyError::ToxicNotFound { proxy, toxic }
            }
            (404, _) => ProxyError::ProxyNotFound { name: proxy },
            (409, Some(toxic)) => ProxyError::ToxicExists { proxy, toxic },
            (409, None) => ProxyError::ProxyExists { name: proxy },
            (400, _) => ProxyError::BadRequest(message),
            (s, _) => ProxyError::Remote(format!("status {s}: {message}")),
        })
    }

    fn json(bytes: &[u8]) -> Result<Value, ProxyError> {
        serde_json::from_slice(bytes).map_err(|e| ProxyError::Remote(format!("bad JSON: {e}")))
    }

    /// The server's version string.
    pub async fn version(&self) -> Result<String, ProxyError> {
        let b = self.call(Method::GET, "/version", None, ("", None)).await?;
        // Toxiproxy ≥ 2.6 answers JSON, older ones plain text
        Ok(match serde_json::from_slice::<Value>(&b) {
            Ok(v) => v
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Err(_) => String::from_utf8_lossy(&b).trim().to_owned(),
        })
    }

    pub async fn list(&self) -> Result<Vec<ProxyInfo>, ProxyError> {
        let v = Self::json(&self.call(Method::GET, "/proxies", None, ("", None)).await?)?;
        let mut out: Vec<ProxyInfo> = v
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .map(proxy_from_json)
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn create(&self, config: &ProxyConfig) -> Result<ProxyInfo, ProxyError> {
        let body = json!({
            "name": format!("{}{}", self.scope, config.name), "listen": config.listen,
            "upstream": config.upstream, "enabled": config.enabled,
        });
        let b = self
            .call(Method::POST, "/proxies", Some(body), (&config.name, None))
            .await?;
        proxy_from_json(&Self::json(&b)?)
    }

    pub async fn populate(&self, configs: &[ProxyConfig]) -> Result<Vec<ProxyInfo>, ProxyError> {
        let body: Vec<Value> = configs
            .iter()
            .map(|c| json!({"name": format!("{}{}", self.scope, c.name), "listen": c.listen, "upstream": c.upstream, "enabled": c.enabled}))
            .collect();
        let b = self
            .call(
                Method::POST,
                "/populate",
                Some(Value::Array(body)),
                ("", None),
            )
            .await?;
        let v = Self::json(&b)?;
        v.get("proxies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(proxy_from_json)
            .collect()
    }

    pub async fn get(&self, name: &str) -> Result<ProxyInfo, ProxyError> {
        let path = format!("/proxies/{}", self.segment(name));
        let b = self.call(Method::GET, &path, None, (name, None)).await?;
        proxy_from_json(&Self::json(&b)?)
    }

    pub async fn update(&self, name: &str, update: &ProxyUpdate) -> Result<ProxyInfo, ProxyError> {
        let mut body = serde_json::Map::new();
        if let Some(l) = &update.listen {
            body.insert("listen".into(), json!(l));
        }
        if let Some(u) = &update.upstream {
            body.insert("upstream".into(), json!(u));
        }
        if let Some(e) = update.enabled {
            body.insert("enabled".into(), json!(e));
        }
        let path = format!("/proxies/{}", self.segment(name));
        let b = self
            .call(Method::POST, &path, Some(Value::Object(body)), (name, None))
            .await?;
        proxy_from_json(&Self::json(&b)?)
    }

    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<ProxyInfo, ProxyError> {
        self.update(
            name,
            &ProxyUpdate {
                enabled: Some(enabled),
                ..ProxyUpdate::default()
            },
        )
        .await
    }

    pub async fn delete(&self, name: &str) -> Result<(), ProxyError> {
        let path = format!("/proxies/{}", self.segment(name));
        self.call(Method::DELETE, &path, None, (name, None)).await?;
        Ok(())
    }

    pub async fn reset(&self) -> Result<(), ProxyError> {
        self.call(Method::POST, "/reset", None, ("", None)).await?;
        Ok(())
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ProxyError> {
        let path = format!("/proxies/{}/toxics", self.segment(proxy));
        let v = Self::json(&self.call(Method::GET, &path, None, (proxy, None)).await?)?;
        v.as_array()
            .into_iter()
            .flatten()
            .map(toxic_from_json)
            .collect()
    }

    pub async fn add_toxic(&self, proxy: &str, toxic: &Toxic) -> Result<Toxic, ProxyError> {
        let path = format!("/proxies/{}/toxics", self.segment(proxy));
        let b = self
            .call(
                Method::POST,
                &path,
                Some(toxic.to_json()),
                (proxy, Some(&toxic.name)),
            )
            .await?;
        toxic_from_json(&Self::json(&b)?)
    }

    pub async fn update_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        kind: &ToxicKind,
        toxicity: f32,
    ) -> Result<Toxic, ProxyError> {
        let path = format!("/proxies/{}/toxics/{}", self.segment(proxy), encode(toxic));
        let body = json!({ "attributes": Value::Object(kind.attributes()), "toxicity": toxicity });
        let b = self
            .call(Method::POST, &path, Some(body), (proxy, Some(toxic)))
            .await?;
        toxic_from_json(&Self::json(&b)?)
    }

    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ProxyError> {
        let path = format!("/proxies/{}/toxics/{}", self.segment(proxy), encode(toxic));
        self.call(Method::DELETE, &path, None, (proxy, Some(toxic)))
            .await?;
        Ok(())
    }
}

/// Percent-encode a path segment (names are usually plain, but need not be).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn proxy_from_json(v: &Value) -> Result<ProxyInfo, ProxyError> {
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(ProxyInfo {
        name: field("name"),
        listen: field("listen"),
        upstream: field("upstream"),
        enabled: v.get("enabled").and_then(Value::as_bool).unwrap_or(false),
        toxics: v
            .get("toxics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(toxic_from_json)
            .collect::<Result<_, _>>()?,
    })
}

fn toxic_from_json(v: &Value) -> Result<Toxic, ProxyError> {
    let type_name = v.get("type").and_then(Value::as_str).unwrap_or_default();
    let stream = Stream::parse(
        v.get("stream")
            .and_then(Value::as_str)
            .unwrap_or("downstream"),
    )?;
    Ok(Toxic {
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        stream,
        toxicity: v.get("toxicity").and_then(Value::as_f64).unwrap_or(1.0) as f32,
        kind: ToxicKind::from_attributes(type_name, v.get("attributes").unwrap_or(&Value::Null))?,
    })
}
