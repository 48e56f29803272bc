//! Each process's open call, for the readers that pair invocations with completions.
//!
//! Processes are small numbers (a client's index, Jepsen's process counter): a slot per number
//! is found without hashing, which a million-op history does three times per call. A number
//! past [`DIRECT`] (Jepsen's retired processes can climb) falls back to a map.

use std::collections::HashMap;

/// Process numbers below this get a slot of their own.
const DIRECT: u32 = 1 << 16;

#[derive(Debug)]
pub(crate) struct OpenCalls<V> {
    direct: Vec<Option<V>>,
    far: HashMap<u32, V>,
}

impl<V> Default for OpenCalls<V> {
    fn default() -> Self {
        OpenCalls {
            direct: Vec::new(),
            far: HashMap::new(),
        }
    }
}

impl<V: Copy> OpenCalls<V> {
    pub fn get(&self, process: u32) -> Option<V> {
        if process < DIRECT {
            self.direct.get(process as usize).copied().flatten()
        } else {
            self.far.get(&process).copied()
        }
    }

    pub fn insert(&mut self, process: u32, v: V) {
        if process < DIRECT {
            let i = process as usize;
            if i >= self.direct.len() {
                self.direct.resize(i + 1, None);
            }
            self.direct[i] = Some(v);
        } else {
            self.far.insert(process, v);
        }
    }

    pub fn remove(&mut self, process: u32) -> Option<V> {
        if process < DIRECT {
            self.direct.get_mut(process as usize).and_then(Option::take)
        } else {
            self.far.remove(&process)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OpenCalls;

    #[test]
    fn near_and_far_processes_behave_as_a_map() {
        let mut open = OpenCalls::default();
        let mut reference = std::collections::HashMap::new();
        let mut x = 7u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let p = if x.is_multiple_of(5) {
                (x >> 8) as u32
            } else {
                (x % 300) as u32
            };
            match x % 3 {
                0 => {
                    open.insert(p, step);
                    reference.insert(p, step);
                }
                1 => assert_eq!(open.remove(p), reference.remove(&p)),
                _ => assert_eq!(open.get(p), reference.get(&p).copied()),
            }
        }
    }
}
