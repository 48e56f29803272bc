//! Deliberate flaws of the reference adapter: each makes fencepost's own lock give one kind of
//! answer no correct lock may give, so that a run shows the blame checker catching that kind
//! (`fencepost adapter --lock single --flaw NAME`). Two are flaws of the lock itself
//! ([`workloads::lock::Flaw`]: it returns late grants, it re-takes lapsed keys); the others
//! distort one part of an otherwise correct answer on its way out. Never used by the scenarios
//! that judge fencepost's own locks.

use rand::Rng;
use serde_json::{Map, Value as Json};
use workloads::lock::Flaw;

/// A flaw by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterFlaw {
    /// In the lock itself.
    Lock(Flaw),
    /// In the answer it gives.
    Answer(Lie),
}

/// One part of an answer distorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// A grant's validity runs a ttl longer than the lock computed (a validity from a wall
    /// clock that stepped back).
    InflatedValidity,
    /// An extension's validity runs a ttl longer than the lock computed.
    InflatedExtension,
    /// A denied acquire is answered granted, with a token no node holds.
    GrantAlways,
    /// A refused extension is answered extended.
    ExtendAlways,
    /// Every release is answered released, whatever the compare-and-delete said.
    ReleaseAny,
    /// Every release is answered not released.
    ReleaseDenies,
    /// `held` is answered true while there is a grant, however old.
    HeldForever,
}

/// Every flaw: name, what it makes the lock answer wrongly.
pub const FLAWS: [(&str, AdapterFlaw); 9] = [
    ("no-elapsed", AdapterFlaw::Lock(Flaw::NoElapsed)),
    ("retake-on-extend", AdapterFlaw::Lock(Flaw::RetakeOnExtend)),
    (
        "inflated-validity",
        AdapterFlaw::Answer(Lie::InflatedValidity),
    ),
    (
        "inflated-extension",
        AdapterFlaw::Answer(Lie::InflatedExtension),
    ),
    ("grant-always", AdapterFlaw::Answer(Lie::GrantAlways)),
    ("extend-always", AdapterFlaw::Answer(Lie::ExtendAlways)),
    ("release-any", AdapterFlaw::Answer(Lie::ReleaseAny)),
    ("release-denies", AdapterFlaw::Answer(Lie::ReleaseDenies)),
    ("held-forever", AdapterFlaw::Answer(Lie::HeldForever)),
];

/// A flaw by name (`--flaw NAME`).
pub fn parse_flaw(s: &str) -> Result<AdapterFlaw, String> {
    FLAWS
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            let names: Vec<&str> = FLAWS.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown flaw `{s}`{}: use one of {}",
                crate::suggest::did_you_mean(s, names.iter().copied()),
                names.join(", ")
            )
        })
}

impl AdapterFlaw {
    pub fn name(self) -> &'static str {
        FLAWS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(n, _)| n)
    }

    pub fn lock(self) -> Option<Flaw> {
        match self {
            AdapterFlaw::Lock(f) => Some(f),
            AdapterFlaw::Answer(_) => None,
        }
    }
}

impl Lie {
    /// Distorts the answer `m` to `op` (the lock's own, correct one). `ttl_ns` is the lease
    /// asked for; `has_grant` whether the adapter holds a grant object.
    pub fn distort(
        self,
        op: &str,
        m: &mut Map<String, Json>,
        ttl_ns: u64,
        has_grant: bool,
        rng: &mut impl Rng,
    ) {
        let until = "valid_until_ns";
        match (self, op) {
            (Lie::InflatedValidity, "acquire") | (Lie::InflatedExtension, "extend") => {
                if let Some(u) = m.get(until).and_then(Json::as_u64) {
                    m.insert(until.into(), (u + ttl_ns).into());
                }
            }
            (Lie::GrantAlways, "acquire") if m.get("granted") == Some(&Json::Bool(false)) => {
                let token: u128 = rng.random();
                m.insert("granted".into(), true.into());
                m.insert("token".into(), format!("{token:032x}").into());
            }
            (Lie::ExtendAlways, "extend") if m.get("extended") == Some(&Json::Bool(false)) => {
                m.insert("extended".into(), true.into());
            }
            (Lie::ReleaseAny, "release") if m.contains_key("released") => {
                m.insert("released".into(), true.into());
            }
            (Lie::ReleaseDenies, "release") if m.contains_key("released") => {
                m.insert("released".into(), false.into());
            }
            (Lie::HeldForever, "held") if has_grant => {
                m.insert("held".into(), true.into());
            }
            _ => {}
        }
    }
}
