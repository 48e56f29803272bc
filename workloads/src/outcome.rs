//! How a call against Redis ended, in Jepsen's terms.
//!
//! A Redis error *reply* means the server refused the command: it did not take effect (`fail`).
//! A timeout or a broken connection means we cannot know (`info`), never `fail`.

use checkers::{OpKind, Value};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server answered with an error: the command did not take effect.
    #[error("redis refused: {0}")]
    Refused(String),
    /// No answer in time, or the connection broke: it may or may not have taken effect.
    #[error("indeterminate: {0}")]
    Indeterminate(String),
}

impl CallError {
    pub fn kind(&self) -> OpKind {
        match self {
            CallError::Refused(_) => OpKind::Fail,
            CallError::Indeterminate(_) => OpKind::Info,
        }
    }
    pub fn value(&self) -> Value {
        Value::Error(self.to_string())
    }
}

impl From<redis::RedisError> for CallError {
    fn from(e: redis::RedisError) -> Self {
        // Server replies (ERR, NOAUTH, NOPERM, WRONGTYPE, script errors) are definite refusals;
        // everything else (I/O, connection dropped, parse failure mid-stream) is indeterminate.
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_timeout()
            || e.is_connection_refusal()
        {
            CallError::Indeterminate(e.to_string())
        } else if e.code().is_some() {
            CallError::Refused(e.to_string())
        } else {
            CallError::Indeterminate(e.to_string())
        }
    }
}

/// Runs a Redis call with a deadline; a missed deadline is indeterminate.
pub async fn with_timeout<T, Fut>(timeout: Duration, fut: Fut) -> Result<T, CallError>
where
    Fut: std::future::Future<Output = Result<T, redis::RedisError>>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(CallError::from),
        Err(_) => Err(CallError::Indeterminate(format!(
            "timed out after {} ms",
            timeout.as_millis()
        ))),
    }
}
