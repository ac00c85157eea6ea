//! Whether a call may go on, decided on its headers alone: the caller's
//! token or certificate, the contracts' callers, the caller's limits, and the
//! upstream that serves it (the shared packages by `cppcc-service`).

use super::*;

/// Headers not passed on: they describe one connection, not the call.
pub(super) const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
    "content-length",
    "grpc-timeout",
];

/// A call let through, and what it holds while it runs.
pub(super) struct Admitted {
    /// The headers to send on.
    pub(super) headers: HeaderMap,
    pub(super) target: Target,
    /// The call's deadline (none for health and reflection).
    pub(super) timeout: Option<Duration>,
    _permit: Option<crate::limits::Permit>,
}

/// Where an admitted call goes.
pub(super) enum Target {
    /// The gateway's own services: health, reflection, the annual report.
    Local,
    Upstream(Arc<Upstream>),
}

/// The packages every service serves: the call says whose it wants.
pub(super) const SHARED_PACKAGES: [&str; 2] = ["cppcc.events.v1", "cppcc.audit.v1"];

/// The header naming the service a shared package's call is for.
pub const OWNER_HEADER: &str = "cppcc-service";

/// Records a refused call in the audit stream (the gateway keeps no
/// records of its own; the log collector keeps these lines).
pub(super) fn audit_denied(
    actor: Option<&Actor>,
    peer: SocketAddr,
    path: &str,
    reason: &str,
    message: &str,
) {
    tracing::warn!(
        target: "cppcc::audit",
        outcome = "denied",
        subject = actor.map(|a| a.subject.as_str()).unwrap_or(""),
        role = actor.map(|a| a.role.as_str()).unwrap_or(""),
        committee = actor.and_then(|a| a.committee()).unwrap_or(""),
        peer = %peer,
        method = path,
        reason,
        message,
        "call refused at the gateway"
    );
}

impl Shared {
    /// Lets a call through on its headers alone, or says why not: the
    /// caller's token (health and reflection need none), the contracts' callers,
    /// the caller's limits, and where the call goes. The headers come back
    /// ready to send on.
    pub(super) fn admit(
        &self,
        mut headers: HeaderMap,
        path: &str,
        conn: &Conn,
        caller: &mut String,
    ) -> Result<Admitted, tonic::Status> {
        if is_public(path) {
            return Ok(Admitted {
                headers,
                target: Target::Local,
                timeout: None,
                _permit: None,
            });
        }
        let Some((service, _)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return Err(tonic::Status::unimplemented(format!(
                "`{}` is not a gRPC method path (/package.Service/Method)",
                cppcc_kit::text::prefix(path, 120)
            )));
        };
        let actor = self.authenticate(&headers, path, conn)?;
        *caller = format!("{}@{}", actor.role, actor.committee().unwrap_or("*"));
        let method = &path[1..];
        match cppcc_kit::access::decide(method, actor.role) {
            Decision::Allow => {}
            Decision::Unlisted
                if descriptors::method(path).is_none() && !self.local_names.contains(&service) =>
            {
                let service = cppcc_kit::text::prefix(service, 120);
                let known = self.config.routes.find(&service).is_some();
                return Err(tonic::Status::unimplemented(if known {
                    format!(
                        "{service} has no method `{}`",
                        cppcc_kit::text::prefix(&method[service.len() + 1..], 120)
                    )
                } else {
                    format!("no service `{service}` behind this gateway")
                }));
            }
            Decision::Deny | Decision::Unlisted => {
                let refused = cppcc_kit::access::refusal(method, actor.role);
                audit_denied(
                    Some(&actor),
                    conn.addr,
                    path,
                    "POLICY_DENIED",
                    refused.message(),
                );
                return Err(refused.to_status());
            }
        }
        let target = if self.local_names.contains(&service) {
            Target::Local
        } else {
            Target::Upstream(self.route(service, &headers)?)
        };
        let key = format!(
            "{}|{}|{}",
            actor.subject,
            actor.role,
            actor.committee().unwrap_or("*")
        );
        let permit = self.limits.admit(&key).map_err(|e| {
            audit_denied(Some(&actor), conn.addr, path, e.reason(), e.message());
            e.to_status()
        })?;
        let timeout = headers
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(frames::parse_timeout)
            .unwrap_or(self.config.default_timeout)
            .min(self.config.max_timeout);
        for name in HOP_BY_HOP {
            headers.remove(name);
        }
        headers.remove(OWNER_HEADER);
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", actor.bearer)) {
            headers.insert(header::AUTHORIZATION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&conn.addr.ip().to_string()) {
            headers.append(HeaderName::from_static("x-forwarded-for"), v);
        }
        cppcc_kit::telemetry::inject_headers(&tracing::Span::current(), &mut headers);
        Ok(Admitted {
            headers,
            target,
            timeout: Some(timeout),
            _permit: Some(permit),
        })
    }

