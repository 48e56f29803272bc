//! Cut-links nemesis: fixed client→node links cut from `start` to the end of the run.
//!
//! Not a partition generator (that is [`super::partition`]): it is the network backdrop of a
//! choreographed scenario, written link by link — Kleppmann's "client 1 cannot reach D and E,
//! client 2 cannot reach A and B", against which a clock jump or a crash on C then plays. Cut
//! links blackhole both directions, so calls across them time out (`info`).

use super::schedule::sleep_or_stop;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use checkers::{Fault, F};
use tokio::sync::watch;

pub struct CutLinks {
    pub start: Dur,
    pub links: Vec<String>,
}

impl CutLinks {
    pub async fn run(self, ctx: NemesisContext, mut stop: watch::Receiver<bool>) {
        if !sleep_or_stop(self.start.0, &mut stop).await {
            return;
        }
        let mut cut = Vec::new();
        for l in &self.links {
            match ctx.topology.network.cut(l).await {
                Ok(()) => cut.push(l.clone()),
                Err(e) => eprintln!("fencepost: cut-links could not cut {l}: {e}"),
            }
        }
        let fault = Fault {
            kind: "cut-links".into(),
            target: cut.join(","),
            id: ctx.ids.next(),
            detail: format!("{} link(s) cut until the end of the run", cut.len()),
        };
        ctx.rec.nemesis(F::Start, fault.clone());
        let _ = stop.wait_for(|s| *s).await;
        for l in &cut {
            if let Err(e) = ctx.topology.network.heal(l).await {
                eprintln!("fencepost: cut-links could not heal {l}: {e}");
            }
        }
        ctx.rec.nemesis(F::Stop, fault);
    }
}
