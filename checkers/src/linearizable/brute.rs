//! A brute-force linearizability checker, for tests only: tries every order of the ops that
//! respects real time, with every subset of the unknown-return ops, no memoization, no pruning
//! beyond illegal steps. Exponential, obviously right, and the reference the search is held to.

use super::Operation;
use crate::model::Model;

/// True iff some order of `ops` consistent with real time explains every known return.
pub(crate) fn linearizable<M: Model>(model: &M, ops: &[Operation<M::Op, M::Ret>]) -> bool {
    assert!(ops.len() <= 16, "brute force is for small histories");
    // must_precede[i]: ops that returned (with a known return) before op i was invoked.
    let must_precede: Vec<u32> = ops
        .iter()
        .map(|o| {
            ops.iter().enumerate().fold(0u32, |mask, (j, p)| {
                let before =
                    p.ret.is_some() && p.complete_index.is_some_and(|c| c < o.invoke_index);
                if before {
                    mask | (1 << j)
                } else {
                    mask
                }
            })
        })
        .collect();
    let required: u32 = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.ret.is_some())
        .fold(0, |m, (i, _)| m | (1 << i));
    dfs(model, ops, &must_precede, required, &model.init(), 0)
}

fn dfs<M: Model>(
    model: &M,
    ops: &[Operation<M::Op, M::Ret>],
    must_precede: &[u32],
    required: u32,
    state: &M::State,
    done: u32,
) -> bool {
    if done & required == required {
        return true;
    }
    for (i, o) in ops.iter().enumerate() {
        if done & (1 << i) != 0 || must_precede[i] & !done != 0 {
            continue;
        }
        let next = match &o.ret {
            Some(ret) => model.step(state, &o.op, ret),
            None => model.step_unknown(state, &o.op),
        };
        if let Some(next) = next {
            if dfs(model, ops, must_precede, required, &next, done | (1 << i)) {
                return true;
            }
        }
    }
    false
}
