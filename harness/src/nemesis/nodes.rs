//! Which lock nodes a node fault (pause, clock, crash) hits: one, a minority, a majority, all,
//! or one named node. Random picks come from the nemesis's seeded RNG.
//!
//! For Redlock the sizes are the interesting ones: a minority (N−1)/2 of the nodes down leaves a
//! majority to grant; a majority N/2+1 down leaves none.

use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A target, written in a scenario as `"one"`, `"minority"`, `"majority"`, `"all"` or a node
/// name such as `"n3"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeTarget {
    One,
    /// (N−1)/2 nodes: the largest group whose loss a majority survives.
    Minority,
    /// N/2+1 nodes.
    Majority,
    All,
    /// Node `n{k}` (1-based).
    Node(u32),
}

impl NodeTarget {
    /// How many nodes it hits out of `n`.
    pub fn size(self, n: usize) -> usize {
        match self {
            NodeTarget::One | NodeTarget::Node(_) => 1.min(n),
            NodeTarget::Minority => n.saturating_sub(1) / 2,
            NodeTarget::Majority => n / 2 + 1,
            NodeTarget::All => n,
        }
    }

    /// Why this target cannot apply to `n` lock nodes, if it cannot.
    pub fn check(self, n: u32) -> Result<(), String> {
        match self {
            NodeTarget::Node(k) if k == 0 || k > n => Err(format!(
                "target `n{k}` does not exist: the lock has nodes n1..n{n}"
            )),
            NodeTarget::Minority if n < 3 => Err(format!(
                "target `minority` of {n} node(s) is empty: use 3 or more nodes, or `one`"
            )),
            _ => Ok(()),
        }
    }

    /// [`check`](Self::check) as a scenario error of the `[[nemesis]] kind` section.
    pub fn validate_for(self, kind: &str, n: u32) -> Result<(), super::Invalid> {
        self.check(n)
            .map_err(|m| super::Invalid::new("target", format!("[[nemesis]] {kind}: {m}")))
    }

    /// Picks the nodes (names, in node order) among `nodes`.
    pub fn pick(self, nodes: &[String], rng: &mut ChaCha8Rng) -> Vec<String> {
        if let NodeTarget::Node(k) = self {
            return nodes.get(k as usize - 1).cloned().into_iter().collect();
        }
        let k = self.size(nodes.len());
        let mut idx: Vec<usize> = sample(rng, nodes.len(), k).into_vec();
        idx.sort_unstable();
        idx.into_iter().map(|i| nodes[i].clone()).collect()
    }
}

impl fmt::Display for NodeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeTarget::One => write!(f, "one"),
            NodeTarget::Minority => write!(f, "minority"),
            NodeTarget::Majority => write!(f, "majority"),
            NodeTarget::All => write!(f, "all"),
            NodeTarget::Node(k) => write!(f, "n{k}"),
        }
    }
}

impl std::str::FromStr for NodeTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "one" => Ok(NodeTarget::One),
            "minority" => Ok(NodeTarget::Minority),
            "majority" => Ok(NodeTarget::Majority),
            "all" => Ok(NodeTarget::All),
            _ => s
                .strip_prefix('n')
                .and_then(|k| k.parse::<u32>().ok())
                .map(NodeTarget::Node)
                .ok_or_else(|| {
                    format!("unknown target `{s}`: use one, minority, majority, all or a node name like n3")
                }),
        }
    }
}

impl Serialize for NodeTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for NodeTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl schemars::JsonSchema for NodeTarget {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeTarget".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "node-target"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn sizes_over_five_nodes() {
        assert_eq!(NodeTarget::One.size(5), 1);
        assert_eq!(NodeTarget::Minority.size(5), 2);
        assert_eq!(NodeTarget::Majority.size(5), 3);
        assert_eq!(NodeTarget::All.size(5), 5);
    }

    #[test]
    fn picks_are_seeded_distinct_and_named_nodes_are_exact() {
        let mut a = ChaCha8Rng::seed_from_u64(7);
        let mut b = ChaCha8Rng::seed_from_u64(7);
        let x = NodeTarget::Majority.pick(&nodes(5), &mut a);
        assert_eq!(x, NodeTarget::Majority.pick(&nodes(5), &mut b));
        let mut d = x.clone();
        d.dedup();
        assert_eq!(d.len(), 3);
        assert_eq!(NodeTarget::Node(3).pick(&nodes(5), &mut a), vec!["n3"]);
    }

    #[test]
    fn parses_and_checks() {
        assert_eq!("n3".parse::<NodeTarget>(), Ok(NodeTarget::Node(3)));
        assert!("n".parse::<NodeTarget>().is_err());
        assert!("most".parse::<NodeTarget>().is_err());
        assert!(NodeTarget::Node(6).check(5).is_err());
        assert!(NodeTarget::Minority.check(1).is_err());
        assert!(NodeTarget::Majority.check(1).is_ok());
    }
}
