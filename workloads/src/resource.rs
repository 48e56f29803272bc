//! The protected resource: the data a lock is supposed to guard.
//!
//! A separate redis-server holds a counter that each critical section reads, thinks about, and
//! writes back incremented, plus a log of every access (client, token, op, accepted or not, in
//! the order applied). One Lua script per access makes the check, the access and its log entry
//! one atomic step.
//!
//! In fenced mode every access — the read as well as the write — carries the client's token and
//! is rejected if the token is lower than the highest the resource has seen on any access.
//! Fencing only the write would still lose an update: client 1 reads under 33 and pauses; client
//! 2 reads under 34; client 1's write under 33 lands before client 2's write and is accepted, and
//! then client 2 overwrites it with a value computed before it. Unfenced mode logs the same
//! accesses and rejects none.

use crate::conn::Conn;
use crate::outcome::{with_timeout, CallError};
use checkers::{Access, AccessOp, Process, ResourceLog};
use std::time::Duration;

pub const COUNTER_KEY: &str = "fencepost:resource:counter";
pub const HIGHEST_KEY: &str = "fencepost:resource:highest";
pub const LOG_KEY: &str = "fencepost:resource:log";
pub const SEQ_KEY: &str = "fencepost:resource:seq";

/// The access script: the check, the access and its log entry in one atomic step. Client
/// processes run it themselves, with [`KEYS`] and [`args`].
pub const ACCESS: &str = r#"
local highest = tonumber(redis.call('GET', KEYS[2]) or '0')
local fence = tonumber(ARGV[2])
local accepted = true
if ARGV[5] == '1' and (fence == nil or fence < highest) then accepted = false end
local value = 0
if accepted then
  if fence ~= nil and fence > highest then redis.call('SET', KEYS[2], ARGV[2]) end
  if ARGV[3] == 'w' then
    redis.call('SET', KEYS[1], ARGV[4])
    value = tonumber(ARGV[4])
  else
    value = tonumber(redis.call('GET', KEYS[1]) or '0')
  end
end
local seq = redis.call('INCR', KEYS[4])
local t = redis.call('TIME')
redis.call('RPUSH', KEYS[3], seq .. '|' .. ARGV[1] .. '|' .. ARGV[3] .. '|' .. ARGV[2] .. '|' ..
  (accepted and '1' or '0') .. '|' .. string.format('%d', value) .. '|' .. string.format('%d', highest) ..
  '|' .. t[1] .. '|' .. t[2])
if accepted then return {1, value} end
return {0, highest}
"#;

/// The script's keys.
pub const KEYS: [&str; 4] = [COUNTER_KEY, HIGHEST_KEY, LOG_KEY, SEQ_KEY];

/// The script's arguments for one access: who, under which token, read or write, the value
/// written, and whether the resource is fenced.
pub fn args(
    client: u32,
    fence: Option<u64>,
    op: AccessOp,
    value: i64,
    fenced: bool,
) -> [String; 5] {
    [
        client.to_string(),
        fence.map(|f| f.to_string()).unwrap_or_default(),
        match op {
            AccessOp::Read => "r",
            AccessOp::Write => "w",
        }
        .to_string(),
        value.to_string(),
        if fenced { "1" } else { "0" }.to_string(),
    ]
}

/// The script's answer, `[1, value]` or `[0, highest]`.
pub fn answer(accepted: i64, v: i64) -> AccessResult {
    if accepted == 1 {
        AccessResult::Accepted(v)
    } else {
        AccessResult::Rejected(v.max(0) as u64)
    }
}

/// What the resource answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessResult {
    /// Applied; for reads the value read, for writes the value written.
    Accepted(i64),
    /// Rejected by fencing; the highest token the resource had seen.
    Rejected(u64),
}

/// A client's handle on the resource.
pub struct ResourceClient {
    conn: Conn,
    fenced: bool,
    client: u32,
    timeout: Duration,
    script: redis::Script,
}

