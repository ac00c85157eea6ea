//! Request metrics per method, code and caller (role and committee), in
//! Prometheus' text format at `GET /metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    method: String,
    code: &'static str,
    caller: String,
}

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The counters.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<Key, Series>>,
}

impl Metrics {
    /// Counts one call.
    pub fn record(&self, method: &str, code: tonic::Code, caller: &str, took: Duration) {
        let key = Key {
            method: method.to_owned(),
            code: crate::json::code_name(code),
            caller: caller.to_owned(),
        };
        let seconds = took.as_secs_f64();
        let mut series = self.series.lock().expect("not poisoned");
        let s = series.entry(key).or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let series = self.series.lock().expect("not poisoned");
        let mut keys: Vec<&Key> = series.keys().collect();
        keys.sort_by(|a, b| (&a.method, a.code, &a.caller).cmp(&(&b.method, b.code, &b.caller)));
        let mut out = String::new();
        out.push_str("# HELP cppcc_gateway_requests_total Calls through the gateway.\n");
        out.push_str("# TYPE cppcc_gateway_requests_total counter\n");
        for k in &keys {
            let s = &series[*k];
            let _ = writeln!(
                out,
                "cppcc_gateway_requests_total{{{}}} {}",
                labels(k),
                s.count
            );
        }
        out.push_str("# HELP cppcc_gateway_request_duration_seconds Time from the call's arrival to its answer.\n");
        out.push_str("# TYPE cppcc_gateway_request_duration_seconds histogram\n");
        for k in &keys {
            let s = &series[*k];
            let l = labels(k);
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "cppcc_gateway_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "cppcc_gateway_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "cppcc_gateway_request_duration_seconds_sum{{{l}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "cppcc_gateway_request_duration_seconds_count{{{l}}} {}",
                s.count
            );
        }
        out
    }
}

fn labels(k: &Key) -> String {
    format!(
        "method=\"{}\",code=\"{}\",caller=\"{}\"",
        escape(&k.method),
        k.code,
        escape(&k.caller)
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Per endpoint: calls sent and whether it is in rotation.
pub fn render_endpoints(routes: &crate::upstream::Routes) -> String {
    let mut upstreams: Vec<_> = routes.upstreams().collect();
    upstreams.sort_by(|a, b| a.name.cmp(&b.name));
    let mut calls = String::from(
        "# HELP cppcc_gateway_endpoint_calls_total Calls sent to each endpoint.\n# TYPE cppcc_gateway_endpoint_calls_total counter\n",
    );
    let mut healthy = String::from(
        "# HELP cppcc_gateway_endpoint_healthy 1 while the endpoint is in rotation.\n# TYPE cppcc_gateway_endpoint_healthy gauge\n",
    );
    for u in upstreams {
        for e in u.endpoints().iter() {
            let l = format!("upstream=\"{}\",endpoint=\"{}\"", escape(&u.name), e.addr);
            let _ = writeln!(
                calls,
                "cppcc_gateway_endpoint_calls_total{{{l}}} {}",
                e.calls.load(std::sync::atomic::Ordering::Relaxed)
            );
            let _ = writeln!(
                healthy,
                "cppcc_gateway_endpoint_healthy{{{l}}} {}",
                u8::from(e.is_healthy())
            );
        }
    }
    calls + &healthy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_buckets() {
        let m = Metrics::default();
        m.record(
            "/a.B/C",
            tonic::Code::Ok,
            "admin@suixian",
            Duration::from_millis(3),
        );
        m.record(
            "/a.B/C",
            tonic::Code::Ok,
            "admin@suixian",
            Duration::from_millis(30),
        );
        m.record(
            "/a.B/C",
            tonic::Code::PermissionDenied,
            "member@suixian",
            Duration::from_micros(100),
        );
        let text = m.render();
        assert!(text.contains(
            "cppcc_gateway_requests_total{method=\"/a.B/C\",code=\"OK\",caller=\"admin@suixian\"} 2"
        ));
        assert!(text.contains("code=\"PERMISSION_DENIED\""));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
