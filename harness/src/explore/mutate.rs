//! Mutations: a corpus schedule changed a little — a fault moved, stretched, thinned out, added,
//! dropped or redrawn, one of its fields taken from a fresh draw of the same fault, one of its
//! choices turned, the contention changed, the op timeout moved across one of a fault's
//! lengths, or its strength (a pause, a delay, a step) put between the lease and the op
//! timeout — so the search stays near what was already interesting. Taking one field, or
//! turning a choice, changes what is no length (which direction a delay takes, whose links,
//! which clock) while the rest of a schedule that did something new stays as it was; a redraw
//! changes everything at once. The crossing is the fuzzer's "interesting value": what a client
//! sees of a pause or a delay flips where the fault's length meets the time the client waits
//! (shorter: it gives up, `info`; longer: it waits and gets a late answer), so a schedule that
//! did something new is tried on the other side of that line.
//! Between the lease and the op timeout is the one interval in which a late answer is also a
//! stale one: the nodes have let the lease go while the client still waits for it. A choice
//! turned (op 12) is the other half of what a fault is: a delay of the replies past the lease
//! is a stale grant, a delay of the requests as long is a fresh one.
//! Each mutation is built from [`crate::scenario::edit`], which knows no fault, and
//! every mutant is validated as a file would be (one a run would refuse is never returned).

use super::palette::Palette;
use super::plan::{draw_one, op_timeout, scale, MAX_FAULTS};
use crate::nemesis::draw::ms;
use crate::scenario::edit::{
    differing_choices, differing_fields, lengths, map_lengths, map_strength, revalidate,
    scale_every, scaled, strength, with_field_of, with_start,
};
use crate::scenario::Scenario;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// `parent` changed by one to three mutations, and what was done (`stretch gc-pause ×1.7;
/// clients 5→3`). A mutation that acts on one fault acts on a fault of kind `focus` when the
/// parent carries one (the kind the palette chose among the parent's: the search works on the
/// kind that pays), on any of its faults otherwise; dropping or replacing takes one out of
/// focus. None when no valid mutant came of 20 tries.
pub fn mutate(
    parent: &Scenario,
    kinds: &Palette,
    focus: Option<&str>,
    rng: &mut ChaCha8Rng,
) -> Option<(Scenario, String)> {
    for _ in 0..20 {
        let mut s = parent.clone();
        let mut done = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            if let Some(what) = once(&mut s, kinds, focus, rng) {
                done.push(what);
            }
        }
        if done.is_empty() {
            continue;
        }
        if let Ok(valid) = revalidate(&s) {
            return Some((valid, done.join("; ")));
        }
    }
    None
}

/// `parent` with the strength of a fault of kind `focus` (of any of its faults when it carries
/// none) put between the lease and the op timeout, and nothing else changed — or, with `turn`,
/// that and one of the same fault's choices turned ([`turn_choice`]): a new corpus entry's
/// first and second mutants (AFL tries an entry's interesting values before its random havoc).
/// A schedule that did something new with a pause or a delay of one length is tried at once
/// where that length is both late and stale, rather than waiting for a havoc of several
/// mutations to land there; and there again as the other fault its choices make it (a delay of
/// the requests is no delay of the replies: a reply late past the lease is a stale grant, a
/// request late past it is a fresh one). None when no fault has a length to put there, or
/// (with `turn`) none has a choice that fresh draws of it turn.
pub fn between_waits_of(
    parent: &Scenario,
    focus: Option<&str>,
    turn: bool,
    rng: &mut ChaCha8Rng,
) -> Option<(Scenario, String)> {
    let with_lengths: Vec<usize> = (0..parent.nemesis.len())
        .filter(|&j| strength(&parent.nemesis[j]).is_some())
        .collect();
    let in_focus: Vec<usize> = with_lengths
        .iter()
        .copied()
        .filter(|&j| Some(parent.nemesis[j].kind()) == focus)
        .collect();
    let among = if in_focus.is_empty() {
        with_lengths
    } else {
        in_focus
    };
    for _ in 0..20 {
        let i = *among.get(rng.random_range(0..among.len().max(1)))?;
        let mut s = parent.clone();
        let Some(mut what) = between_waits(&mut s, i, rng) else {
            continue;
        };
        if turn {
            let Some(turned) = turn_choice(&mut s, i, rng) else {
                continue;
            };
            what = format!("{what}; {turned}");
        }
        if let Ok(valid) = revalidate(&s) {
            return Some((valid, what));
        }
    }
    None
}

