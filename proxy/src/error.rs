//! Typed errors of the fault proxy, each mapped to the HTTP status that Toxiproxy 2.x answers
//! with, so the API layer and the in-process callers see one vocabulary.

use std::io;

/// Everything that can go wrong while managing proxies and toxics.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("proxy not found: {name}")]
    ProxyNotFound { name: String },
    #[error("proxy already exists: {name}")]
    ProxyExists { name: String },
    #[error("toxic not found: {toxic} on proxy {proxy}")]
    ToxicNotFound { proxy: String, toxic: String },
    #[error("toxic already exists: {toxic} on proxy {proxy}")]
    ToxicExists { proxy: String, toxic: String },
    #[error("bad request body: {0}")]
    BadRequest(String),
    #[error("missing required field: {0}")]
    MissingField(String),
    #[error("stream was invalid, can be either upstream or downstream: {0:?}")]
    InvalidStream(String),
    #[error("invalid toxic type: {0:?}")]
    InvalidToxicType(String),
    #[error("invalid {field} address {value:?}: {reason}")]
    InvalidAddress {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("toxiproxy request failed: {0}")]
    Remote(String),
}

impl ProxyError {
    /// The HTTP status Toxiproxy uses for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            ProxyError::ProxyNotFound { .. } | ProxyError::ToxicNotFound { .. } => 404,
            ProxyError::ProxyExists { .. } | ProxyError::ToxicExists { .. } => 409,
            ProxyError::BadRequest(_)
            | ProxyError::MissingField(_)
            | ProxyError::InvalidStream(_)
            | ProxyError::InvalidToxicType(_)
            | ProxyError::InvalidAddress { .. } => 400,
            ProxyError::Listen { .. } | ProxyError::Remote(_) => 500,
        }
    }
}
