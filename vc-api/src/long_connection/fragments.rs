//! Reassembly of messages the platform splits into parts (`sum` parts, `seq` 0-based): by
//! `message_id`, in any order, duplicate parts ignored, incomplete messages dropped after a
//! bounded time, and the bytes held for incomplete messages bounded in total.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// The most parts one message may announce.
pub(crate) const MAX_PARTS: usize = 4096;

/// Why a part was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FragmentError {
    /// `sum` or `seq` missing, not a number, out of range, or `sum` differs between parts.
    #[error("invalid part numbering (sum {sum:?}, seq {seq:?})")]
    Numbering {
        /// The `sum` header as received.
        sum: Option<String>,
        /// The `seq` header as received.
        seq: Option<String>,
    },
    /// Holding this part would pass the bound of pending bytes; the message is dropped.
    #[error("the parts of incomplete messages would exceed {limit} bytes; message dropped")]
    TooLarge {
        /// The bound.
        limit: usize,
    },
}

/// The parts received so far of one message.
#[derive(Debug)]
struct Pending {
    parts: Vec<Option<Vec<u8>>>,
    received: usize,
    bytes: usize,
    first_seen: Instant,
}

/// Messages being reassembled.
#[derive(Debug)]
pub(crate) struct Reassembler {
    pending: HashMap<String, Pending>,
    bytes: usize,
    max_bytes: usize,
    timeout: Duration,
}

impl Reassembler {
    /// Holds at most `max_bytes` of parts, each incomplete message for at most `timeout`.
    pub(crate) fn new(max_bytes: usize, timeout: Duration) -> Self {
        Self { pending: HashMap::new(), bytes: 0, max_bytes, timeout }
    }

    /// Bytes held for incomplete messages.
    #[cfg(test)]
    pub(crate) fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// Number of incomplete messages held.
    #[cfg(test)]
    pub(crate) fn pending_messages(&self) -> usize {
        self.pending.len()
    }

    /// Takes one part; returns the whole payload once every part has arrived.
    pub(crate) fn add(
        &mut self,
        message_id: &str,
        sum: Option<&str>,
        seq: Option<&str>,
        payload: Vec<u8>,
        now: Instant,
    ) -> Result<Option<Vec<u8>>, FragmentError> {
        self.expire(now);
        let numbering = || FragmentError::Numbering { sum: sum.map(str::to_owned), seq: seq.map(str::to_owned) };
        // A frame without numbering is a whole message, as the SDKs read it.
        let total: usize = sum.map_or(Ok(1), str::parse).map_err(|_| numbering())?;
        let index: usize = seq.map_or(Ok(0), str::parse).map_err(|_| numbering())?;
        if total == 0 || total > MAX_PARTS || index >= total {
            return Err(numbering());
        }
        if total == 1 {
            return Ok(Some(payload));
        }
        let pending = self.pending.entry(message_id.to_owned()).or_insert_with(|| Pending {
            parts: vec![None; total],
            received: 0,
            bytes: 0,
            first_seen: now,
        });
        if pending.parts.len() != total {
            let dropped = self.pending.remove(message_id).map_or(0, |p| p.bytes);
            self.bytes -= dropped;
            return Err(numbering());
        }
        if pending.parts[index].is_some() {
            return Ok(None);
        }
        if self.bytes + payload.len() > self.max_bytes {
            let dropped = self.pending.remove(message_id).map_or(0, |p| p.bytes);
            self.bytes -= dropped;
            return Err(FragmentError::TooLarge { limit: self.max_bytes });
        }
        self.bytes += payload.len();
        pending.bytes += payload.len();
        pending.received += 1;
        pending.parts[index] = Some(payload);
        if pending.received < total {
            return Ok(None);
        }
        let done = self.pending.remove(message_id).expect("the message is pending");
        self.bytes -= done.bytes;
        let mut whole = Vec::with_capacity(done.bytes);
        for part in done.parts.into_iter().flatten() {
            whole.extend_from_slice(&part);
        }
        Ok(Some(whole))
    }