    /// The upstream that serves `service`. Every service also serves the
    /// shared packages (its event stream, its audit log): a call to one of
    /// those names the service it is for in the `cppcc-service` header
    /// (`members`, `proposals`, … or the package, `cppcc.members.v1`);
    /// without it, a route configured for the shared package itself.
    pub(super) fn route(
        &self,
        service: &str,
        headers: &HeaderMap,
    ) -> Result<Arc<Upstream>, tonic::Status> {
        let routes = &self.config.routes;
        let shared = SHARED_PACKAGES.iter().any(|p| {
            service
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('.'))
        });
        let unrouted = || {
            tonic::Status::unimplemented(format!(
                "no service `{}` behind this gateway",
                cppcc_kit::text::prefix(service, 120)
            ))
        };
        if !shared {
            return routes.find(service).cloned().ok_or_else(unrouted);
        }
        let owners = || {
            let mut names: Vec<&str> = routes
                .upstreams()
                .map(|u| u.name.as_str())
                .filter_map(|n| n.strip_prefix("cppcc.")?.strip_suffix(".v1"))
                .filter(|n| !SHARED_PACKAGES.contains(&format!("cppcc.{n}.v1").as_str()))
                .collect();
            names.sort_unstable();
            names.join(", ")
        };
        let Some(owner) = headers.get(OWNER_HEADER) else {
            return routes.find(service).cloned().ok_or_else(|| {
                ServiceError::invalid(
                    OWNER_HEADER,
                    format!(
                        "every service has its own {service}: name whose in the `{OWNER_HEADER}` header (one of: {})",
                        owners()
                    ),
                )
                .to_status()
            });
        };
        let owner = owner.to_str().unwrap_or("").trim();
        let package = if owner.starts_with("cppcc.") {
            owner.to_owned()
        } else {
            format!("cppcc.{owner}.v1")
        };
        let well_formed = !owner.is_empty()
            && owner.len() <= 64
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        routes
            .find(&package)
            .filter(|u| well_formed && !SHARED_PACKAGES.contains(&u.name.as_str()))
            .cloned()
            .ok_or_else(|| {
                ServiceError::invalid(
                    OWNER_HEADER,
                    format!(
                        "`{}` is no service behind this gateway; name one of: {}",
                        cppcc_kit::text::prefix(owner, 64),
                        owners()
                    ),
                )
                .to_status()
            })
    }

    /// Verifies the bearer token or, without one, takes the caller a
    /// client certificate names; audits a refusal.
    pub(super) fn authenticate(
        &self,
        headers: &HeaderMap,
        path: &str,
        conn: &Conn,
    ) -> Result<Actor, tonic::Status> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let verifier = &self.config.verifier;
        let issuer = self
            .config
            .tls
            .as_ref()
            .and_then(|t| t.certificates.as_ref());
        let verified = match (token, &conn.cert, issuer) {
            (Some(token), _, _) => verifier
                .verify(token, Some(conn.addr))
                .map_err(ServiceError::from),
            (None, Some(Ok(cert)), Some(issuer)) => cert
                .actor(issuer, verifier, Some(conn.addr))
                .map_err(ServiceError::from),
            (None, Some(Err(why)), _) => Err(ServiceError::unauthenticated(
                "CERTIFICATE_UNUSABLE",
                why.clone(),
            )),
            (None, _, _) => Err(ServiceError::unauthenticated(
                "TOKEN_MISSING",
                "no bearer token: send `authorization: Bearer <token>`",
            )),
        };
        verified.map_err(|e| {
            audit_denied(None, conn.addr, path, e.reason(), e.message());
            e.to_status()
        })
    }
}
