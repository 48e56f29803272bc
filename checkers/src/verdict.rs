//! Verdicts: what a checker concludes about a history.
//!
//! As in Jepsen, verdicts merge with priority `valid < unknown < invalid`: one invalid checker
//! makes the run invalid; an unknown one (budget exhausted, evidence missing) keeps it from being
//! called valid.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    Valid,
    Unknown,
    Invalid,
}

impl Validity {
    /// Jepsen's merge: the worse of the two.
    pub fn merge(self, other: Validity) -> Validity {
        self.max(other)
    }
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Validity::Valid => "valid",
            Validity::Unknown => "unknown",
            Validity::Invalid => "invalid",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_priority() {
        assert_eq!(Validity::Valid.merge(Validity::Unknown), Validity::Unknown);
        assert_eq!(
            Validity::Unknown.merge(Validity::Invalid),
            Validity::Invalid
        );
        assert_eq!(Validity::Invalid.merge(Validity::Valid), Validity::Invalid);
        assert_eq!(Validity::Valid.merge(Validity::Valid), Validity::Valid);
    }
}