/// One mutation in place; what it did, or None when it could not apply.
fn once(
    s: &mut Scenario,
    kinds: &Palette,
    focus: Option<&str>,
    rng: &mut ChaCha8Rng,
) -> Option<String> {
    let n = s.nemesis.len();
    let op = rng.random_range(0..13);
    // Dropping or replacing takes a fault out of focus (what is left is the kind in focus, alone
    // or with fewer others); every other mutation of one fault works on one in focus.
    let (in_focus, out): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&j| Some(s.nemesis[j].kind()) == focus);
    let among = match op {
        4 | 6 if out.is_empty() => return None,
        4 | 6 => out,
        _ if in_focus.is_empty() => out,
        _ => in_focus,
    };
    let i = among
        .get(rng.random_range(0..among.len().max(1)))
        .copied()
        .unwrap_or(0);
    let kind = s.nemesis.get(i).map(|f| f.kind());
    match op {
        0 if n > 0 => {
            let last = (s.run.duration.ms() * 3 / 4).max(300);
            let start = ms(rng.random_range(250..last));
            s.nemesis[i] = with_start(&s.nemesis[i], start)?;
            Some(format!("move {} to {start}", kind?))
        }
        1 if n > 0 => {
            let f = rng.random_range(0.4..=2.5);
            s.nemesis[i] = map_lengths(&s.nemesis[i], |d| scaled(d, f))?;
            Some(format!("stretch {} ×{f:.2}", kind?))
        }
        2 if n > 0 => {
            let f = rng.random_range(0.5..=2.0);
            s.nemesis[i] = scale_every(&s.nemesis[i], f)?;
            Some(format!("every of {} ×{f:.2}", kind?))
        }
        3 if n < MAX_FAULTS => {
            let f = draw_one(kinds, &scale(s), rng)?;
            let what = format!("add {}", f.kind());
            s.nemesis.push(f);
            Some(what)
        }
        4 if n > 1 => {
            let f = s.nemesis.remove(i);
            Some(format!("drop {}", f.kind()))
        }
        5 if n > 0 => {
            // The same kind drawn again: new parameters, the same fault.
            let f = crate::nemesis::draw_fault(kind?, &scale(s), rng)?;
            s.nemesis[i] = f;
            Some(format!("redraw {}", kind?))
        }
        6 if n > 0 => {
            let f = draw_one(kinds, &scale(s), rng)?;
            let what = format!("replace {} by {}", kind?, f.kind());
            s.nemesis[i] = f;
            Some(what)
        }
        7 => {
            let before = s.run.clients;
            s.run.clients = rng.random_range(2..=8);
            (s.run.clients != before).then(|| format!("clients {before}→{}", s.run.clients))
        }
        8 => {
            let before = s.lock.op_timeout;
            s.lock.op_timeout = op_timeout(s.lock.ttl, rng);
            (s.lock.op_timeout != before)
                .then(|| format!("op_timeout {before}→{}", s.lock.op_timeout))
        }
        9 if n > 0 => {
            // The op timeout to the other side of one of the fault's lengths.
            // (A length of nothing — a clock step of 0 s — is no line to cross.)
            let all: Vec<_> = lengths(&s.nemesis[i])
                .into_iter()
                .filter(|d| !d.0.is_zero())
                .collect();
            let d = *all.get(rng.random_range(0..all.len().max(1)))?;
            let before = s.lock.op_timeout;
            s.lock.op_timeout = if before > d {
                scaled(d, rng.random_range(0.5..=0.9))
            } else {
                scaled(d, rng.random_range(1.2..=2.0))
            };
            Some(format!(
                "op_timeout {before}→{} across {} {d}",
                s.lock.op_timeout, kind?
            ))
        }
        10 if n > 0 => {
            // One field of a fresh draw of the same fault; the rest of it as it was.
            let donor = crate::nemesis::draw_fault(kind?, &scale(s), rng)?;
            let fields = differing_fields(&s.nemesis[i], &donor);
            let key = fields.get(rng.random_range(0..fields.len().max(1)))?;
            let (f, before, after) = with_field_of(&s.nemesis[i], &donor, key)?;
            s.nemesis[i] = f;
            Some(format!("{} {key} {before}→{after}", kind?))
        }
        11 if n > 0 => between_waits(s, i, rng),
        12 if n > 0 => turn_choice(s, i, rng),
        _ => None,
    }
}

