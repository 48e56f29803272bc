//! Edits of a scenario that know no fault: move, stretch, thin out or drop its faults, and change
//! its contention — what explore's mutations and shrink's reductions are made of.
//!
//! A fault's config is data with a shape every plug-in shares: `start` and `every` say when it
//! fires, and every other duration in it (a pause, a delay, a clock step, a `low..high` span)
//! says how hard. The edits work on that shape through the config's own serde form, so a new
//! fault plug-in is editable without a line here; every edited scenario is validated again as a
//! file would be ([`revalidate`]), so an edit never yields a schedule a run would refuse.

use super::{Scenario, ScenarioError};
use crate::duration::{self, Dur};
use crate::nemesis::NemesisSpec;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The keys that say when a fault fires (not how hard).
const WHEN: [&str; 3] = ["kind", "start", "every"];

/// The scenario as a TOML file would hold it.
pub fn to_toml(s: &Scenario) -> String {
    toml::to_string(s).expect("a scenario always serializes (it was read from TOML)")
}

/// Validates an edited scenario exactly as a file is validated (serialized and read back).
pub fn revalidate(s: &Scenario) -> Result<Scenario, ScenarioError> {
    Scenario::parse(Path::new("(edited scenario)"), &to_toml(s))
}

/// `d` scaled by `factor`, in whole milliseconds, at least 1 ms.
pub fn scaled(d: Dur, factor: f64) -> Dur {
    let ms = (d.0.as_secs_f64() * 1000.0 * factor).round().max(1.0);
    Dur(Duration::from_millis(ms as u64))
}

/// The fault with every length (each duration but its moments) passed through `f`.
pub fn map_lengths(spec: &NemesisSpec, f: impl Fn(Dur) -> Dur) -> Option<NemesisSpec> {
    map_lengths_of(spec, |_| true, f)
}

/// The fault with the lengths its [`strength`] is among passed through `f` (every length but
/// its hold, or all when it has no other), and its hold grown by as much as its strength grew:
/// a fault is held past its strength by a margin its plug-in drew (a delay held for a lease or
/// more past itself), and a hold shorter than the delay would cut the delay short — the proxy
/// hands what a removed toxic holds on at once. A weaker fault keeps its hold.
pub fn map_strength(spec: &NemesisSpec, f: impl Fn(Dur) -> Dur) -> Option<NemesisSpec> {
    let Some(held) = hold_apart(spec) else {
        return map_lengths(spec, f);
    };
    let before = strength(spec)?;
    let grown = f(before).0.saturating_sub(before.0);
    let stronger = map_lengths_of(spec, |key| key != held, &f)?;
    map_lengths_of(&stronger, |key| key == held, |d| Dur(d.0 + grown))
}

fn map_lengths_of(
    spec: &NemesisSpec,
    keep: impl Fn(&str) -> bool,
    f: impl Fn(Dur) -> Dur,
) -> Option<NemesisSpec> {
    edit_fields(spec, |key, v| {
        if WHEN.contains(&key) || !keep(key) {
            return None;
        }
        let text = v.as_str()?;
        if let Some((lo, hi)) = text.split_once("..") {
            let (lo, hi) = (parse(lo)?, parse(hi)?);
            return Some(Value::String(format!("{}..{}", f(lo), f(hi))));
        }
        Some(Value::String(f(parse(text)?).to_string()))
    })
}

/// Every length of the fault (each duration but its moments; both ends of a `low..high` span).
pub fn lengths(spec: &NemesisSpec) -> Vec<Dur> {
    keyed_lengths(spec).into_iter().map(|(_, d)| d).collect()
}

/// How hard the fault hits: its largest length other than how long one injection is held (the
/// key its plug-in's `longest` names: a delay's hold, not the delay), or its largest when it
/// has no other. None when it has no length but nothing.
pub fn strength(spec: &NemesisSpec) -> Option<Dur> {
    let held = hold_apart(spec);
    keyed_lengths(spec)
        .into_iter()
        .filter(|(key, d)| !d.0.is_zero() && held != Some(key.as_str()))
        .map(|(_, d)| d)
        .max()
}

