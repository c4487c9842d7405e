//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>): every request
//! continues its caller's trace or starts one, gets a span id of its own for this hop, answers
//! with its `traceparent`, passes it on to the services it calls (`peer`), and names the
//! trace's id on every log line it emits (the request span's `trace_id`).
//!
//! A propagator of our own rather than the OpenTelemetry crates: we export no spans, and what
//! the contract needs is parsing and writing one header, which costs a few random bytes and no
//! allocation per request this way.

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header of the W3C format.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The only version this propagator writes.
const VERSION: &str = "00";
/// `00-<32 hex>-<16 hex>-<2 hex>`.
const VERSION_00_LENGTH: usize = 55;
/// The flag that says the caller may have recorded its span.
const SAMPLED: u8 = 0x01;

/// One hop of a trace: the trace it belongs to, this hop's span, and the caller's span when
/// the trace was continued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_id: Option<[u8; 8]>,
    flags: u8,
}

/// A caller's `traceparent` that follows the W3C rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traceparent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl Traceparent {
    /// Parses a `traceparent` value: version `00` exactly 55 characters; a later version at
    /// least that, its first four fields read as version `00`'s (the specification's rule for
    /// versions not known yet); version `ff` never. Lowercase hex only, and neither the trace
    /// id nor the parent id may be all zeros.
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        if bytes.len() < VERSION_00_LENGTH {
            return None;
        }
        let version = hex_field::<1>(&bytes[0..2])?[0];
        if version == 0xff {
            return None;
        }
        if version == 0 && bytes.len() != VERSION_00_LENGTH {
            return None;
        }
        if bytes.len() > VERSION_00_LENGTH && bytes[VERSION_00_LENGTH] != b'-' {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = hex_field::<16>(&bytes[3..35])?;
        let parent_id = hex_field::<8>(&bytes[36..52])?;
        let flags = hex_field::<1>(&bytes[53..55])?[0];
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The one valid `traceparent` of `headers`; none when absent, repeated or malformed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(TRACEPARENT).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        Self::parse(value.to_str().ok()?)
    }
}

/// `N` bytes from `2 × N` lowercase hex digits (the format allows no uppercase).
fn hex_field<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N
        || !digits
            .iter()
            .all(|digit| matches!(digit, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).ok()?;
    Some(out)
}

impl TraceContext {
    /// A new trace, for a request that brought none (or a malformed one). Not sampled: this
    /// process records no spans.
    pub fn start() -> Self {
        Self {
            trace_id: random_nonzero(),
            span_id: random_nonzero(),
            parent_id: None,
            flags: 0,
        }
    }

    /// The next hop of the caller's trace: its trace id and flags, a new span id.
    pub fn continue_from(caller: Traceparent) -> Self {
        Self {
            trace_id: caller.trace_id,
            span_id: random_nonzero(),
            parent_id: Some(caller.parent_id),
            flags: caller.flags,
        }
    }

    /// Continues the trace of a request's `traceparent`, or starts one.
    pub fn of_request(headers: &HeaderMap) -> Self {
        Traceparent::from_headers(headers).map_or_else(Self::start, Self::continue_from)
    }

    pub fn trace_id(&self) -> TraceId {
        TraceId(self.trace_id)
    }

    /// The caller's span, when the trace was continued.
    pub fn parent_id(&self) -> Option<[u8; 8]> {
        self.parent_id
    }

    pub fn is_sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// This hop's `traceparent`: what the answer carries and what calls to other services
    /// carry, so that their spans are children of this one.
    pub fn traceparent(&self) -> HeaderValue {
        let mut text = [0u8; VERSION_00_LENGTH];
        text[0..2].copy_from_slice(VERSION.as_bytes());
        text[2] = b'-';
        hex::encode_to_slice(self.trace_id, &mut text[3..35]).expect("32 digits for 16 bytes");
        text[35] = b'-';
        hex::encode_to_slice(self.span_id, &mut text[36..52]).expect("16 digits for 8 bytes");
        text[52] = b'-';
        hex::encode_to_slice([self.flags], &mut text[53..55]).expect("2 digits for 1 byte");
        HeaderValue::from_bytes(&text).expect("hex digits and dashes are a header value")
    }
}

fn random_nonzero<const N: usize>() -> [u8; N] {
    loop {
        let bytes: [u8; N] = std::array::from_fn(|_| rand::random());
        if bytes != [0; N] {
            return bytes;
        }
    }
}

/// A trace id as its 32 lowercase hex digits, formatted without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId(pub [u8; 16]);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 32];
        hex::encode_to_slice(self.0, &mut digits).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        let caller = Traceparent::parse(EXAMPLE).unwrap();
        let context = TraceContext::continue_from(caller);
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(context.parent_id(), Some(caller.parent_id));
        assert!(context.is_sampled());
        let sent = context.traceparent();
        let sent = sent.to_str().unwrap();
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(sent.ends_with("-01"));
        assert_ne!(
            &sent[36..52],
            "00f067aa0ba902b7",
            "a new span id for this hop"
        );
        let reparsed = Traceparent::parse(sent).unwrap();
        assert_eq!(reparsed.trace_id, caller.trace_id);
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(Traceparent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_as_version_00() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert!(Traceparent::parse(later).is_some());
        let glued = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01more";
        assert_eq!(Traceparent::parse(glued), None);
    }

    #[test]
    fn a_repeated_header_starts_a_new_trace() {
        let mut headers = HeaderMap::new();
        headers.append(TRACEPARENT, HeaderValue::from_static(EXAMPLE));
        assert!(Traceparent::from_headers(&headers).is_some());
        headers.append(TRACEPARENT, HeaderValue::from_static(EXAMPLE));
        assert_eq!(Traceparent::from_headers(&headers), None);
        let started = TraceContext::of_request(&headers);
        assert_ne!(
            started.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(started.parent_id(), None);
    }

    #[test]
    fn a_started_trace_writes_a_valid_header() {
        let started = TraceContext::start();
        let written = started.traceparent();
        let parsed = Traceparent::parse(written.to_str().unwrap()).unwrap();
        assert_eq!(parsed.trace_id, started.trace_id().0);
        assert!(!started.is_sampled());
        assert_ne!(TraceContext::start().trace_id(), started.trace_id());
    }
}
