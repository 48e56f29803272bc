//! Sequential models: what a correct object would do, one op at a time.
//!
//! The linearizability search ([`crate::linearizable`]) asks a model only pure questions: from this
//! state, may this op with this return happen, and where does it leave the object? Ops and returns
//! are typed per model (no strings), so a history that does not fit the model is caught when it is
//! read, not half-way through a search.
//!
//! Two facts a model states about its ops make the search fast, and each must be true for every
//! state (the property tests check them against brute force):
//! - [`Model::is_observer`]: this op with this return never changes the state (a read, a denied
//!   acquire, a refused release). The search linearizes observers greedily the moment they fit.
//! - [`Model::step_unknown`]: the one effect an op with an unknown return (`info`) may have had.
//!   "It had no effect" is always also allowed, so a model returns `None` when the only outcome
//!   from this state is no effect (an acquire while held would have been denied).
//! - [`Model::unknown_class`]: ops with unknown returns that are interchangeable (the mutex's
//!   timed-out acquires by different clients have the same possible effect).
//! - [`Model::toggle`] and [`Model::toggled`]: *alternation channels*. A channel is a yes/no
//!   property of the state ("the lock is held by client 3"); an op tagged `on` for a channel can
//!   only change the state when the property is false, and makes it true; `off` the reverse; no
//!   other step (untagged, or tagged for another channel) changes it. So along any sequence of
//!   steps the `on` and `off` steps of a channel alternate, which bounds how many of a batch of
//!   pending `info` ops can ever take effect (see [`crate::linearizable`]).

pub mod cas_register;
pub mod counter;
pub mod lock;
pub mod mutex;
pub mod register;

use std::fmt::Debug;
use std::hash::Hash;

pub use cas_register::{CasOp, CasRegister, CasRet};
pub use counter::{Counter, CounterOp, CounterRet};
pub use lock::{Lock, LockOp, LockRet, Owner};
pub use mutex::Mutex;
pub use register::{Register, RegisterOp, RegisterRet};

/// A step that flips an alternation channel (see the module header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Toggle {
    pub channel: u32,
    /// `true`: the step sets the channel's property (legal only when it is unset).
    pub on: bool,
}

/// Which alternation channel an op with a known return needs set to be legal (see
/// [`Model::needs_on`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Need {
    /// Any channel set (a denial: the lock held by someone).
    Any,
    /// This channel set (the caller's release → released: held by the caller).
    Channel(u32),
}

/// A sequential specification, pure and deterministic.
pub trait Model: Sync {
    type State: Clone + Eq + Hash + Debug + Send + Sync;
    type Op: Clone + Eq + Hash + Debug + Send + Sync;
    type Ret: Clone + Eq + Debug + Send + Sync;

    /// The state before any op.
    fn init(&self) -> Self::State;

    /// The state after `op` returned `ret` from `state`, or `None` when that cannot happen.
    fn step(&self, state: &Self::State, op: &Self::Op, ret: &Self::Ret) -> Option<Self::State>;

    /// The state after `op` took effect with a return nobody saw, or `None` when from `state` it
    /// could only have had no effect. Not taking effect at all is always possible besides.
    fn step_unknown(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// True when `op` returning `ret` leaves every state it is legal in unchanged.
    fn is_observer(&self, op: &Self::Op, ret: &Self::Ret) -> bool;

    /// True when `op` cannot change the state whatever it returned: with an unknown return it
    /// constrains nothing and is dropped before the search.
    fn is_read_only(&self, op: &Self::Op) -> bool;

    /// A representative of the ops interchangeable with `op` when their returns are unknown:
    /// `step_unknown` and `toggle(_, None)` must give the same answers for both, from every
    /// state. The default, `op` itself, is always right.
    fn unknown_class(&self, op: &Self::Op) -> Self::Op {
        op.clone()
    }

    /// The alternation channel `op` flips when it takes effect with return `ret` (`None`: with
    /// an unknown return, as in [`Model::step_unknown`]), or `None` when it flips none. For every
    /// state `s` in which the step is legal and leads to `s2`: with `Some(Toggle { channel, on })`,
    /// `toggled(s, channel) == !on` and `toggled(s2, channel) == on`, every other channel keeps
    /// its value; with `None`, every channel keeps its value. The default (no channels) is always
    /// right; it only forgoes the pruning.
    fn toggle(&self, _op: &Self::Op, _ret: Option<&Self::Ret>) -> Option<Toggle> {
        None
    }

    /// True when an `info` op that took effect can always be moved later in a linearization,
    /// to just before an op its step enables (legal after it, not before): then the search
    /// takes an `info` step only where it enables a pending op at once, or an `info` step that
    /// does (see "Lazy `info` steps" in [`crate::linearizable`]). The default, `false`, is
    /// always right; a model returning `true` argues it in its own docs, and the property tests
    /// check it against brute force.
    fn lazy_unknown(&self) -> bool {
        false
    }

    /// With a lazy model ([`Model::lazy_unknown`]): the channel `op` returning `ret` needs set.
    /// The contract: every op with a known return that an `info` step setting channel `c`
    /// enables (legal after the step, not before) has `Some(Need::Any)` or
    /// `Some(Need::Channel(c))`. So the `info` steps setting `c` that a lazy linearization
    /// still takes are at most the ops needing `c` (or any channel) still to be linearized,
    /// which caps their count. Only asked of lazy models.
    fn needs_on(&self, _op: &Self::Op, _ret: &Self::Ret) -> Option<Need> {
        None
    }

    /// The value of `channel`'s property in `state` (see [`Model::toggle`]).
    fn toggled(&self, _state: &Self::State, _channel: u32) -> bool {
        false
    }

    /// The op in plain words, with its return when known (`acquire by 3 → denied`).
    fn describe_op(&self, op: &Self::Op, ret: Option<&Self::Ret>) -> String;

    /// The state in plain words (`held by 3`).
    fn describe_state(&self, state: &Self::State) -> String;
}

/// The models `fencepost check --model MODEL` knows, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Knossos's mutex: acquire succeeds iff free, release iff held (by anyone).
    Mutex,
    /// A mutex with owners: release succeeds iff held by the caller.
    Lock,
    /// Read/write register.
    Register,
    /// Read/write/compare-and-set register.
    CasRegister,
    /// Counter: add and read.
    Counter,
}

impl ModelKind {
    pub const ALL: [ModelKind; 5] = [
        ModelKind::Mutex,
        ModelKind::Lock,
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Counter,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mutex => "mutex",
            ModelKind::Lock => "lock",
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Counter => "counter",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A model name that is not one of [`ModelKind::ALL`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown model `{0}`; expected one of: mutex, lock, register, cas-register, counter")]
pub struct UnknownModel(pub String);

impl std::str::FromStr for ModelKind {
    type Err = UnknownModel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s || (s == "cas_register" && *k == ModelKind::CasRegister))
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

/// Formats an optional register value the way Jepsen prints it.
pub(crate) fn show_value(v: Option<i64>) -> String {
    v.map_or_else(|| "nil".to_string(), |v| v.to_string())
}
