//! What a toxic is: a typed fault (`ToxicKind`) on one direction of a proxy (`Stream`), applied to
//! each connection with probability `toxicity`. Also its Toxiproxy 2.x JSON form, so the HTTP API,
//! the external client and the in-process callers share one set of types.
//!
//! Toxiproxy names and units are kept on the wire (`latency`, `rate` in KB/s, slicer `delay` in
//! microseconds); the Rust fields carry the unit in their names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::ProxyError;

/// The direction a toxic affects. `Upstream` is client → server, `Downstream` server → client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Upstream,
    Downstream,
}

impl Stream {
    pub const BOTH: [Stream; 2] = [Stream::Upstream, Stream::Downstream];

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }

    pub fn parse(s: &str) -> Result<Stream, ProxyError> {
        match s {
            "upstream" => Ok(Stream::Upstream),
            "downstream" => Ok(Stream::Downstream),
            other => Err(ProxyError::InvalidStream(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fault and its parameters, one variant per Toxiproxy toxic type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToxicKind {
    /// Delay every chunk by `latency_ms` ± `jitter_ms` (uniform, from the seeded RNG).
    Latency { latency_ms: u64, jitter_ms: u64 },
    /// Limit throughput to `rate_kb_per_s` kilobytes (1000 bytes) per second; 0 = unlimited.
    Bandwidth { rate_kb_per_s: u64 },
    /// Delay passing on the end of the stream (the TCP close) by `delay_ms`.
    SlowClose { delay_ms: u64 },
    /// Let nothing through (data is discarded, the connection stays open), and close the
    /// connection after `timeout_ms`; 0 = hold it open until the toxic is removed. On removal a
    /// connection that lost data is closed (its byte stream has a hole); one that lost nothing
    /// carries on. (Toxiproxy closes every connection on removal; an idle connection surviving
    /// is what a real partition does.) For "hold and deliver on heal", use a long `Latency`.
    Timeout { timeout_ms: u64 },
    /// On the first data (or close) after the toxic applies, wait `timeout_ms`, then reset the
    /// connection with a TCP RST.
    ResetPeer { timeout_ms: u64 },
    /// Cut data into pieces of `average_size_bytes` ± `size_variation_bytes`, `delay_us` apart.
    Slicer {
        average_size_bytes: u64,
        size_variation_bytes: u64,
        delay_us: u64,
    },
    /// Pass `bytes` bytes, then close the connection.
    LimitData { bytes: u64 },
}

/// Toxiproxy's attribute names, per type (the wire form).
mod wire {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    pub struct Latency {
        pub latency: u64,
        pub jitter: u64,
    }
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    pub struct Bandwidth {
        pub rate: u64,
    }
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    pub struct Delay {
        pub delay: u64,
    }
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    pub struct Timeout {
        pub timeout: u64,
    }
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    pub struct Slicer {
        pub average_size: u64,
        pub size_variation: u64,
        pub delay: u64,
    }
    #[derive(Serialize, Deserialize, Default)]
    #[serde(default)]
    pub struct LimitData {
        pub bytes: u64,
    }
}

impl ToxicKind {
    /// Every Toxiproxy type name this proxy implements.
    pub const TYPE_NAMES: [&'static str; 7] = [
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "reset_peer",
        "slicer",
        "limit_data",
    ];

    /// The Toxiproxy `type` of this toxic.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow_close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::Slicer { .. } => "slicer",
            ToxicKind::LimitData { .. } => "limit_data",
        }
    }

    /// The Toxiproxy `attributes` object.
    pub fn attributes(&self) -> Map<String, Value> {
        let v = match *self {
            ToxicKind::Latency {
                latency_ms,
                jitter_ms,
            } => serde_json::to_value(wire::Latency {
                latency: latency_ms,
                jitter: jitter_ms,
            }),
            ToxicKind::Bandwidth { rate_kb_per_s } => serde_json::to_value(wire::Bandwidth {
                rate: rate_kb_per_s,
            }),
            ToxicKind::SlowClose { delay_ms } => {
                serde_json::to_value(wire::Delay { delay: delay_ms })
            }
            ToxicKind::Timeout { timeout_ms } | ToxicKind::ResetPeer { timeout_ms } => {
                serde_json::to_value(wire::Timeout {
                    timeout: timeout_ms,
                })
            }
            ToxicKind::Slicer {
                average_size_bytes,
                size_variation_bytes,
                delay_us,
            } => serde_json::to_value(wire::Slicer {
                average_size: average_size_bytes,
                size_variation: size_variation_bytes,
                delay: delay_us,
            }),
            ToxicKind::LimitData { bytes } => serde_json::to_value(wire::LimitData { bytes }),
        };
        match v {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    /// Parse a type name and an attributes object (absent attributes default to 0, unknown
    /// ones are ignored, as in Toxiproxy), then validate.
    pub fn from_attributes(type_name: &str, attributes: &Value) -> Result<ToxicKind, ProxyError> {
        fn parse<T: serde::de::DeserializeOwned + Default>(v: &Value) -> Result<T, ProxyError> {
            match v {
                Value::Null => Ok(T::default()),
                v => T::deserialize(v)
                    .map_err(|e| ProxyError::BadRequest(format!("attributes: {e}"))),
            }
        }
        let kind = match type_name {
            "latency" => {
                let a: wire::Latency = parse(attributes)?;
                ToxicKind::Latency {
                    latency_ms: a.latency,
                    jitter_ms: a.jitter,
                }
            }
            "bandwidth" => ToxicKind::Bandwidth {
                rate_kb_per_s: parse::<wire::Bandwidth>(attributes)?.rate,
            },
            "slow_close" => ToxicKind::SlowClose {
                delay_ms: parse::<wire::Delay>(attributes)?.delay,
            },
            "timeout" => ToxicKind::Timeout {
                timeout_ms: parse::<wire::Timeout>(attributes)?.timeout,
            },
            "reset_peer" => ToxicKind::ResetPeer {
                timeout_ms: parse::<wire::Timeout>(attributes)?.timeout,
            },
            "slicer" => {
                let a: wire::Slicer = parse(attributes)?;
                ToxicKind::Slicer {
                    average_size_bytes: a.average_size,
                    size_variation_bytes: a.size_variation,
                    delay_us: a.delay,
                }
            }
            "limit_data" => ToxicKind::LimitData {
                bytes: parse::<wire::LimitData>(attributes)?.bytes,
            },
            other => return Err(ProxyError::InvalidToxicType(other.to_owned())),
        };
        kind.validate()?;
        Ok(kind)
    }

    /// Reject parameters that would make a toxic misbehave (Toxiproxy loops forever on a slicer
    /// with `average_size` 0, for one).
    pub fn validate(&self) -> Result<(), ProxyError> {
        const DAY_MS: u64 = 24 * 3600 * 1000;
        let too_long = |ms: u64, what: &str| {
            if ms > DAY_MS {
                Err(ProxyError::BadRequest(format!(
                    "{what} must be at most {DAY_MS} ms"
                )))
            } else {
                Ok(())
            }
        };
        match *self {
            ToxicKind::Latency {
                latency_ms,
                jitter_ms,
            } => {
                too_long(latency_ms, "latency")?;
                too_long(jitter_ms, "jitter")
            }
            ToxicKind::SlowClose { delay_ms } => too_long(delay_ms, "delay"),
            ToxicKind::Timeout { timeout_ms } | ToxicKind::ResetPeer { timeout_ms } => {
                too_long(timeout_ms, "timeout")
            }
            ToxicKind::Slicer {
                average_size_bytes,
                delay_us,
                ..
            } => {
                if average_size_bytes == 0 {
                    return Err(ProxyError::BadRequest(
                        "slicer average_size must be greater than 0".into(),
                    ));
                }
                too_long(delay_us / 1000, "delay")
            }
            ToxicKind::Bandwidth { .. } | ToxicKind::LimitData { .. } => Ok(()),
        }
    }
}

/// A named toxic on one stream of a proxy.
#[derive(Clone, Debug, PartialEq)]
pub struct Toxic {
    /// Unique within its proxy (across both streams). Defaults to `<type>_<stream>`.
    pub name: String,
    pub stream: Stream,
    /// Probability that the toxic applies to a given connection, rolled per connection when
    /// the toxic reaches it (and again when the toxic is updated). 1.0 = always.
    pub toxicity: f32,
    pub kind: ToxicKind,
}

impl Toxic {
    /// A toxic with Toxiproxy's defaults: name `<type>_<stream>`, toxicity 1.0.
    pub fn new(stream: Stream, kind: ToxicKind) -> Toxic {
        Toxic {
            name: format!("{}_{}", kind.type_name(), stream.as_str()),
            stream,
            toxicity: 1.0,
            kind,
        }
    }

    pub fn named(mut self, name: impl Into<String>) -> Toxic {
        self.name = name.into();
        self
    }

    /// Refuses a toxicity that is not a probability.
    pub fn check_toxicity(toxicity: f32) -> Result<(), ProxyError> {
        if toxicity.is_finite() && (0.0..=1.0).contains(&toxicity) {
            Ok(())
        } else {
            Err(ProxyError::BadRequest(format!(
                "toxicity {toxicity} is not a probability: give a number in 0..=1 (1 = every connection)"
            )))
        }
    }

    pub fn with_toxicity(mut self, toxicity: f32) -> Toxic {
        self.toxicity = toxicity;
        self
    }

    pub fn latency(stream: Stream, latency_ms: u64, jitter_ms: u64) -> Toxic {
        Toxic::new(
            stream,
            ToxicKind::Latency {
                latency_ms,
                jitter_ms,
            },
        )
    }

    /// A blackhole: nothing passes, the connection stays open (timeout 0).
    pub fn blackhole(stream: Stream) -> Toxic {
        Toxic::new(stream, ToxicKind::Timeout { timeout_ms: 0 })
    }

    /// The Toxiproxy JSON form: `{name, type, stream, toxicity, attributes}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "type": self.kind.type_name(),
            "stream": self.stream.as_str(),
            "toxicity": self.toxicity,
            "attributes": Value::Object(self.kind.attributes()),
        })
    }

    /// Parse a toxic-creation body with Toxiproxy's defaults and checks, in its order:
    /// body, stream, default name, type, attributes.
    pub fn from_json(body: &[u8]) -> Result<Toxic, ProxyError> {
        #[derive(Deserialize)]
        struct Create {
            #[serde(default)]
            name: String,
            #[serde(default, rename = "type")]
            type_name: String,
            #[serde(default = "default_stream")]
            stream: String,
            #[serde(default = "default_toxicity")]
            toxicity: f32,
            #[serde(default)]
            attributes: Value,
        }
        fn default_stream() -> String {
            "downstream".into()
        }
        fn default_toxicity() -> f32 {
            1.0
        }
        let c: Create = serde_json::from_slice(body).map_err(|e| {
            ProxyError::BadRequest(checkers::quote::clip_message(&e.to_string()).into_owned())
        })?;
        let stream = Stream::parse(&c.stream)?;
        Self::check_toxicity(c.toxicity)?;
        if !ToxicKind::TYPE_NAMES.contains(&c.type_name.as_str()) {
            return Err(ProxyError::InvalidToxicType(c.type_name));
        }
        let kind = ToxicKind::from_attributes(&c.type_name, &c.attributes)?;
        let name = if c.name.is_empty() {
            format!("{}_{}", c.type_name, stream.as_str())
        } else {
            c.name
        };
        Ok(Toxic {
            name,
            stream,
            toxicity: c.toxicity,
            kind,
        })
    }

    /// Apply a Toxiproxy update body (`{attributes: {...}, toxicity}`): attributes given override
    /// the current ones, the rest stay; name, type and stream cannot change.
    pub fn apply_update_json(&self, body: &[u8]) -> Result<Toxic, ProxyError> {
        #[derive(Deserialize)]
        struct Update {
            #[serde(default)]
            attributes: Option<Map<String, Value>>,
            #[serde(default)]
            toxicity: Option<f32>,
        }
        let u: Update = serde_json::from_slice(body).map_err(|e| {
            ProxyError::BadRequest(checkers::quote::clip_message(&e.to_string()).into_owned())
        })?;
        let mut attrs = self.kind.attributes();
        if let Some(given) = u.attributes {
            attrs.extend(given);
        }
        let kind = ToxicKind::from_attributes(self.kind.type_name(), &Value::Object(attrs))?;
        if let Some(t) = u.toxicity {
            Self::check_toxicity(t)?;
        }
        Ok(Toxic {
            name: self.name.clone(),
            stream: self.stream,
            toxicity: u.toxicity.unwrap_or(self.toxicity),
            kind,
        })
    }
}

impl Serialize for Toxic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_toxiproxy() {
        let t = Toxic::from_json(br#"{"type":"latency","attributes":{"latency":100}}"#).unwrap();
        assert_eq!(t.name, "latency_downstream");
        assert_eq!(t.stream, Stream::Downstream);
        assert_eq!(t.toxicity, 1.0);
        assert_eq!(
            t.kind,
            ToxicKind::Latency {
                latency_ms: 100,
                jitter_ms: 0
            }
        );
    }

    #[test]
    fn every_kind_round_trips_through_json() {
        for type_name in ToxicKind::TYPE_NAMES {
            let body = format!(
                r#"{{"type":"{type_name}","stream":"upstream","attributes":{{"latency":5,"jitter":1,"rate":7,"delay":3,"timeout":2,"average_size":10,"size_variation":2,"bytes":9}}}}"#
            );
            let t = Toxic::from_json(body.as_bytes()).unwrap();
            let back = Toxic::from_json(t.to_json().to_string().as_bytes()).unwrap();
            assert_eq!(t, back, "{type_name}");
        }
    }

    #[test]
    fn bad_input_is_rejected() {
        assert!(matches!(
            Toxic::from_json(br#"{"type":"nope"}"#),
            Err(ProxyError::InvalidToxicType(_))
        ));
        assert!(matches!(
            Toxic::from_json(br#"{"type":"latency","stream":"sideways"}"#),
            Err(ProxyError::InvalidStream(_))
        ));
        assert!(matches!(
            Toxic::from_json(br#"{"type":"latency","attributes":{"latency":-1}}"#),
            Err(ProxyError::BadRequest(_))
        ));
        assert!(matches!(
            Toxic::from_json(br#"{"type":"slicer","attributes":{"average_size":0}}"#),
            Err(ProxyError::BadRequest(_))
        ));
        assert!(matches!(
            Toxic::from_json(b"{"),
            Err(ProxyError::BadRequest(_))
        ));
    }

    #[test]
    fn update_merges_attributes() {
        let t = Toxic::latency(Stream::Upstream, 100, 10);
        let u = t
            .apply_update_json(br#"{"attributes":{"jitter":3},"toxicity":0.5}"#)
            .unwrap();
        assert_eq!(
            u.kind,
            ToxicKind::Latency {
                latency_ms: 100,
                jitter_ms: 3
            }
        );
        assert_eq!(u.toxicity, 0.5);
        assert_eq!(u.name, "latency_upstream");
    }
}
