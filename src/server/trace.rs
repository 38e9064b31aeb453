//! Continues the gateway's W3C trace context: every call runs in a span that carries the
//! incoming `traceparent`'s trace id, its parent span id and a new span id of our own, so the
//! driver's (JSON) logs line up with the gateway's traces.

use std::task::{Context, Poll};

use tower::{Layer, Service};
use tracing::Instrument;

/// The parts of a valid `traceparent` header (version 00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub parent_id: String,
    pub sampled: bool,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// Parses `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; all-zero ids are invalid.
pub fn parse_traceparent(header: &str) -> Option<TraceParent> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, parent_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "00" || !is_hex(trace_id, 32) || !is_hex(parent_id, 16) || !is_hex(flags, 2)
    {
        return None;
    }
    if trace_id.chars().all(|c| c == '0') || parent_id.chars().all(|c| c == '0') {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    Some(TraceParent {
        trace_id: trace_id.into(),
        parent_id: parent_id.into(),
        sampled,
    })
}

fn new_span_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextLayer;

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct TraceContextService<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for TraceContextService<S>
where
    S: Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let parent = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        let path = request.uri().path().to_string();
        let span = match parent {
            Some(p) => {
                tracing::info_span!("grpc", path, trace_id = %p.trace_id, parent_span_id = %p.parent_id, span_id = %new_span_id())
            }
            None => tracing::info_span!("grpc", path),
        };
        self.inner.call(request).instrument(span)
    }
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
