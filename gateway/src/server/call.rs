//! One call's path: how it came in (gRPC, gRPC-Web, JSON), its admission
//! on headers alone, its body read only then (health and reflection
//! streamed, the rest whole within the size limit), and its answer from the
//! gateway's own services or a service behind it.

use super::*;

/// How a call came in, and so how it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protocol {
    Grpc,
    GrpcWeb,
    GrpcWebText,
    Json,
}

pub(super) fn is_health(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

pub(super) fn is_public(path: &str) -> bool {
    is_health(path) || path.starts_with("/grpc.reflection.")
}

/// What a refused caller may still send, read and dropped (never kept),
/// after its refusal is answered.
const LINGER_BYTES: usize = 64 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Reads and drops the rest of a refused call's body, within
/// [`LINGER_BYTES`] and [`LINGER_TIME`], so that a client still sending
/// reads its refusal instead of a reset stream or connection (what nginx
/// calls a lingering close). The refusal itself is sent at once.
async fn linger(body: Incoming) {
    let drain = async {
        let mut body = body;
        let mut read = 0;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |d| d.len());
            if read > LINGER_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// How a call's body becomes gRPC messages.
pub(super) enum Decode {
    Grpc,
    GrpcWeb,
    GrpcWebText,
    Json(prost_reflect::MethodDescriptor),
}

impl Decode {
    pub(super) fn into_grpc(self, body: Bytes) -> Result<Bytes, tonic::Status> {
        let body = match self {
            Decode::Grpc => return Ok(body),
            Decode::Json(method) => {
                return json::request(&method, &body).map_err(|e| e.to_status());
            }
            Decode::GrpcWebText => Bytes::from(
                frames::decode_text(&body)
                    .map_err(|e| ServiceError::invalid("body", e.to_string()).to_status())?,
            ),
            Decode::GrpcWeb => body,
        };
        frames::split_messages(&body).map_err(|e| {
            ServiceError::invalid("body", format!("not a gRPC-Web request: {e}")).to_status()
        })?;
        Ok(body)
    }
}

pub(super) fn too_large(limit: usize) -> tonic::Status {
    ServiceError::resource_exhausted(
        format!("the request is over the gateway's limit of {limit} bytes"),
        Duration::ZERO,
    )
    .with_reason("REQUEST_TOO_LARGE")
    .to_status()
}

impl Shared {
    pub(super) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: Arc<Conn>,
    ) -> Response<Body> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let origin = parts.headers.get(header::ORIGIN).cloned();
        if conn.admin {
            if parts.method == Method::GET && path == "/metrics" {
                let text =
                    self.metrics.render() + &crate::metrics::render_endpoints(&self.config.routes);
                return plain(StatusCode::OK, "text/plain; version=0.0.4", text);
            }
            if !is_health(&path) {
                return plain(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "the admin port serves the gRPC health check and GET /metrics only\n",
                );
            }
        }
        if parts.method == Method::OPTIONS {
            return self.preflight(origin.as_ref());
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let protocol = if content_type.starts_with("application/grpc-web-text") {
            Protocol::GrpcWebText
        } else if content_type.starts_with("application/grpc-web") {
            Protocol::GrpcWeb
        } else if content_type.starts_with("application/grpc") {
            Protocol::Grpc
        } else if content_type.is_empty() || content_type.starts_with("application/json") {
            Protocol::Json
        } else {
            return json_error(
                &ServiceError::invalid(
                    "content-type",
                    format!(
                        "`{}` is not taken: send application/grpc, application/grpc-web(+proto), application/grpc-web-text or application/json",
                        cppcc_kit::text::prefix(&content_type, 60)
                    ),
                )
                .to_status(),
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            );
        };
        if parts.method != Method::POST {
            let status = ServiceError::invalid(
                "method",
                format!(
                    "calls are POST /package.Service/Method, not {} {}",
                    parts.method,
                    cppcc_kit::text::prefix(&path, 120)
                ),
            )
            .to_status();
            return self.refuse(protocol, status, Some(StatusCode::METHOD_NOT_ALLOWED));
        }
        // An HTTP/1.1 caller whose body is refused unread is told to close
        // (hyper does): a client that reused the socket would fail its next call.
        let http1 = parts.version < http::Version::HTTP_2;
        let mut response = match protocol {
            Protocol::Grpc => {
                self.clone()
                    .call(
                        parts.headers,
                        &path,
                        body,
                        (&conn, http1),
                        started,
                        Decode::Grpc,
                    )
                    .await
            }
            Protocol::GrpcWeb | Protocol::GrpcWebText => {
                let text = protocol == Protocol::GrpcWebText;
                let decode = if text {
                    Decode::GrpcWebText
                } else {
                    Decode::GrpcWeb
                };
                let response = self
                    .clone()
                    .call(parts.headers, &path, body, (&conn, http1), started, decode)
                    .await;
                to_grpc_web(response, text)
            }
            Protocol::Json => {
                self.clone()
                    .json(parts.headers, &path, body, (&conn, http1), started)
                    .await
            }
        };
        if protocol != Protocol::Grpc {
            self.cors(origin.as_ref(), response.headers_mut());
        }
        response
    }

    /// Reads the whole body, refusing one over the limit.
    pub(super) async fn read_body(
        &self,
        declared: Option<usize>,
        body: Incoming,
    ) -> Result<Bytes, tonic::Status> {
        let limit = self.config.max_request_bytes;
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(too_large(limit))
            }
            Err(e) => Err(tonic::Status::cancelled(format!(
                "the request body could not be read: {e}"
            ))),
        }
    }

    /// A refusal before any call, in the caller's protocol.
    pub(super) fn refuse(
        &self,
        protocol: Protocol,
        status: tonic::Status,
        http: Option<StatusCode>,
    ) -> Response<Body> {
        match protocol {
            Protocol::Grpc => status.into_http(),
            Protocol::GrpcWeb | Protocol::GrpcWebText => {
                to_grpc_web(status.into_http(), protocol == Protocol::GrpcWebText)
            }
            Protocol::Json => json_error(&status, http),
        }
    }

    /// One call, in gRPC: admitted on its headers alone (token, policy,
    /// limits, route), its body read only then, answered locally or
    /// forwarded, and counted. Always answers (errors as trailers-only
    /// responses).
    pub(super) async fn call(
        self: Arc<Self>,
        headers: HeaderMap,
        path: &str,
        body: Incoming,
        conn: (&Conn, bool),
        started: Instant,
        decode: Decode,
    ) -> Response<Body> {
        let mut headers = headers;
        let id = cppcc_kit::telemetry::call_id(&headers);
        headers.insert(cppcc_kit::telemetry::CALL_ID_HEADER, id.clone());
        let span = cppcc_kit::telemetry::gateway_span(path, &headers);
        let this = self.clone();
        async move {
            let mut caller = String::from("anonymous");
            let result = this
                .clone()
                .admit_and_send(headers, path, body, conn, decode, &mut caller)
                .await;
            let mut response = result.unwrap_or_else(|status| status.into_http());
            response
                .headers_mut()
                .insert(cppcc_kit::telemetry::CALL_ID_HEADER, id);
            let code = status_of(&response);
            let span = tracing::Span::current();
            span.record("rpc.grpc.status_code", code as i32);
            span.record("caller", caller.as_str());
            // Only known methods name a series: a path a caller makes up
            // counts under one label.
            let known = descriptors::method(path).is_some()
                || is_public(path)
                || path
                    .strip_prefix('/')
                    .and_then(|p| p.split_once('/'))
                    .is_some_and(|(s, _)| this.local_names.contains(&s));
            let label = if known { path } else { "unknown" };
            this.metrics.record(label, code, &caller, started.elapsed());
            response
        }
        .instrument(span)
        .await
    }

    pub(super) async fn admit_and_send(
        self: Arc<Self>,
        headers: HeaderMap,
        path: &str,
        body: Incoming,
        (conn, http1): (&Conn, bool),
        decode: Decode,
        caller: &mut String,
    ) -> Result<Response<Body>, tonic::Status> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let admitted = match self.admit(headers, path, conn, caller) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                tokio::spawn(linger(body));
                return Err(refusal);
            }
        };
        let limit = self.config.max_request_bytes;
        if is_public(path) && matches!(decode, Decode::Grpc) {
            // Health and reflection read their requests as they come
            // (reflection answers each question on an open stream).
            let body = Limited::new(body, limit).map_err(move |e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    too_large(limit)
                } else {
                    tonic::Status::cancelled(format!("the request body could not be read: {e}"))
                }
            });
            return Ok(self
                .local(admitted.headers, path, Body::new(body), admitted.timeout)
                .await);
        }
        let raw = match self.read_body(declared, body).await {
            Ok(raw) => raw,
            Err(status) => {
                let mut refusal = status.into_http();
                if http1 {
                    refusal
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return Ok(refusal);
            }
        };
        let (mut headers, body) = (admitted.headers, decode.into_grpc(raw)?);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        match admitted.target {
            Target::Local => Ok(self
                .local(
                    headers,
                    path,
                    Body::new(http_body_util::Full::new(body)),
                    admitted.timeout,
                )
                .await),
            Target::Upstream(upstream) => {
                let timeout = admitted.timeout.unwrap_or(self.config.default_timeout);
                let streaming = descriptors::method(path).is_some_and(|m| m.is_server_streaming());
                forward(&upstream, headers, path, body, timeout, streaming).await
            }
        }
    }

    /// Answers from the gateway's own services, within the call's deadline
    /// when it has one (health and reflection have none).
    pub(super) async fn local(
        &self,
        headers: HeaderMap,
        path: &str,
        body: Body,
        timeout: Option<Duration>,
    ) -> Response<Body> {
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = path.parse().unwrap_or_default();
        *request.headers_mut() = headers;
        if let Some(t) = timeout
            && let Ok(v) = HeaderValue::from_str(&frames::format_timeout(t))
        {
            request.headers_mut().insert("grpc-timeout", v);
        }
        let answer = self.local.clone().oneshot(request);
        let answered = match timeout {
            None => answer.await,
            Some(t) => match tokio::time::timeout(t, answer).await {
                Ok(r) => r,
                Err(_) => return deadline_exceeded(t).into_http(),
            },
        };
        match answered {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }
}
