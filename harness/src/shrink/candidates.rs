//! The smaller schedules shrink tries, most reducing first: each fault dropped, then each
//! fault's lengths halved, its injections thinned out (`every` doubled) and moved earlier, then
//! fewer clients, a shorter run, no long critical sections. Built from
//! [`crate::scenario::edit`] (no fault is special here), every candidate validated as a file
//! would be; a candidate equal to its parent is left out.

use crate::duration::Dur;
use crate::scenario::edit::{
    has_lengths, map_lengths, revalidate, scale_every, scaled, to_toml, with_start,
};
use crate::scenario::Scenario;

/// How small a schedule is, to compare before and after: faults, injections' total length
/// (ms, of one injection each), clients, duration (ms).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Size {
    pub faults: usize,
    pub fault_ms: u64,
    pub clients: u32,
    pub duration_ms: u64,
    pub long_sections: bool,
}

pub fn size(s: &Scenario) -> Size {
    Size {
        faults: s.nemesis.len(),
        fault_ms: s.nemesis.iter().map(|n| n.plugin().longest().0.ms()).sum(),
        clients: s.run.clients,
        duration_ms: s.run.duration.ms(),
        long_sections: s.client.as_ref().is_some_and(|c| c.long_section.is_some()),
    }
}

/// Every candidate one step smaller than `s`, in the order shrink tries them.
pub fn candidates(s: &Scenario) -> Vec<(String, Scenario)> {
    let mut out: Vec<(String, Scenario)> = Vec::new();
    let mut push = |what: String, c: Scenario| {
        if let Ok(valid) = revalidate(&c) {
            if to_toml(&valid) != to_toml(s) {
                out.push((what, valid));
            }
        }
    };
    if s.nemesis.len() > 1 {
        for i in 0..s.nemesis.len() {
            let mut c = s.clone();
            let f = c.nemesis.remove(i);
            push(format!("drop {} (fault {})", f.kind(), i + 1), c);
        }
    }
    for (i, f) in s.nemesis.iter().enumerate() {
        let kind = f.kind();
        if has_lengths(f) {
            if let Some(g) = map_lengths(f, |d| scaled(d, 0.5)) {
                let mut c = s.clone();
                c.nemesis[i] = g;
                push(format!("halve {kind}'s lengths"), c);
            }
        }
        // Half as often only when it fires more than once: the shortest gap the driver draws
        // is half of `every`, and a fault whose second injection falls past the run's end
        // already fires once (a wider gap would change nothing but the file).
        let when = f.plugin().schedule();
        let recurs = when
            .every
            .is_some_and(|e| when.start.0 + e.0 / 2 < s.run.duration.0);
        if recurs {
            if let Some(g) = scale_every(f, 2.0) {
                let mut c = s.clone();
                c.nemesis[i] = g;
                push(format!("{kind} half as often"), c);
            }
        }
        let start = when.start;
        if start.ms() >= 500 {
            if let Some(g) = with_start(f, scaled(start, 0.5)) {
                let mut c = s.clone();
                c.nemesis[i] = g;
                push(format!("{kind} first at {}", scaled(start, 0.5)), c);
            }
        }
    }
    if s.run.clients > 1 {
        for n in [s.run.clients / 2, s.run.clients - 1] {
            if n >= 1 && n < s.run.clients {
                let mut c = s.clone();
                c.run.clients = n;
                push(format!("{n} clients"), c);
            }
        }
    }
    for f in [0.5, 0.75] {
        let d: Dur = scaled(s.run.duration, f);
        let mut c = s.clone();
        c.run.duration = d;
        push(format!("run {d}"), c);
    }
    if let Some(client) = s.client.as_ref().filter(|c| c.long_section.is_some()) {
        let mut c = s.clone();
        let mut cl = client.clone();
        cl.long_section = None;
        cl.long_one_in = None;
        c.client = Some(cl);
        push("no long critical sections".into(), c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(name: &str) -> Scenario {
        Scenario::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../scenarios")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn every_candidate_is_smaller_and_valid() {
        let s = load("libraries/call-abandon.toml");
        let before = size(&s);
        let c = candidates(&s);
        let names: Vec<&str> = c.iter().map(|(w, _)| w.as_str()).collect();
        assert!(names.contains(&"drop latency (fault 1)"), "{names:?}");
        assert!(names.contains(&"halve call-abandon's lengths"), "{names:?}");
        assert!(names.contains(&"no long critical sections"), "{names:?}");
        assert!(names.iter().any(|n| n.ends_with("clients")), "{names:?}");
        for (what, cand) in &c {
            let after = size(cand);
            let smaller = after.faults < before.faults
                || after.fault_ms < before.fault_ms
                || after.clients < before.clients
                || after.duration_ms < before.duration_ms
                || (before.long_sections && !after.long_sections)
                || to_toml(cand) != to_toml(&s);
            assert!(smaller, "{what} is not smaller");
        }
    }

    #[test]
    fn a_fault_that_fires_once_is_not_made_rarer() {
        // reply-delay's latency starts at 1 s every 5 s in a 10 s run: it recurs. Every 20 s
        // from 3 s on, it fires once: "half as often" would change nothing but the file (shrink
        // kept such a candidate over and over).
        let mut s = load("libraries/reply-delay.toml");
        assert!(candidates(&s)
            .iter()
            .any(|(w, _)| w == "latency half as often"));
        s.nemesis[0] = crate::scenario::edit::scale_every(&s.nemesis[0], 4.0).unwrap();
        s.nemesis[0] = crate::scenario::edit::with_start(
            &s.nemesis[0],
            crate::scenario::edit::scaled(s.run.duration, 0.3),
        )
        .unwrap();
        assert!(!candidates(&s)
            .iter()
            .any(|(w, _)| w.ends_with("half as often")));
    }

    #[test]
    fn a_single_fault_is_never_dropped() {
        let s = load("libraries/process-stop.toml");
        assert!(candidates(&s)
            .iter()
            .all(|(w, c)| !w.starts_with("drop") && c.nemesis.len() == 1));
    }
}
