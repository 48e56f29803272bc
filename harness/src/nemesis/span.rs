//! A duration a fault draws from the seed: written `"3ms"` (always that) or `"1ms..20ms"`
//! (uniform between the two, both included), for the moments a field fault aims at — where an
//! abandoned call gives up, how far into an acquire a clock step lands.

use crate::duration::{self, Dur};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// `low..high`, or one fixed value (`low == high`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub low: Dur,
    pub high: Dur,
}

impl Span {
    pub fn fixed(d: Duration) -> Span {
        Span {
            low: Dur(d),
            high: Dur(d),
        }
    }

    /// One draw, uniform in low..=high.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> Duration {
        Duration::from_nanos(rng.random_range(self.low.ns()..=self.high.ns()))
    }

    /// One draw in whole milliseconds (what the client protocol carries), uniform in
    /// low..=high rounded to milliseconds.
    pub fn draw_ms(&self, rng: &mut ChaCha8Rng) -> u64 {
        rng.random_range(self.low.ms()..=self.high.ms())
    }

    fn parse(text: &str) -> Result<Span, String> {
        let one = |t: &str| duration::parse(t).map(Dur);
        let span = match text.split_once("..") {
            Some((a, b)) => Span {
                low: one(a)?,
                high: one(b)?,
            },
            None => Span::fixed(one(text)?.0),
        };
        if span.low > span.high {
            return Err(format!(
                "bad range `{text}`: {} is more than {}; write low..high, e.g. \"1ms..20ms\"",
                span.low, span.high
            ));
        }
        Ok(span)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}..{}", self.low, self.high)
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"3ms\", or a range such as \"1ms..20ms\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                Err(E::custom(format!(
                    "bad duration `{v}`: the unit is missing; write it as a string with a unit, e.g. \"{v}ms\" or \"1ms..{v}ms\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl schemars::JsonSchema for Span {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DurationRange".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "duration-range"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_fixed_values_and_ranges_and_refuses_reversed_ones() {
        let ms = |n| Dur(Duration::from_millis(n));
        assert_eq!(
            Span::parse("3ms"),
            Ok(Span {
                low: ms(3),
                high: ms(3)
            })
        );
        assert_eq!(
            Span::parse("1ms..20ms"),
            Ok(Span {
                low: ms(1),
                high: ms(20)
            })
        );
        assert!(Span::parse("20ms..1ms").unwrap_err().contains("low..high"));
        assert!(Span::parse("1..2ms").unwrap_err().contains("unit"));
        assert_eq!(Span::parse("1ms..20ms").unwrap().to_string(), "1ms..20ms");
    }

    #[test]
    fn draws_stay_in_the_range_and_follow_the_seed() {
        let s = Span::parse("2ms..4ms").unwrap();
        let mut a = ChaCha8Rng::seed_from_u64(3);
        let mut b = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..100 {
            let d = s.draw(&mut a);
            assert!((2..=4).contains(&d.as_millis()));
            assert_eq!(d, s.draw(&mut b));
            let ms = s.draw_ms(&mut a);
            assert!((2..=4).contains(&ms));
            assert_eq!(ms, s.draw_ms(&mut b));
        }
    }
}