/// Fault `i` of `s` with one of its choices (a field that is neither a moment nor a length:
/// which direction a delay takes, whose links, which call) turned to a value a fresh draw of
/// the same fault takes, the rest as it was. Taking one field of a fresh draw (op 10) turns a
/// choice only when the field drawn is one, about one time in six for a delay; this turns one
/// every time. None when fresh draws never differ from it in a choice.
fn turn_choice(s: &mut Scenario, i: usize, rng: &mut ChaCha8Rng) -> Option<String> {
    let kind = s.nemesis[i].kind();
    for _ in 0..20 {
        let donor = crate::nemesis::draw_fault(kind, &scale(s), rng)?;
        let turned = differing_choices(&s.nemesis[i], &donor);
        let Some(key) = turned.get(rng.random_range(0..turned.len().max(1))) else {
            continue;
        };
        let (f, before, after) = with_field_of(&s.nemesis[i], &donor, key)?;
        s.nemesis[i] = f;
        return Some(format!("turn {kind} {key} {before}→{after}"));
    }
    None
}

/// Fault `i` of `s` stretched so that its strength (how hard it hits: a pause, a delay, a
/// step — not how long a delay is held, nor its jitter) falls between the run's two waits:
/// past the lease, short of the op timeout — the interval in which the nodes have forgotten a
/// lease its client still waits on (a pause or a delay there ends in a late answer that the
/// client takes, not in a timeout). When the op timeout leaves no room past the lease, it is
/// moved past the new length. The fault's other lengths of strength (a delay's jitter) keep
/// their ratios to it; how long it is held grows with it ([`map_strength`]).
fn between_waits(s: &mut Scenario, i: usize, rng: &mut ChaCha8Rng) -> Option<String> {
    let kind = s.nemesis[i].kind();
    let d = strength(&s.nemesis[i])?;
    let (ttl, before) = (s.lock.ttl, s.lock.op_timeout);
    let room = before.0.as_secs_f64() / ttl.0.as_secs_f64();
    let (length, op_timeout) = if room > 1.25 {
        (scaled(ttl, rng.random_range(1.1..=room - 0.1)), before)
    } else {
        let length = scaled(ttl, rng.random_range(1.1..=1.6));
        (length, scaled(length, rng.random_range(1.2..=2.0)))
    };
    let f = length.0.as_secs_f64() / d.0.as_secs_f64();
    s.nemesis[i] = map_strength(&s.nemesis[i], |x| scaled(x, f))?;
    s.lock.op_timeout = op_timeout;
    let op = if op_timeout == before {
        format!("{before}")
    } else {
        format!("{before}→{op_timeout}")
    };
    Some(format!(
        "between waits {kind} {d}→{length} (ttl {ttl}, op_timeout {op})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::plan::{drawable, fresh};
    use crate::explore::target::Target;
    use rand::SeedableRng;

    /// The faults (by index) in which a mutant differs from its parent.
    fn changed_faults(parent: &Scenario, child: &Scenario) -> Vec<usize> {
        (0..parent.nemesis.len())
            .filter(|&j| !differing_fields(&parent.nemesis[j], &child.nemesis[j]).is_empty())
            .collect()
    }

    #[test]
    fn mutants_are_valid_and_differ_from_their_parent() {
        let lib = Target::Library("aioredlock".into());
        let kinds = Palette::new(drawable(&lib, None).unwrap(), true);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut changed = 0;
        for _ in 0..200 {
            let parent = fresh(&lib, &kinds, &mut rng).unwrap();
            let (child, what) = mutate(&parent, &kinds, None, &mut rng).unwrap();
            assert!(!what.is_empty());
            assert!((1..=MAX_FAULTS).contains(&child.nemesis.len()), "{what}");
            if crate::scenario::edit::to_toml(&child) != crate::scenario::edit::to_toml(&parent) {
                changed += 1;
            }
        }
        // A stretch of a fault with no lengths, or a redraw equal by chance, may change nothing.
        assert!(changed >= 180, "only {changed} of 200 mutants differ");
    }

    #[test]
    fn a_mutant_may_take_one_field_of_a_fresh_draw_of_the_same_fault() {
        let lib = Target::Library("redis-py".into());
        let kinds = Palette::new(drawable(&lib, None).unwrap(), true);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut seen = 0;
        let mut keys = std::collections::BTreeSet::new();
        for _ in 0..1200 {
            let parent = fresh(&lib, &kinds, &mut rng).unwrap();
            let Some((child, what)) = mutate(&parent, &kinds, None, &mut rng) else {
                continue;
            };
            // Only a mutant whose one change took a field: then one field of one fault moved.
            if what.matches("; ").count() > 0
                || !what.contains('→')
                || what.starts_with("op_timeout")
                || what.starts_with("clients")
                || what.starts_with("between waits")
            {
                continue;
            }
            assert_eq!(child.nemesis.len(), parent.nemesis.len(), "{what}");
            let changed: Vec<String> = parent
                .nemesis
                .iter()
                .zip(&child.nemesis)
                .flat_map(|(a, b)| differing_fields(a, b))
                .collect();
            assert_eq!(changed.len(), 1, "{what}: {changed:?}");
            assert!(
                what.contains(&format!(" {} ", changed[0])),
                "{what}: {changed:?}"
            );
            seen += 1;
            keys.insert(changed[0].clone());
        }
        assert!(seen >= 20, "only {seen} field-taking mutants in 1200");
        // Not only lengths: moments and choices too.
        assert!(
            keys.contains("start") && keys.len() >= 4,
            "fields taken: {keys:?}"
        );
    }

    #[test]
    fn the_op_timeout_crosses_a_fault_length() {
        let lib = Target::Library("redis-py".into());
        let kinds = Palette::new(drawable(&lib, None).unwrap(), true);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut crossed = 0;
        for _ in 0..400 {
            let parent = fresh(&lib, &kinds, &mut rng).unwrap();
            let Some((child, what)) = mutate(&parent, &kinds, None, &mut rng) else {
                continue;
            };
            // Only a mutant whose one change was the crossing: then the lengths are the parent's.
            if what.matches("; ").count() > 0 || !what.contains(" across ") {
                continue;
            }
            let all: Vec<_> = parent.nemesis.iter().flat_map(lengths).collect();
            let (was, now) = (parent.lock.op_timeout, child.lock.op_timeout);
            assert!(
                all.iter().any(|d| (was > *d) != (now > *d)),
                "{what}: {was}→{now} crosses none of {all:?}"
            );
            crossed += 1;
        }
        assert!(crossed >= 5, "only {crossed} crossings in 400 mutants");
    }

    #[test]
    fn a_length_is_put_between_the_lease_and_the_op_timeout() {
        let lib = Target::Library("python-redis-lock".into());
        let kinds = Palette::new(drawable(&lib, None).unwrap(), true);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut seen, mut moved_op) = (0, 0);
        for _ in 0..600 {
            let parent = fresh(&lib, &kinds, &mut rng).unwrap();
            let Some((child, what)) = mutate(&parent, &kinds, None, &mut rng) else {
                continue;
            };
            if what.matches("; ").count() > 0 || !what.starts_with("between waits ") {
                continue;
            }
            let (ttl, op) = (child.lock.ttl, child.lock.op_timeout);
            assert_eq!(ttl, parent.lock.ttl, "{what}");
            let inside = child
                .nemesis
                .iter()
                .filter_map(strength)
                .any(|d| d > ttl && d < op);
            assert!(inside, "{what}: no fault's strength between {ttl} and {op}");
            // Only the op timeout and one fault's lengths moved.
            let changed = changed_faults(&parent, &child).len();
            assert!(changed <= 1, "{what}: {changed} faults changed");
            if op != parent.lock.op_timeout {
                assert!(parent.lock.op_timeout.0 < ttl.0.mul_f64(1.25), "{what}");
                moved_op += 1;
            }
            seen += 1;
        }
        assert!(seen >= 10, "only {seen} such mutants in 600");
        // Half the drawn op timeouts are no longer than the lease: those must move.
        assert!(moved_op >= 3, "the op timeout moved in only {moved_op}");
    }

    #[test]
    fn a_first_mutant_puts_the_fault_in_focus_between_the_waits_and_changes_nothing_else() {
        let lib = Target::Library("redis-semaphore".into());
        let kinds = Palette::new(drawable(&lib, None).unwrap(), true);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (mut made, mut refused) = (0, 0);
        for _ in 0..300 {
            let parent = fresh(&lib, &kinds, &mut rng).unwrap();
            let names = parent.fault_names();
            let focus = names[rng.random_range(0..names.len())];
            let Some((child, what)) = between_waits_of(&parent, Some(focus), false, &mut rng)
            else {
                // A schedule none of whose faults has a length is left as it was; so is one
                // whose fault, made stronger and held as much longer, no longer fits the run.
                if parent.nemesis.iter().any(|f| strength(f).is_some()) {
                    refused += 1;
                }
                continue;
            };
            made += 1;
            let (ttl, op) = (child.lock.ttl, child.lock.op_timeout);
            let changed = changed_faults(&parent, &child);
            assert!(changed.len() <= 1, "{what}");
            if let Some(&j) = changed.first() {
                let f = &child.nemesis[j];
                assert!(strength(f).is_some_and(|d| d > ttl && d < op), "{what}");
                // The fault in focus when it has a length to move.
                if strength(parent.nemesis.iter().find(|f| f.kind() == focus).unwrap()).is_some() {
                    assert_eq!(f.kind(), focus, "{what}");
                }
            }
            assert_eq!(child.run.clients, parent.run.clients);
            assert_eq!(child.run.duration, parent.run.duration);
        }
        assert!(
            made >= 200 && refused * 5 <= made,
            "{made} of 300 schedules moved, {refused} did not fit the run"
        );
    }

    #[test]
    fn a_second_mutant_also_turns_one_choice_of_that_fault() {
        let lib = Target::Library("python-redis-lock".into());
        let kinds = Palette::new(drawable(&lib, None).unwrap(), true);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut made, mut streams) = (0, 0);
        for _ in 0..300 {
            let parent = fresh(&lib, &kinds, &mut rng).unwrap();
            let names = parent.fault_names();
            let focus = names[rng.random_range(0..names.len())];
            let Some((child, what)) = between_waits_of(&parent, Some(focus), true, &mut rng) else {
                continue;
            };
            made += 1;
            let (ttl, op) = (child.lock.ttl, child.lock.op_timeout);
            let changed = changed_faults(&parent, &child);
            assert_eq!(changed.len(), 1, "{what}");
            let (a, b) = (&parent.nemesis[changed[0]], &child.nemesis[changed[0]]);
            assert!(strength(b).is_some_and(|d| d > ttl && d < op), "{what}");
            let turned = differing_choices(a, b);
            assert_eq!(turned.len(), 1, "{what}: {turned:?}");
            assert!(
                what.contains(&format!("turn {} {} ", b.kind(), turned[0])),
                "{what}"
            );
            streams += usize::from(turned[0] == "stream");
            assert_eq!(child.run.clients, parent.run.clients);
        }
        assert!(made >= 30, "only {made} of 300 second mutants");
        assert!(streams >= 3, "a delay's direction turned in only {streams}");
    }

    #[test]
    fn a_mutation_of_one_fault_works_on_the_kind_in_focus_and_never_drops_it() {
        let lib = Target::Library("redis-py".into());
        let kinds = Palette::new(drawable(&lib, None).unwrap(), true);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut focused, mut other) = (0, 0);
        for _ in 0..400 {
            let parent = fresh(&lib, &kinds, &mut rng).unwrap();
            let names = parent.fault_names();
            if names.len() < 2 || names.iter().all(|k| *k == names[0]) {
                continue;
            }
            let focus = names[rng.random_range(0..names.len())];
            let Some((_, what)) = mutate(&parent, &kinds, Some(focus), &mut rng) else {
                continue;
            };
            for one in what.split("; ") {
                if let Some(rest) = one.strip_prefix("drop ").or(one.strip_prefix("replace ")) {
                    assert!(
                        !rest.starts_with(&format!("{focus} ")) && rest != focus,
                        "{what}"
                    );
                }
                let Some(kind) = ["move ", "stretch ", "every of ", "redraw "]
                    .iter()
                    .find_map(|p| one.strip_prefix(p))
                    .and_then(|rest| rest.split(' ').next())
                else {
                    continue;
                };
                if kind == focus {
                    focused += 1;
                } else {
                    other += 1;
                }
            }
        }
        assert!(
            focused >= 50,
            "only {focused} mutations of the fault in focus"
        );
        assert_eq!(other, 0, "{other} mutations of a fault out of focus");
    }
}
