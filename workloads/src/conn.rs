//! Connections to Redis nodes that survive the faults a run injects.
//!
//! A partition, a reset or a crash-restart breaks TCP connections; a real client reconnects. A
//! `ConnectionManager` reconnects in the background when a call finds its connection dropped,
//! so the call that saw the break is recorded `info` and later calls work again once the network
//! heals. Each connection attempt is bounded, so a blackholed node cannot hang a client.

use crate::outcome::CallError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// A client's connection to one node.
pub type Conn = ConnectionManager;

/// Connects (as the user in `url`) with bounded attempts.
pub async fn connect(url: &str, timeout: Duration) -> Result<Conn, CallError> {
    let client =
        redis::Client::open(url).map_err(|e| CallError::Refused(format!("bad redis URL: {e}")))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout)
        .set_number_of_retries(2)
        .set_max_delay(200);
    match tokio::time::timeout(
        timeout * 4,
        ConnectionManager::new_with_config(client, config),
    )
    .await
    {
        Ok(r) => r.map_err(CallError::from),
        Err(_) => Err(CallError::Indeterminate(format!(
            "connecting timed out after {} ms",
            (timeout * 4).as_millis()
        ))),
    }
}
