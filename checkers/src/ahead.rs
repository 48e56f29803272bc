//! Reading ahead: a second thread produces a long input's items in batches while the caller
//! consumes them.
//!
//! Reading a million-op history is two stages — turning text into ops, and what a checker does
//! with each op (validating it, pairing it into calls) — of similar cost. On a machine with two
//! cores they can overlap: the producer runs the iterator on its own thread and hands over
//! batches (a channel message per op would cost more than the op), the consumer takes them in
//! order. An error from the consumer drops the channel, which stops the producer at its next
//! batch.

/// Items per batch: large enough that handing one over is noise, small enough to stay in cache.
const BATCH: usize = 4096;
/// Batches the producer may be ahead by.
const AHEAD: usize = 4;

/// Hands every item of `items` to `each`, in order, while a second thread produces them; stops
/// at `each`'s first error. Returns the iterator, exhausted, for what it knows at its end.
pub fn ahead<I, E>(items: I, mut each: impl FnMut(I::Item) -> Result<(), E>) -> Result<I, E>
where
    I: Iterator + Send,
    I::Item: Send,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<I::Item>>(AHEAD);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut items = items;
            loop {
                let batch: Vec<I::Item> = items.by_ref().take(BATCH).collect();
                let last = batch.len() < BATCH;
                if tx.send(batch).is_err() || last {
                    return items;
                }
            }
        });
        let consumed = rx
            .iter()
            .try_for_each(|batch| batch.into_iter().try_for_each(&mut each));
        drop(rx);
        let items = producer.join().expect("the reading thread panicked");
        consumed.map(|()| items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_in_order_and_the_first_error_stops_both() {
        let mut got = Vec::new();
        let rest = ahead(0..10_000u32, |i| -> Result<(), ()> {
            got.push(i);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
        assert_eq!(rest.len(), 0);
        let mut seen = 0;
        let produced = std::sync::atomic::AtomicUsize::new(0);
        let e = ahead(
            (0..1_000_000u32).inspect(|_| {
                produced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
            |i| {
                seen += 1;
                if i == 5_000 {
                    Err(i)
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(e.err(), Some(5_000));
        assert_eq!(seen, 5_001);
        let produced = produced.into_inner();
        assert!(
            produced <= (AHEAD + 3) * BATCH,
            "the producer stopped soon after ({produced} produced)"
        );
    }
}
