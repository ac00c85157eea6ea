//! Sending a call on to a service: the next healthy endpoint (another when
//! one cannot be reached), the deadline kept, a unary answer passed on in
//! the frames the service used, a stream ended at its deadline, and one
//! stream's reset kept to that call.

use super::*;

/// An upstream's CANCELLED this close to the deadline is the deadline.
pub(super) const DEADLINE_SLACK: Duration = Duration::from_millis(50);

pub(super) fn deadline_exceeded(timeout: Duration) -> tonic::Status {
    ServiceError::deadline_exceeded(format!(
        "no answer within the call's deadline of {} ms",
        timeout.as_millis()
    ))
    .to_status()
}

/// Whether a transport error means the request never reached the service
/// (so another endpoint may take it).
pub(super) fn never_sent(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::HostUnreachable
            )
        {
            return true;
        }
        if err.to_string().contains("connect") && !err.to_string().contains("connection") {
            return true;
        }
        source = err.source();
    }
    false
}

/// Sends a call to the next healthy endpoint; when that endpoint cannot be
/// reached at all, to the next one (the call never left the gateway).
/// Unary answers are read whole within the deadline; streams pass through.
pub(super) async fn forward(
    upstream: &Upstream,
    headers: HeaderMap,
    path: &str,
    body: Bytes,
    timeout: Duration,
    streaming: bool,
) -> Result<Response<Body>, tonic::Status> {
    let deadline = tokio::time::Instant::now() + timeout;
    let attempts = upstream.endpoints().len().clamp(1, 3);
    let mut except = None;
    let mut last_error = None;
    for _ in 0..attempts {
        let Some(endpoint) = upstream.pick(except) else {
            break;
        };
        let mut request = Request::new(Body::new(http_body_util::Full::new(body.clone())));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = path
            .parse()
            .map_err(|_| tonic::Status::invalid_argument(format!("`{path}` is not a path")))?;
        *request.headers_mut() = headers.clone();
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if let Ok(v) = HeaderValue::from_str(&frames::format_timeout(remaining)) {
            request.headers_mut().insert("grpc-timeout", v);
        }
        let sent = tokio::time::timeout_at(deadline, endpoint.send(request)).await;
        let response = match sent {
            Err(_) => return Err(deadline_exceeded(timeout)),
            Ok(Err(e)) => {
                if let Some(status) = crate::upstream::stream_error(&e, &upstream.name) {
                    // This call's stream was reset; the connection, and
                    // every other call on it, carries on.
                    tracing::warn!(endpoint = %endpoint.addr, error = %e, "upstream reset the call");
                    return Err(status);
                }
                let unsent = never_sent(&e);
                endpoint.mark_down();
                let message = format!(
                    "{} at {} cannot be reached: {}",
                    upstream.name,
                    endpoint.addr,
                    crate::upstream::causes(&e)
                );
                tracing::warn!(endpoint = %endpoint.addr, error = %e, unsent, "upstream call failed");
                if unsent {
                    except = Some(endpoint.addr);
                    last_error = Some(message);
                    continue;
                }
                return Err(ServiceError::unavailable(message).to_status());
            }
            Ok(Ok(r)) => r,
        };
        if streaming {
            return Ok(within_deadline(response, deadline, timeout));
        }
        let (parts, body) = response.into_parts();
        let collected = match tokio::time::timeout_at(deadline, body.collect()).await {
            Err(_) => return Err(deadline_exceeded(timeout)),
            Ok(Err(status)) => return Err(status),
            Ok(Ok(c)) => c,
        };
        let trailers = collected.trailers().cloned();
        // A service ends a call at the deadline it was sent (tonic says
        // CANCELLED), a hair before the gateway's own timer: that is the
        // caller's deadline passing.
        let cancelled = |h: &HeaderMap| h.get("grpc-status").is_some_and(|v| v == "1");
        if (cancelled(&parts.headers) || trailers.as_ref().is_some_and(cancelled))
            && deadline.saturating_duration_since(tokio::time::Instant::now()) < DEADLINE_SLACK
        {
            return Err(deadline_exceeded(timeout));
        }
        let data = collected.to_bytes();
        if data.is_empty() && trailers.is_none() {
            // Trailers-only (the status in the one HEADERS frame): it stays
            // so, an empty body ending the stream with the headers.
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let mut frames: Vec<Result<Frame<Bytes>, tonic::Status>> = Vec::with_capacity(2);
        if !data.is_empty() {
            frames.push(Ok(Frame::data(data)));
        }
        if let Some(t) = trailers {
            frames.push(Ok(Frame::trailers(t)));
        }
        let body = StreamBody::new(futures::stream::iter(frames));
        return Ok(Response::from_parts(parts, Body::new(body)));
    }
    Err(ServiceError::unavailable(last_error.unwrap_or_else(|| {
        format!(
            "{} has no endpoint: its route resolves to no address",
            upstream.name
        )
    }))
    .to_status())
}

/// A server stream that ends at the call's deadline: its messages pass as
/// they come, and if the deadline comes first the stream ends with
/// `DEADLINE_EXCEEDED` trailers (dropping the upstream stream cancels it at
/// the service). A trailers-only answer passes as it is.
pub(super) fn within_deadline(
    response: Response<Body>,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Response<Body> {
    use futures::StreamExt as _;
    if response.headers().contains_key("grpc-status") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let frames = futures::stream::unfold(
        Some(http_body_util::BodyStream::new(body)),
        move |body| async move {
            let mut body = body?;
            tokio::select! {
                frame = body.next() => frame.map(|f| (f, Some(body))),
                _ = tokio::time::sleep_until(deadline) => {
                    let mut trailers = HeaderMap::new();
                    let _ = deadline_exceeded(timeout).add_header(&mut trailers);
                    Some((Ok(Frame::trailers(trailers)), None))
                }
            }
        },
    );
    Response::from_parts(parts, Body::new(StreamBody::new(frames)))
}

/// The call's gRPC code, from a trailers-only answer's headers or a
/// buffered answer's trailers (a stream in progress counts as OK).
pub(super) fn status_of(response: &Response<Body>) -> Code {
    if let Some(v) = response.headers().get("grpc-status") {
        return v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
            .map(Code::from)
            .unwrap_or(Code::Unknown);
    }
    Code::Ok
}
