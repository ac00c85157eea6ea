//! Logs and traces: `tracing` everywhere; readable lines on a terminal, JSON
//! lines in production; spans exported through OpenTelemetry (OTLP over
//! gRPC) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; W3C trace context read
//! from and written to gRPC metadata so one trace spans every service.

use std::io::IsTerminal as _;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, fmt};

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable on a terminal, JSON otherwise.
    #[default]
    Auto,
    /// Multi-line, coloured, for people.
    Pretty,
    /// One line per event, for people.
    Compact,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Telemetry settings shared by every binary.
#[derive(Clone, Debug, clap::Args)]
pub struct TelemetryArgs {
    /// Log line format.
    #[arg(long, env = "CPPCC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// Which events to log, in `RUST_LOG` syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
}

/// Keeps span export running; dropping it flushes what is pending.
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("exporting", &self.provider.is_some())
            .finish()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("failed to flush traces: {e}");
        }
    }
}

fn fmt_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let format = match format {
        LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Compact,
        LogFormat::Auto => LogFormat::Json,
        other => other,
    };
    let layer = fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => layer.pretty().boxed(),
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        _ => layer.compact().boxed(),
    }
}

/// Installs the global subscriber. Call once, inside the Tokio runtime (the
/// OTLP exporter needs it), and keep the guard until the process ends.
pub fn init(
    service_name: &'static str,
    args: &TelemetryArgs,
) -> Result<TelemetryGuard, crate::BoxError> {
    let filter = EnvFilter::try_new(&args.log_filter)
        .map_err(|e| format!("log filter `{}` is not valid: {e}", args.log_filter))?;
    global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {
            // The exporter reads the endpoint (and the OTEL_* settings) itself.
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service_name).build())
                    .build(),
            )
        }
        _ => None,
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service_name)));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer(args.log_format))
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// The header that names one call across the gateway, the services and
/// their logs: a caller's own value is kept (and answered back), else the
/// first hop makes one.
pub const CALL_ID_HEADER: &str = "x-request-id";

/// The call's id: the caller's, when it is a short printable token, else
/// a new one.
pub fn call_id(headers: &http::HeaderMap) -> http::HeaderValue {
    callers_call_id(headers).cloned().unwrap_or_else(|| {
        http::HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
            .expect("hex is a header value")
    })
}

/// The caller's call id, when it is one: up to 128 printable characters
/// (anything else is neither logged nor passed on).
fn callers_call_id(headers: &http::HeaderMap) -> Option<&http::HeaderValue> {
    headers.get(CALL_ID_HEADER).filter(|v| {
        (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
    })
}

/// The span of one incoming call, continuing the caller's trace if its
/// metadata carries one (`traceparent`).
pub fn server_span(req: &http::Request<()>) -> tracing::Span {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(req.headers())));
    let call = callers_call_id(req.headers())
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let span = tracing::info_span!(
        "grpc",
        rpc.method = %req.uri().path(),
        call = %call,
        otel.kind = "server",
    );
    // Fails only when no OpenTelemetry layer is installed; nothing to continue then.
    let _ = span.set_parent(parent);
    span
}

/// The span of one call through the gateway, continuing the caller's trace
/// (`traceparent` in `headers`).
pub fn gateway_span(path: &str, headers: &http::HeaderMap) -> tracing::Span {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    let span = tracing::info_span!(
        "gateway",
        rpc.method = %path,
        rpc.grpc.status_code = tracing::field::Empty,
        caller = tracing::field::Empty,
        otel.kind = "server",
    );
    let _ = span.set_parent(parent);
    span
}

/// Writes `span`'s trace context into outgoing HTTP headers, so the next
/// service's spans join its trace.
pub fn inject_headers(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let cx: Context = span.context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Writes the current span's trace context into outgoing gRPC metadata, so
/// the next service's spans join this trace.
pub fn inject_context(metadata: &mut tonic::metadata::MetadataMap) {
    let cx: Context = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut MetadataInjector(metadata)));
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_call_id_is_kept_only_when_short_and_printable() {
        let mut headers = http::HeaderMap::new();
        headers.insert(CALL_ID_HEADER, "city-system-42".parse().unwrap());
        assert_eq!(call_id(&headers), "city-system-42");
        for bad in ["x".repeat(129), "two words".into(), String::new()] {
            headers.insert(CALL_ID_HEADER, bad.parse().unwrap());
            let made = call_id(&headers);
            assert_ne!(made.as_bytes(), bad.as_bytes());
            assert_eq!(made.len(), 32, "a new uuid in hex");
        }
        headers.remove(CALL_ID_HEADER);
        assert_ne!(call_id(&headers), call_id(&headers), "each call its own");
    }
}