    /// Drops the messages that have been incomplete for longer than the timeout; returns
    /// their ids.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<String> {
        let timeout = self.timeout;
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.first_seen) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            if let Some(p) = self.pending.remove(id) {
                self.bytes -= p.bytes;
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str, n: usize) -> Vec<Vec<u8>> {
        let size = text.len().div_ceil(n);
        text.as_bytes().chunks(size).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn any_order_with_duplicates() {
        let now = Instant::now();
        let mut r = Reassembler::new(1 << 20, Duration::from_secs(5));
        let p = parts("abcdefghij", 5);
        let sum = Some("5");
        for (i, seq) in [3usize, 0, 3, 4, 1].into_iter().enumerate() {
            let out = r.add("m", sum, Some(&seq.to_string()), p[seq].clone(), now).unwrap();
            assert_eq!(out, None, "step {i}");
        }
        assert_eq!(r.pending_bytes(), 8);
        let out = r.add("m", sum, Some("2"), p[2].clone(), now).unwrap();
        assert_eq!(out.as_deref(), Some(&b"abcdefghij"[..]));
        assert_eq!((r.pending_bytes(), r.pending_messages()), (0, 0));
    }

    #[test]
    fn a_single_part_passes_through() {
        let mut r = Reassembler::new(0, Duration::from_secs(5));
        let out = r.add("m", Some("1"), Some("0"), b"x".to_vec(), Instant::now()).unwrap();
        assert_eq!(out.as_deref(), Some(&b"x"[..]));
        assert_eq!(r.add("m", None, None, b"y".to_vec(), Instant::now()).unwrap().as_deref(), Some(&b"y"[..]));
    }

    #[test]
    fn incomplete_messages_expire() {
        let start = Instant::now();
        let mut r = Reassembler::new(1 << 20, Duration::from_secs(5));
        assert_eq!(r.add("m", Some("2"), Some("0"), b"ab".to_vec(), start).unwrap(), None);
        assert_eq!(r.expire(start + Duration::from_secs(4)), Vec::<String>::new());
        assert_eq!(r.expire(start + Duration::from_secs(5)), ["m".to_owned()]);
        assert_eq!(r.pending_bytes(), 0);
        // The late second part starts a new message, which cannot complete.
        assert_eq!(r.add("m", Some("2"), Some("1"), b"cd".to_vec(), start + Duration::from_secs(6)).unwrap(), None);
    }

    #[test]
    fn pending_bytes_are_bounded() {
        let now = Instant::now();
        let mut r = Reassembler::new(10, Duration::from_secs(5));
        assert_eq!(r.add("a", Some("2"), Some("0"), vec![0; 6], now).unwrap(), None);
        let err = r.add("b", Some("2"), Some("0"), vec![0; 6], now).unwrap_err();
        assert_eq!(err, FragmentError::TooLarge { limit: 10 });
        assert_eq!(r.pending_bytes(), 6);
        assert_eq!(r.add("a", Some("2"), Some("1"), vec![1; 4], now).unwrap().map(|v| v.len()), Some(10));
    }

    #[test]
    fn bad_numbering_is_refused() {
        let now = Instant::now();
        let mut r = Reassembler::new(100, Duration::from_secs(5));
        for (sum, seq) in
            [(Some("0"), Some("0")), (Some("2"), Some("2")), (Some("x"), Some("0")), (Some("9999999"), Some("0"))]
        {
            assert!(
                matches!(r.add("m", sum, seq, vec![1], now), Err(FragmentError::Numbering { .. })),
                "{sum:?} {seq:?}"
            );
        }
        assert_eq!(r.add("m", Some("3"), Some("0"), vec![1], now).unwrap(), None);
        assert!(r.add("m", Some("4"), Some("1"), vec![1], now).is_err(), "sum changed between parts");
        assert_eq!(r.pending_bytes(), 0);
    }
}