impl ResourceClient {
    pub fn new(conn: Conn, fenced: bool, client: u32, timeout: Duration) -> Self {
        ResourceClient {
            conn,
            fenced,
            client,
            timeout,
            script: redis::Script::new(ACCESS),
        }
    }

    pub fn fenced(&self) -> bool {
        self.fenced
    }

    pub async fn read(&mut self, fence: Option<u64>) -> Result<AccessResult, CallError> {
        self.access(AccessOp::Read, fence, 0).await
    }

    pub async fn write(
        &mut self,
        fence: Option<u64>,
        value: i64,
    ) -> Result<AccessResult, CallError> {
        self.access(AccessOp::Write, fence, value).await
    }

    async fn access(
        &mut self,
        op: AccessOp,
        fence: Option<u64>,
        value: i64,
    ) -> Result<AccessResult, CallError> {
        let mut inv = self.script.prepare_invoke();
        for k in KEYS {
            inv.key(k);
        }
        for a in args(self.client, fence, op, value, self.fenced) {
            inv.arg(a);
        }
        let (accepted, v): (i64, i64) =
            with_timeout(self.timeout, inv.invoke_async(&mut self.conn)).await?;
        Ok(answer(accepted, v))
    }
}

/// Reads the resource's whole log and final counter (after the clients stopped).
pub async fn read_log(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    fenced: bool,
) -> Result<ResourceLog, CallError> {
    let timeout = Duration::from_secs(10);
    // In pages: an hour's log is close to a million entries, and one reply would hold them
    // all twice over (the reply, then the strings).
    const PAGE: i64 = 10_000;
    let mut accesses = Vec::new();
    loop {
        let from = accesses.len() as i64;
        let lines: Vec<String> = with_timeout(
            timeout,
            redis::cmd("LRANGE")
                .arg(LOG_KEY)
                .arg(from)
                .arg(from + PAGE - 1)
                .query_async(conn),
        )
        .await?;
        for l in &lines {
            accesses.push(parse_entry(l).ok_or_else(|| {
                CallError::Refused(format!("unreadable resource log entry `{l}`"))
            })?);
        }
        if (lines.len() as i64) < PAGE {
            break;
        }
    }
    let final_value: Option<i64> = with_timeout(
        timeout,
        redis::cmd("GET").arg(COUNTER_KEY).query_async(conn),
    )
    .await?;
    Ok(ResourceLog {
        fenced,
        accesses,
        final_value: Some(final_value.unwrap_or(0)),
    })
}

fn parse_entry(line: &str) -> Option<Access> {
    let p: Vec<&str> = line.split('|').collect();
    if p.len() != 9 {
        return None;
    }
    Some(Access {
        seq: p[0].parse().ok()?,
        process: Process::Client(p[1].parse().ok()?),
        op: match p[2] {
            "r" => AccessOp::Read,
            "w" => AccessOp::Write,
            _ => return None,
        },
        fence: if p[3].is_empty() {
            None
        } else {
            Some(p[3].parse().ok()?)
        },
        accepted: p[4] == "1",
        value: p[5].parse().ok()?,
        highest_before: p[6].parse().ok()?,
        server_time_us: p[7].parse::<u64>().ok()? * 1_000_000 + p[8].parse::<u64>().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_log_entries() {
        let a = parse_entry("3|1|w|7|0|0|9|1700000000|123").unwrap();
        assert_eq!(a.seq, 3);
        assert_eq!(a.process, Process::Client(1));
        assert_eq!(a.op, AccessOp::Write);
        assert_eq!(a.fence, Some(7));
        assert!(!a.accepted);
        assert_eq!(a.highest_before, 9);
        assert_eq!(a.server_time_us, 1_700_000_000_000_123);
        assert!(parse_entry("1|x|w|||||").is_none());
        assert_eq!(parse_entry("1|0|r||1|5|0|1|2").unwrap().fence, None);
    }
}
