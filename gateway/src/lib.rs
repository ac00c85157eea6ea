//! The gateway: the suite's one public endpoint (routing by service,
//! authentication, authorisation by method and role, rate limits,
//! per-request load balancing, gRPC-Web and JSON). Until it is built, callers
//! reach each service on its own port (see the README).