/// The key of the fault's hold (how long one injection lasts, as its plug-in's `longest`
/// names it) when the fault has another length that is not nothing — its strength is then
/// among those; None when the hold is all it has (a pause is its own hold).
fn hold_apart(spec: &NemesisSpec) -> Option<&'static str> {
    let held = spec.plugin().longest().1;
    keyed_lengths(spec)
        .iter()
        .any(|(key, d)| key != held && !d.0.is_zero())
        .then_some(held)
}

/// Each length of the fault with its key.
fn keyed_lengths(spec: &NemesisSpec) -> Vec<(String, Dur)> {
    let Ok(Value::Object(obj)) = serde_json::to_value(spec) else {
        return Vec::new();
    };
    obj.iter()
        .filter(|(key, _)| !WHEN.contains(&key.as_str()))
        .filter_map(|(key, v)| Some((key, v.as_str()?)))
        .flat_map(|(key, text)| {
            let ends = match text.split_once("..") {
                Some((lo, hi)) => vec![parse(lo), parse(hi)],
                None => vec![parse(text)],
            };
            ends.into_iter().flatten().map(|d| (key.clone(), d))
        })
        .collect()
}

/// The choices in which two configs of the same fault differ (see [`choices`]).
pub fn differing_choices(a: &NemesisSpec, b: &NemesisSpec) -> Vec<String> {
    let (ours, theirs) = (choices(a), choices(b));
    differing_fields(a, b)
        .into_iter()
        .filter(|k| ours.contains(k) || theirs.contains(k))
        .collect()
}

/// The fault's choices: the fields that say neither when it fires nor how long (which
/// direction a delay takes, whose links, which clock, which signal) — what a fault is, beside
/// how hard it hits.
fn choices(spec: &NemesisSpec) -> Vec<String> {
    let Ok(Value::Object(obj)) = serde_json::to_value(spec) else {
        return Vec::new();
    };
    let lengths: Vec<String> = keyed_lengths(spec).into_iter().map(|(k, _)| k).collect();
    obj.keys()
        .filter(|k| !WHEN.contains(&k.as_str()) && !lengths.contains(k))
        .cloned()
        .collect()
}

/// The fault first firing at `start`.
pub fn with_start(spec: &NemesisSpec, start: Dur) -> Option<NemesisSpec> {
    edit_fields(spec, |key, _| {
        (key == "start").then(|| Value::String(start.to_string()))
    })
}

/// The fault recurring `factor` times as far apart (a fault that fires once stays so).
pub fn scale_every(spec: &NemesisSpec, factor: f64) -> Option<NemesisSpec> {
    edit_fields(spec, |key, v| {
        (key == "every")
            .then(|| parse(v.as_str()?))
            .flatten()
            .map(|d| Value::String(scaled(d, factor).to_string()))
    })
}

