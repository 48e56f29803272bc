//! The embedded proxy's HTTP API against Toxiproxy 2.x's contract: every endpoint, its status
//! codes (201/200/204, 404 missing, 409 duplicate, 400 bad input, 403 browsers) and JSON shapes,
//! over raw HTTP/1.1 so nothing here hides what goes on the wire.

use std::net::SocketAddr;

use fencepost::proxy::{ApiServer, Registry};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request on its own connection; returns the status and the body parsed as JSON (Null if
/// empty or not JSON).
async fn http(api: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    http_with(api, method, path, body, "fencepost-test").await
}

async fn http_with(
    api: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    user_agent: &str,
) -> (u16, Value) {
    let mut conn = TcpStream::connect(api).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nUser-Agent: {user_agent}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    conn.read_to_end(&mut resp).await.unwrap();
    let resp = String::from_utf8(resp).unwrap();
    let status: u16 = resp[9..12].parse().unwrap();
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn upstream() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap().to_string();
    (l, a)
}

async fn api() -> (ApiServer, SocketAddr) {
    let server = ApiServer::start("127.0.0.1:0".parse().unwrap(), Registry::new(7))
        .await
        .unwrap();
    let addr = server.local_addr();
    (server, addr)
}

#[tokio::test]
async fn proxies_endpoints_follow_toxiproxy() {
    let (_server, api) = api().await;
    let (_up, up) = upstream().await;

    let (s, v) = http(api, "GET", "/version", None).await;
    assert_eq!(s, 200);
    assert!(v["version"].as_str().unwrap().starts_with("2."));

    let (s, v) = http(api, "GET", "/proxies", None).await;
    assert_eq!((s, v), (200, json!({})));

    // create: 201, listen port 0 becomes the real port
    let body = json!({"name": "redis", "listen": "127.0.0.1:0", "upstream": up}).to_string();
    let (s, v) = http(api, "POST", "/proxies", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["name"], "redis");
    assert_eq!(v["upstream"], up.as_str());
    assert_eq!(v["enabled"], true);
    assert_eq!(v["toxics"], json!([]));
    let listen: SocketAddr = v["listen"].as_str().unwrap().parse().unwrap();
    assert_ne!(listen.port(), 0);
    TcpStream::connect(listen).await.expect("proxy listens");

    // duplicate: 409
    let (s, v) = http(api, "POST", "/proxies", Some(&body)).await;
    assert_eq!(s, 409);
    assert_eq!(v["status"], 409);
    assert!(v["error"].as_str().unwrap().contains("already exists"));

    // bad input: 400 with a message
    for bad in [
        "{",
        r#"{"listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}"#,
        r#"{"name":"x","listen":"127.0.0.1:0"}"#,
        r#"{"name":"x","listen":"nope","upstream":"127.0.0.1:1"}"#,
        r#"{"name":"x","upstream":"127.0.0.1:99999"}"#,
        r#"{"name":5,"upstream":"127.0.0.1:1"}"#,
    ] {
        let (s, v) = http(api, "POST", "/proxies", Some(bad)).await;
        assert_eq!(s, 400, "{bad} -> {v}");
        assert_eq!(v["status"], 400);
        assert!(!v["error"].as_str().unwrap().is_empty());
    }

    // show, index
    let (s, v) = http(api, "GET", "/proxies/redis", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["listen"], listen.to_string());
    let (_, v) = http(api, "GET", "/proxies", None).await;
    assert_eq!(v["redis"]["listen"], listen.to_string());

    // update by POST and PATCH: disable closes the listener, enable reopens on the same port
    let (s, v) = http(api, "POST", "/proxies/redis", Some(r#"{"enabled":false}"#)).await;
    assert_eq!((s, &v["enabled"]), (200, &json!(false)));
    assert!(
        TcpStream::connect(listen).await.is_err(),
        "disabled proxy refuses"
    );
    let (s, v) = http(api, "PATCH", "/proxies/redis", Some(r#"{"enabled":true}"#)).await;
    assert_eq!((s, &v["enabled"]), (200, &json!(true)));
    assert_eq!(v["listen"], listen.to_string());
    TcpStream::connect(listen)
        .await
        .expect("re-enabled proxy listens");
    let (s, _) = http(api, "PATCH", "/proxies/redis", Some("[")).await;
    assert_eq!(s, 400);

    // missing proxy: 404 everywhere
    for (m, p) in [
        ("GET", "/proxies/nope"),
        ("POST", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/t"),
        ("POST", "/proxies/nope/toxics/t"),
        ("PATCH", "/proxies/nope/toxics/t"),
        ("DELETE", "/proxies/nope/toxics/t"),
    ] {
        let (s, v) = http(api, m, p, Some("{}")).await;
        assert_eq!(s, 404, "{m} {p}");
        assert_eq!(v["status"], 404);
    }

    // delete: 204, then gone
    let (s, _) = http(api, "DELETE", "/proxies/redis", None).await;
    assert_eq!(s, 204);
    let (s, _) = http(api, "GET", "/proxies/redis", None).await;
    assert_eq!(s, 404);
    assert!(
        TcpStream::connect(listen).await.is_err(),
        "deleted proxy refuses"
    );
}

#[tokio::test]
async fn toxics_endpoints_follow_toxiproxy() {
    let (_server, api) = api().await;
    let (_up, up) = upstream().await;
    let body = json!({"name": "p", "upstream": up}).to_string();
    assert_eq!(http(api, "POST", "/proxies", Some(&body)).await.0, 201);

    // create with defaults: name <type>_<stream>, downstream, toxicity 1
    let (s, v) = http(
        api,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type":"latency","attributes":{"latency":100,"jitter":5}}"#),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1.0,
               "attributes":{"latency":100,"jitter":5}})
    );
    // duplicate name: 409
    let (s, v) = http(
        api,
        "POST",
        "/proxies/p/toxics",
        Some(r#"{"type":"latency","attributes":{"latency":1}}"#),
    )
    .await;
    assert_eq!((s, &v["status"]), (409, &json!(409)));

    // every toxic type, upstream, named
    for (ty, attrs) in [
        ("bandwidth", json!({"rate": 100})),
        ("slow_close", json!({"delay": 10})),
        ("timeout", json!({"timeout": 0})),
        ("reset_peer", json!({"timeout": 10})),
        (
            "slicer",
            json!({"average_size": 64, "size_variation": 8, "delay": 10}),
        ),
        ("limit_data", json!({"bytes": 1000})),
    ] {
        let body = json!({"name": format!("t_{ty}"), "type": ty, "stream": "upstream",
                          "toxicity": 0.5, "attributes": attrs})
        .to_string();
        let (s, v) = http(api, "POST", "/proxies/p/toxics", Some(&body)).await;
        assert_eq!(s, 200, "{ty}: {v}");
        assert_eq!(v["attributes"], attrs, "{ty}");
        assert_eq!(v["toxicity"], 0.5);
    }

    // index: upstream toxics first, then downstream
    let (s, v) = http(api, "GET", "/proxies/p/toxics", None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 7);
    assert_eq!(names[6], "latency_downstream");
    let (_, v) = http(api, "GET", "/proxies/p", None).await;
    assert_eq!(v["toxics"].as_array().unwrap().len(), 7);

    // show
    let (s, v) = http(api, "GET", "/proxies/p/toxics/t_slicer", None).await;
    assert_eq!((s, &v["type"]), (200, &json!("slicer")));
    let (s, _) = http(api, "GET", "/proxies/p/toxics/nope", None).await;
    assert_eq!(s, 404);

    // update merges attributes; POST and PATCH
    let (s, v) = http(
        api,
        "PATCH",
        "/proxies/p/toxics/latency_downstream",
        Some(r#"{"attributes":{"jitter":0}}"#),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["attributes"], json!({"latency":100,"jitter":0}));
    let (s, v) = http(
        api,
        "POST",
        "/proxies/p/toxics/latency_downstream",
        Some(r#"{"toxicity":0.25}"#),
    )
    .await;
    assert_eq!((s, &v["toxicity"]), (200, &json!(0.25)));
    let (s, _) = http(api, "PATCH", "/proxies/p/toxics/nope", Some("{}")).await;
    assert_eq!(s, 404);

    // bad toxics: 400 with a message
    for bad in [
        "{",
        r#"{"type":"nope"}"#,
        r#"{}"#,
        r#"{"type":"latency","stream":"sideways"}"#,
        r#"{"type":"latency","attributes":{"latency":"slow"}}"#,
        r#"{"type":"latency","attributes":{"latency":-5}}"#,
        r#"{"type":"slicer","attributes":{"average_size":0}}"#,
    ] {
        let (s, v) = http(api, "POST", "/proxies/p/toxics", Some(bad)).await;
        assert_eq!(s, 400, "{bad} -> {v}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    let (s, _) = http(
        api,
        "PATCH",
        "/proxies/p/toxics/latency_downstream",
        Some(r#"{"attributes":{"latency":-1}}"#),
    )
    .await;
    assert_eq!(s, 400);

    // delete: 204, then 404
    let (s, _) = http(api, "DELETE", "/proxies/p/toxics/latency_downstream", None).await;
    assert_eq!(s, 204);
    let (s, _) = http(api, "DELETE", "/proxies/p/toxics/latency_downstream", None).await;
    assert_eq!(s, 404);

    // reset: 204, every proxy enabled, every toxic gone
    assert_eq!(
        http(api, "POST", "/proxies/p", Some(r#"{"enabled":false}"#))
            .await
            .0,
        200
    );
    let (s, _) = http(api, "POST", "/reset", None).await;
    assert_eq!(s, 204);
    let (_, v) = http(api, "GET", "/proxies/p", None).await;
    assert_eq!(v["enabled"], true);
    assert_eq!(v["toxics"], json!([]));
}

#[tokio::test]
async fn populate_creates_keeps_and_replaces() {
    let (_server, api) = api().await;
    let (_a, up_a) = upstream().await;
    let (_b, up_b) = upstream().await;
    let list = json!([
        {"name": "a", "listen": "127.0.0.1:0", "upstream": up_a},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": up_a, "enabled": false},
    ])
    .to_string();
    let (s, v) = http(api, "POST", "/populate", Some(&list)).await;
    assert_eq!(s, 201, "{v}");
    let proxies = v["proxies"].as_array().unwrap();
    assert_eq!(proxies.len(), 2);
    assert_eq!(proxies[1]["enabled"], false);
    let a_listen = proxies[0]["listen"].clone();

    // same addresses: kept (same port, toxics stay); new upstream: replaced
    http(
        api,
        "POST",
        "/proxies/a/toxics",
        Some(r#"{"type":"timeout","attributes":{"timeout":0}}"#),
    )
    .await;
    let list = json!([
        {"name": "a", "listen": "127.0.0.1:0", "upstream": up_a},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": up_b},
    ])
    .to_string();
    let (s, v) = http(api, "POST", "/populate", Some(&list)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["proxies"][0]["listen"], a_listen);
    assert_eq!(v["proxies"][0]["toxics"].as_array().unwrap().len(), 1);
    assert_eq!(v["proxies"][1]["upstream"], up_b.as_str());
    assert_eq!(v["proxies"][1]["enabled"], true);

    // checked before anything changes
    for bad in [
        "{}",
        r#"[{"name":"c","upstream":"127.0.0.1:1"},{"upstream":"127.0.0.1:1"}]"#,
        r#"[{"name":"c","upstream":"127.0.0.1:1"},{"name":"c","upstream":"127.0.0.1:1"}]"#,
    ] {
        let (s, v) = http(api, "POST", "/populate", Some(bad)).await;
        assert_eq!(s, 400, "{bad} -> {v}");
        assert!(v["error"].is_string());
    }
    assert_eq!(http(api, "GET", "/proxies/c", None).await.0, 404);
}

#[tokio::test]
async fn browsers_are_refused_and_unknown_routes_are_404() {
    let (_server, api) = api().await;
    let (s, _) = http_with(
        api,
        "GET",
        "/proxies",
        None,
        "Mozilla/5.0 (X11; Linux x86_64)",
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(http(api, "GET", "/nope", None).await.0, 404);
    // and the server keeps serving
    assert_eq!(http(api, "GET", "/version", None).await.0, 200);
}
