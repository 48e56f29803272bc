//! A fresh plan: the contention of a run (clients, lease, op timeout, long critical sections)
//! and one to three faults drawn by their plug-ins against that run's scale — written out as an
//! ordinary scenario, so every explore run replays with `fencepost scenario FILE --seed N`.

use super::palette::Palette;
use super::target::Target;
use crate::duration::Dur;
use crate::nemesis::draw::{ms, Scale};
use crate::nemesis::NemesisSpec;
use crate::scenario::edit::{revalidate, scaled};
use crate::scenario::{Scenario, ScenarioError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// At most this many faults in one run.
pub const MAX_FAULTS: usize = 3;

/// The op timeouts drawn, in leases: shorter than the lease, as long, and longer — the common
/// deployment (a library's socket timeout is often seconds, or none, beside a lease of seconds),
/// and the only one in which a reply delayed past the lease still reaches a waiting client.
const OP_TIMEOUT_LEASES: [f64; 4] = [0.5, 1.0, 2.0, 3.0];

/// An op timeout for a lease of `ttl`: one of [`OP_TIMEOUT_LEASES`].
pub fn op_timeout(ttl: Dur, rng: &mut ChaCha8Rng) -> Dur {
    scaled(
        ttl,
        OP_TIMEOUT_LEASES[rng.random_range(0..OP_TIMEOUT_LEASES.len())],
    )
}

/// How hard the clients contend, and on what lease.
#[derive(Clone, Debug)]
pub struct Contention {
    pub clients: u32,
    pub ttl: Dur,
    pub op_timeout: Dur,
    pub duration: Dur,
    /// One critical section in `.1` lasts `.0` (past the lease: the library must extend or
    /// renew). Client processes only.
    pub long: Option<(Dur, u32)>,
}

impl Contention {
    pub fn draw(rng: &mut ChaCha8Rng, target: &Target) -> Contention {
        // Whole seconds: some libraries (python-redis-lock) take no less.
        let ttl = ms(1000 * rng.random_range(1..=2));
        let op_timeout = op_timeout(ttl, rng);
        let long = (target.client_processes() && rng.random_bool(0.75)).then(|| {
            (
                scaled(ttl, rng.random_range(1.2..=2.0)),
                [10, 20, 40][rng.random_range(0..3)],
            )
        });
        Contention {
            clients: rng.random_range(2..=8),
            ttl,
            op_timeout,
            duration: ms(10_000),
            long,
        }
    }
}

/// The scale a fault of `s` is drawn against.
pub fn scale(s: &Scenario) -> Scale {
    Scale {
        bounds: s.bounds(),
        duration: s.run.duration,
        ttl: s.lock.ttl,
        op_timeout: s.lock.op_timeout,
    }
}

/// The scenario for `target` under `c` with `faults`, validated as a file would be.
pub fn scenario(
    target: &Target,
    c: &Contention,
    faults: &[NemesisSpec],
) -> Result<Scenario, ScenarioError> {
    let (kind, nodes, client) = target.lock_and_client();
    let long = match c.long {
        Some((section, one_in)) if target.client_processes() => {
            format!("long_section = \"{section}\"\nlong_one_in = {one_in}\n")
        }
        _ => String::new(),
    };
    let text = format!(
        "name = \"{name}\"\n\
         description = \"A schedule drawn by fencepost explore for {label}.\"\n\
         [run]\nduration = \"{duration}\"\nclients = {clients}\n\
         [lock]\nkind = \"{kind}\"\nnodes = {nodes}\nttl = \"{ttl}\"\nop_timeout = \"{op_timeout}\"\n\
         [resource]\nfenced = false\n\
         [workload]\nthink_max = \"20ms\"\nretry_min = \"5ms\"\nretry_max = \"30ms\"\nidle_max = \"10ms\"\n\
         {client}{long}\
         [expect]\nblame = \"holds\"\n",
        name = target.scenario_name(),
        label = target.label().replace(['"', '\\'], "'"),
        duration = c.duration,
        clients = c.clients,
        kind = kind.name(),
        ttl = c.ttl,
        op_timeout = c.op_timeout,
    );
    let mut s = Scenario::parse(Path::new("(explore)"), &text)?;
    s.nemesis = faults.to_vec();
    revalidate(&s)
}

/// How many faults a fresh plan gets: one most often, up to [`MAX_FAULTS`].
fn fault_count(rng: &mut ChaCha8Rng) -> usize {
    match rng.random_range(0..10) {
        0..6 => 1,
        6..9 => 2,
        _ => MAX_FAULTS,
    }
}

/// A fresh plan: contention, then faults of `kinds` drawn against it. Draws again (up to 100
/// times) when the faults do not fit the run together.
pub fn fresh(target: &Target, kinds: &Palette, rng: &mut ChaCha8Rng) -> Result<Scenario, String> {
    let mut last = String::from("no fault kind could be drawn for this run");
    for _ in 0..100 {
        let c = Contention::draw(rng, target);
        let base = scenario(target, &c, &[]).map_err(|e| e.to_string())?;
        let faults: Vec<NemesisSpec> = (0..fault_count(rng))
            .filter_map(|_| draw_one(kinds, &scale(&base), rng))
            .collect();
        if faults.is_empty() {
            continue;
        }
        match scenario(target, &c, &faults) {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// One fault of one of `kinds` (drawn by the palette's weights) for a run of `scale`.
pub fn draw_one(kinds: &Palette, scale: &Scale, rng: &mut ChaCha8Rng) -> Option<NemesisSpec> {
    let kind = kinds.pick(rng)?;
    crate::nemesis::draw_fault(kind, scale, rng)
}

/// The fault kinds that can be drawn for `target` (of `wanted`, or of every registered one):
/// those whose plug-in draws a config its own validation accepts for such a run.
pub fn drawable(target: &Target, wanted: Option<&[String]>) -> Result<Vec<&'static str>, String> {
    let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let c = Contention::draw(&mut rng, target);
    let base = scenario(target, &c, &[]).map_err(|e| e.to_string())?;
    let s = scale(&base);
    let mut can = |k: &str| (0..20).any(|_| crate::nemesis::draw_fault(k, &s, &mut rng).is_some());
    match wanted {
        None => Ok(crate::nemesis::KINDS
            .iter()
            .copied()
            .filter(|k| can(k))
            .collect()),
        Some(names) => names
            .iter()
            .map(|n| {
                let kind = crate::nemesis::KINDS
                    .iter()
                    .copied()
                    .find(|k| k == n)
                    .ok_or_else(|| crate::suggest::unknown("fault", n, crate::nemesis::KINDS))?;
                if can(kind) {
                    Ok(kind)
                } else {
                    Err(format!(
                        "fault `{n}` cannot be drawn for {}: explore has no draw for it, or it \
                         cannot act on such a run (see `fencepost faults`)",
                        target.label()
                    ))
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_fresh_plan_is_a_valid_scenario_with_one_to_three_faults() {
        let lib = Target::Library("redis-py".into());
        let kinds = drawable(&lib, None).unwrap();
        for k in [
            "gc-pause",
            "latency",
            "clock",
            "client-clock-strobe",
            "process-kill",
            "crash",
            "partition",
            "call-abandon",
            "loop-starve",
            "script-flush",
            "contention-burst",
            "node-pause",
        ] {
            assert!(kinds.contains(&k), "{k} not drawable: {kinds:?}");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let palette = Palette::new(kinds, true);
        for _ in 0..300 {
            let s = fresh(&lib, &palette, &mut rng).unwrap();
            assert!((1..=MAX_FAULTS).contains(&s.nemesis.len()));
            revalidate(&s).unwrap();
        }
    }

    #[test]
    fn in_process_locks_get_no_fault_that_needs_client_processes() {
        let own = Target::Lock(crate::scenario::lock::LockKind::Single);
        let kinds = drawable(&own, None).unwrap();
        assert!(kinds.contains(&"gc-pause"));
        for k in ["process-kill", "call-abandon", "loop-starve"] {
            assert!(!kinds.contains(&k), "{k} drawn for in-process clients");
        }
        let err = drawable(&own, Some(&["process-kill".to_string()])).unwrap_err();
        assert!(err.contains("cannot be drawn"), "{err}");
        let err = drawable(&own, Some(&["gc-pase".to_string()])).unwrap_err();
        assert!(err.contains("did you mean `gc-pause`"), "{err}");
    }
}
