//! The fault catalogue: every fault kind a scenario may name, with its keys, their types and
//! defaults and what each means — read from each plug-in's own config type (its serde shape and
//! doc comments, through its JSON schema), so it cannot drift from what a scenario file is
//! checked against. `fencepost faults` prints it; `docs/faults.md` is it, and a test fails when
//! that file is stale.

use serde_json::{Map, Value};
use std::fmt::Write;

/// The catalogue as Markdown: one section per fault kind, in registry order.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Faults\n\n\
         Every fault a scenario's `[[nemesis]]` entry may name (`kind = \"…\"`), with its keys. \
         Durations are written with their unit (`\"300ms\"`, `\"2s\"`); a key without a default \
         is required. Generated from the fault plug-ins themselves by `fencepost faults` \
         (`cargo run -- faults > docs/faults.md`); a test fails when this file is stale.\n",
    );
    for (kind, schema) in super::schemas() {
        let root = schema.as_value();
        let _ = write!(s, "\n## `{kind}`\n\n");
        let _ = writeln!(s, "{}\n", text(root.get("description")));
        let _ = writeln!(s, "| key | type | default | meaning |");
        let _ = writeln!(s, "|---|---|---|---|");
        let required: Vec<&str> = root
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let empty = Map::new();
        let props = root
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        // The schedule first (every fault has one), then the fault's own keys by name.
        let mut keys: Vec<&String> = props.keys().collect();
        keys.sort_by_key(|k| (!matches!(k.as_str(), "start"), k.as_str() != "every", *k));
        for key in keys {
            let p = resolve(root, &props[key]);
            let default = match p.get("default") {
                Some(Value::Null) | None if required.contains(&key.as_str()) => {
                    "required".to_string()
                }
                Some(Value::Null) | None => "none".to_string(),
                Some(d) => format!("`{}`", d.to_string().trim_matches('"')),
            };
            let _ = writeln!(
                s,
                "| `{key}` | {} | {default} | {} |",
                type_of(root, &p),
                cell(&text(p.get("description")))
            );
        }
    }
    s
}

/// A property with `$ref`s followed and `Option`'s `null` dropped, keeping its own description
/// and default.
fn resolve(root: &Value, p: &Value) -> Value {
    let mut out = p.clone();
    let target = p
        .get("$ref")
        .or_else(|| {
            p.get("anyOf")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|v| v.get("type") != Some(&"null".into())))
                .and_then(|v| v.get("$ref"))
        })
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| root.get("$defs").and_then(|d| d.get(name)));
    if let (Some(t), Some(o)) = (target, out.as_object_mut()) {
        for (k, v) in t.as_object().into_iter().flatten() {
            if k == "description" && o.contains_key("description") {
                continue;
            }
            o.entry(k.clone()).or_insert_with(|| v.clone());
        }
        o.remove("$ref");
        o.remove("anyOf");
    }
    out
}

/// A property's type in words: `duration`, `integer`, one of the enum's values, ….
fn type_of(root: &Value, p: &Value) -> String {
    if p.get("format").and_then(Value::as_str) == Some("duration") {
        return "duration".into();
    }
    if p.get("format").and_then(Value::as_str) == Some("duration-range") {
        return "duration, or range `low..high`".into();
    }
    if p.get("format").and_then(Value::as_str) == Some("node-target") {
        return "`one` · `minority` · `majority` · `all` · `nN`".into();
    }
    let values: Vec<String> = p
        .get("enum")
        .and_then(Value::as_array)
        .map(|e| {
            e.iter()
                .filter_map(Value::as_str)
                .map(|v| format!("`{v}`"))
                .collect()
        })
        .or_else(|| {
            p.get("oneOf").and_then(Value::as_array).map(|o| {
                o.iter()
                    .filter_map(|v| {
                        v.get("const")
                            .or_else(|| v.get("enum").and_then(|e| e.get(0)))
                            .and_then(Value::as_str)
                            .map(|c| match v.get("description").and_then(Value::as_str) {
                                Some(d) => format!("`{c}` ({})", first_sentence(d)),
                                None => format!("`{c}`"),
                            })
                    })
                    .collect()
            })
        })
        .unwrap_or_default();
    if !values.is_empty() {
        return values.join(" · ");
    }
    match p.get("type") {
        Some(Value::String(t)) if t == "array" => format!(
            "list of {}",
            p.get("items")
                .map_or("values".into(), |i| type_of(root, &resolve(root, i)))
        ),
        Some(Value::String(t)) if t == "number" => "decimal number".into(),
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => {
            let ts: Vec<&str> = ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect();
            match ts.as_slice() {
                [t] => {
                    let mut one = p.clone();
                    one["type"] = Value::from(*t);
                    type_of(root, &one)
                }
                _ => ts.join(" or "),
            }
        }
        _ => "value".into(),
    }
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_sentence(d: &str) -> String {
    let d = d.split_whitespace().collect::<Vec<_>>().join(" ");
    d.split(". ")
        .next()
        .unwrap_or(&d)
        .trim_end_matches('.')
        .to_string()
}

/// Text safe in a Markdown table cell.
fn cell(t: &str) -> String {
    t.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_faults_md_is_the_catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/faults.md");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == super::markdown(),
            "{} is stale: regenerate it with `cargo run -- faults > docs/faults.md`",
            path.display()
        );
    }

    #[test]
    fn every_fault_and_every_key_is_described() {
        let md = super::markdown();
        for (kind, schema) in super::super::schemas() {
            assert!(md.contains(&format!("## `{kind}`")), "{kind}");
            let root = schema.as_value();
            assert!(
                root.get("description").is_some(),
                "{kind}: its config type has no doc comment (the one-line meaning)"
            );
            for (key, p) in root["properties"].as_object().unwrap() {
                let p = super::resolve(root, p);
                assert!(
                    p.get("description").is_some(),
                    "{kind}.{key}: no doc comment on the field"
                );
            }
        }
    }
}