/// The top-level fields (but `kind`) in which two configs of the same fault differ.
pub fn differing_fields(a: &NemesisSpec, b: &NemesisSpec) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return Vec::new();
    };
    if a.get("kind") != b.get("kind") {
        return Vec::new();
    }
    a.keys()
        .chain(b.keys().filter(|k| !a.contains_key(*k)))
        .filter(|k| k.as_str() != "kind" && a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// `spec` with its field `key` taken from `donor`, a config of the same fault (absent in the
/// donor: absent here); with the value it had and the one it has, as they read in a file.
pub fn with_field_of(
    spec: &NemesisSpec,
    donor: &NemesisSpec,
    key: &str,
) -> Option<(NemesisSpec, String, String)> {
    let mut v = serde_json::to_value(spec).ok()?;
    let d = serde_json::to_value(donor).ok()?;
    if v.get("kind") != d.get("kind") {
        return None;
    }
    let obj = v.as_object_mut()?;
    let show = |x: Option<&Value>| match x {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "(none)".into(),
    };
    let before = show(obj.get(key));
    let after = show(d.get(key));
    match d.get(key) {
        Some(value) => obj.insert(key.to_string(), value.clone()),
        None => obj.remove(key),
    };
    Some((serde_json::from_value(v).ok()?, before, after))
}

/// Whether the fault has any length to stretch.
pub fn has_lengths(spec: &NemesisSpec) -> bool {
    map_lengths(spec, |d| scaled(d, 2.0))
        .is_some_and(|s| serde_json::to_value(&s).ok() != serde_json::to_value(spec).ok())
}

fn parse(text: &str) -> Option<Dur> {
    duration::parse(text).ok().map(Dur)
}

/// The fault with each top-level field `edit` returns a value for replaced; None when the
/// result is no longer a config of its kind.
fn edit_fields(
    spec: &NemesisSpec,
    edit: impl Fn(&str, &Value) -> Option<Value>,
) -> Option<NemesisSpec> {
    let mut v = serde_json::to_value(spec).ok()?;
    let obj = v.as_object_mut()?;
    for (key, value) in obj.iter_mut() {
        if let Some(new) = edit(key, value) {
            *value = new;
        }
    }
    serde_json::from_value(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> NemesisSpec {
        #[derive(serde::Deserialize)]
        struct One {
            nemesis: Vec<NemesisSpec>,
        }
        toml::from_str::<One>(toml_text).unwrap().nemesis.remove(0)
    }

    fn ms(n: u64) -> Dur {
        Dur(Duration::from_millis(n))
    }

    fn json(s: &NemesisSpec) -> serde_json::Value {
        serde_json::to_value(s).unwrap()
    }

    #[test]
    fn lengths_scale_and_moments_stay() {
        let s = spec("[[nemesis]]\nkind = \"gc-pause\"\nstart = \"1s\"\nevery = \"2s\"\npause = \"2500ms\"\n");
        let half = json(&map_lengths(&s, |d| scaled(d, 0.5)).unwrap());
        assert_eq!(half["pause"], "1250ms");
        assert_eq!(half["start"], "1s");
        assert_eq!(half["every"], "2s");
        let moved = json(&with_start(&s, Dur(Duration::from_millis(300))).unwrap());
        assert_eq!(moved["start"], "300ms");
        let sparse = json(&scale_every(&s, 2.0).unwrap());
        assert_eq!(sparse["every"], "4s");
        assert!(has_lengths(&s));
    }

    #[test]
    fn a_faults_strength_is_its_largest_length_but_its_hold() {
        let lat = spec("[[nemesis]]\nkind = \"latency\"\nstart = \"1s\"\nevery = \"5s\"\nduration = \"3s\"\nlatency = \"500ms\"\njitter = \"20ms\"\nlinks = \"lock\"\nstream = \"downstream\"\n");
        assert_eq!(strength(&lat), Some(ms(500)));
        // Twice as strong: the delay and its jitter; the hold keeps its margin past the delay.
        let twice = json(&map_strength(&lat, |d| scaled(d, 2.0)).unwrap());
        assert_eq!(twice["latency"], "1s");
        assert_eq!(twice["jitter"], "40ms");
        assert_eq!(twice["duration"], "3500ms");
        // Half as strong: the hold stays.
        let half = json(&map_strength(&lat, |d| scaled(d, 0.5)).unwrap());
        assert_eq!(half["latency"], "250ms");
        assert_eq!(half["duration"], "3s");
        let pause = spec("[[nemesis]]\nkind = \"gc-pause\"\nstart = \"1s\"\nevery = \"2s\"\npause = \"2500ms\"\n");
        assert_eq!(strength(&pause), Some(ms(2500)));
        let half = json(&map_strength(&pause, |d| scaled(d, 0.5)).unwrap());
        assert_eq!(half["pause"], "1250ms");
        let kill = spec("[[nemesis]]\nkind = \"process-kill\"\nstart = \"1s\"\nevery = \"2s\"\n");
        assert_eq!(strength(&kill), None);
    }

    #[test]
    fn spans_scale_at_both_ends_and_a_fault_without_lengths_has_none() {
        let s = spec("[[nemesis]]\nkind = \"call-abandon\"\nop = \"any\"\nafter = \"2ms..20ms\"\nstart = \"1s\"\nevery = \"500ms\"\n");
        let twice = json(&map_lengths(&s, |d| scaled(d, 2.0)).unwrap());
        assert_eq!(twice["after"], "4ms..40ms");
        assert_eq!(lengths(&s), [ms(2), ms(20)]);
        let kill = spec("[[nemesis]]\nkind = \"process-kill\"\nstart = \"1s\"\nevery = \"2s\"\n");
        assert!(!has_lengths(&kill));
        assert!(lengths(&kill).is_empty());
    }

    #[test]
    fn one_field_of_another_config_of_the_same_fault_is_taken_and_the_rest_kept() {
        let up = spec("[[nemesis]]\nkind = \"latency\"\nstart = \"1s\"\nevery = \"5s\"\nduration = \"3s\"\nlatency = \"500ms\"\nlinks = \"lock\"\nstream = \"upstream\"\n");
        let down = spec("[[nemesis]]\nkind = \"latency\"\nstart = \"2s\"\nevery = \"5s\"\nduration = \"3s\"\nlatency = \"1500ms\"\nlinks = \"lock\"\nstream = \"downstream\"\n");
        let mut differ = differing_fields(&up, &down);
        differ.sort();
        assert_eq!(differ, ["latency", "start", "stream"]);
        let (mixed, before, after) = with_field_of(&up, &down, "stream").unwrap();
        assert_eq!(
            (before.as_str(), after.as_str()),
            ("upstream", "downstream")
        );
        let mixed = json(&mixed);
        assert_eq!(mixed["stream"], "downstream");
        assert_eq!(
            (&mixed["latency"], &mixed["start"]),
            (&json(&up)["latency"], &json(&up)["start"])
        );
        // Another fault is no donor.
        let kill = spec("[[nemesis]]\nkind = \"process-kill\"\nstart = \"1s\"\nevery = \"2s\"\n");
        assert!(differing_fields(&up, &kill).is_empty());
        assert!(with_field_of(&up, &kill, "start").is_none());
    }

    #[test]
    fn a_faults_choices_are_its_fields_that_are_neither_moments_nor_lengths() {
        let down = spec("[[nemesis]]\nkind = \"latency\"\nstart = \"2s\"\nevery = \"5s\"\nduration = \"3s\"\nlatency = \"1500ms\"\nlinks = \"lock\"\nstream = \"downstream\"\n");
        let mut c = choices(&down);
        c.sort();
        assert_eq!(c, ["clients", "links", "stream"]);
        // A holder's pause has none; an abandoned call, which call (its moment is a span).
        let pause = spec(
            "[[nemesis]]\nkind = \"gc-pause\"\nstart = \"1s\"\nevery = \"5s\"\npause = \"2s\"\n",
        );
        assert!(choices(&pause).is_empty(), "{:?}", choices(&pause));
        let abandon = spec("[[nemesis]]\nkind = \"call-abandon\"\nstart = \"1s\"\nevery = \"5s\"\nop = \"release\"\nafter = \"1ms..20ms\"\n");
        assert_eq!(choices(&abandon), ["op"]);
    }

    #[test]
    fn an_edited_scenario_is_validated_as_a_file_is() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/libraries/process-stop.toml"),
        )
        .unwrap();
        let s = Scenario::parse(Path::new("process-stop.toml"), &text).unwrap();
        let again = revalidate(&s).unwrap();
        assert_eq!(to_toml(&again), to_toml(&s));
        // A pause as long as the run no longer fits it: refused, as the file would be.
        let mut long = s.clone();
        long.nemesis[0] = map_lengths(&s.nemesis[0], |_| Dur(Duration::from_secs(60))).unwrap();
        let err = revalidate(&long).unwrap_err().to_string();
        assert!(err.contains("pause"), "{err}");
    }
}
