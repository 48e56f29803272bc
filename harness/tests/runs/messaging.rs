//! Messaging workloads on real redis-servers: Pub/Sub loses what a disconnected subscriber
//! missed and nothing without faults; a Streams consumer group loses nothing when a consumer
//! crashes between read and ack, and pays for it in duplicates.

use crate::common::*;
use checkers::delivery::DeliveryReport;

fn delivery(r: &fencepost::judge::RunResult) -> &DeliveryReport {
    r.checks
        .delivery
        .as_ref()
        .expect("a messaging run is judged by the delivery checker")
}

#[test]
fn fault_free_pubsub_and_streams_deliver_every_message_once() {
    let results = results_dir("messaging-baseline");
    for name in ["pubsub", "stream"] {
        let r = run(name, 1, 3_000, &results);
        let d = delivery(&r);
        assert!(
            d.published.acknowledged >= 1_000,
            "{name}: too few messages to mean anything: {}",
            r.summary()
        );
        assert_eq!(d.total.lost, 0, "{name}:\n{}", r.summary());
        assert_eq!(d.total.duplicated, 0, "{name}:\n{}", r.summary());
        assert_eq!(d.total.unexpected, 0, "{name}:\n{}", r.summary());
        // Three subscribers; or the consumer group and the stream read back after the run.
        let groups = if name == "pubsub" { 3 } else { 2 };
        assert_eq!(d.groups.len(), groups, "{name}: {:?}", d.groups);
        assert!(r.met(), "{name}:\n{}", r.summary());
    }
}

#[test]
fn a_disconnected_subscriber_loses_what_was_published_while_it_was_away_and_a_stream_consumer_does_not(
) {
    let results = results_dir("pubsub-disconnect");
    let r = run("pubsub-disconnect", 1, 4_000, &results);
    assert!(r.met(), "{}", r.summary());
    let d = delivery(&r);
    assert!(d.total.lost > 0, "{}", r.summary());
    let during: u64 = d.lost_during_faults.iter().map(|f| f.lost).sum();
    assert!(
        during > 0 && d.lost_during_faults.iter().all(|f| f.kind == "partition"),
        "lost messages fall in the cuts: {:?}\n{}",
        d.lost_during_faults,
        r.summary()
    );
    // Only subscribers are cut: the producers' publishes are acknowledged, none lost to them.
    assert_eq!(d.total.duplicated, 0, "{}", r.summary());

    // The same cuts on a Streams consumer group: the entries wait in the stream.
    let s = run("streams-disconnect", 1, 4_000, &results);
    assert!(s.met(), "{}", s.summary());
    let sd = delivery(&s);
    assert_eq!(sd.total.lost, 0, "{}", s.summary());
    assert!(sd.published.acknowledged >= 1_000, "{}", s.summary());
}

#[test]
fn a_crashed_stream_consumer_loses_nothing_and_its_entries_come_again() {
    let results = results_dir("streams-consumer-crash");
    let r = run("streams-consumer-crash", 1, 4_000, &results);
    assert!(r.met(), "{}", r.summary());
    let d = delivery(&r);
    assert_eq!(d.total.lost, 0, "{}", r.summary());
    assert!(d.total.duplicated > 0, "{}", r.summary());
    let crashes = r
        .checks
        .faults
        .took_effect
        .get("consumer-crash")
        .copied()
        .unwrap_or(0);
    assert!(crashes >= 1, "{}", r.summary());
}
