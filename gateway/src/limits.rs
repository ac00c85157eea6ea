//! Per-caller limits: a token bucket for the call rate and a cap on calls
//! in flight. A caller over either gets `RESOURCE_EXHAUSTED` with a
//! `RetryInfo` saying when to try again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cppcc_kit::error::ServiceError;

/// The limits every caller gets.
#[derive(Clone, Copy, Debug)]
pub struct LimitArgs {
    /// Calls per second, sustained.
    pub rate: f64,
    /// Calls allowed at once above the rate (the bucket's size).
    pub burst: f64,
    /// Calls in flight at once.
    pub concurrency: usize,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
    in_flight: Arc<AtomicUsize>,
}

/// The callers' buckets.
pub struct Limits {
    args: LimitArgs,
    callers: Mutex<HashMap<String, Bucket>>,
}

/// Held while a call is in flight; gives its slot back when dropped.
#[derive(Debug)]
pub struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Buckets idle this long are forgotten (they are full again by then).
const IDLE: Duration = Duration::from_secs(120);
/// Above this many callers, idle buckets are swept on the next call.
const SWEEP_ABOVE: usize = 10_000;

impl Limits {
    pub fn new(args: LimitArgs) -> Limits {
        Limits {
            args,
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one call of `caller`, or says how long to wait.
    pub fn admit(&self, caller: &str) -> Result<Permit, ServiceError> {
        self.admit_at(caller, Instant::now())
    }

    fn admit_at(&self, caller: &str, now: Instant) -> Result<Permit, ServiceError> {
        let LimitArgs {
            rate,
            burst,
            concurrency,
        } = self.args;
        let mut callers = self.callers.lock().expect("not poisoned");
        if callers.len() > SWEEP_ABOVE {
            callers.retain(|_, b| {
                now.duration_since(b.updated) < IDLE || b.in_flight.load(Ordering::Acquire) > 0
            });
        }
        if !callers.contains_key(caller) {
            callers.insert(
                caller.to_owned(),
                Bucket {
                    tokens: burst,
                    updated: now,
                    in_flight: Arc::new(AtomicUsize::new(0)),
                },
            );
        }
        let bucket = callers.get_mut(caller).expect("just inserted");
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
            return Err(ServiceError::resource_exhausted(
                format!(
                    "too many calls: this caller may make {rate} a second (bursts of {burst}); retry in {} ms",
                    wait.as_millis().max(1)
                ),
                wait.max(Duration::from_millis(1)),
            ));
        }
        let in_flight = bucket.in_flight.fetch_add(1, Ordering::AcqRel);
        if in_flight >= concurrency {
            bucket.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(ServiceError::resource_exhausted(
                format!(
                    "too many calls at once: this caller may have {concurrency} in flight; retry when one finishes"
                ),
                Duration::from_millis(100),
            )
            .with_reason("TOO_MANY_CONCURRENT_CALLS"));
        }
        bucket.tokens -= 1.0;
        Ok(Permit(bucket.in_flight.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cppcc_kit::error::ErrorKind;

    fn limits(rate: f64, burst: f64, concurrency: usize) -> Limits {
        Limits::new(LimitArgs {
            rate,
            burst,
            concurrency,
        })
    }

    #[test]
    fn the_rate_is_kept_per_caller_and_refills() {
        let l = limits(10.0, 3.0, 100);
        let t = Instant::now();
        let permits: Vec<_> = (0..3).map(|_| l.admit_at("a", t).unwrap()).collect();
        let e = l.admit_at("a", t).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ResourceExhausted);
        assert_eq!(e.reason(), "RATE_LIMITED");
        assert!(e.message().contains("retry in 100 ms"), "{}", e.message());
        // Another caller has its own bucket.
        assert!(l.admit_at("b", t).is_ok());
        // A tenth of a second later, one more.
        assert!(l.admit_at("a", t + Duration::from_millis(100)).is_ok());
        assert!(l.admit_at("a", t + Duration::from_millis(100)).is_err());
        drop(permits);
    }

    #[test]
    fn calls_in_flight_are_capped_and_given_back() {
        let l = limits(1000.0, 1000.0, 2);
        let t = Instant::now();
        let a = l.admit_at("a", t).unwrap();
        let _b = l.admit_at("a", t).unwrap();
        let e = l.admit_at("a", t).unwrap_err();
        assert_eq!(e.reason(), "TOO_MANY_CONCURRENT_CALLS");
        drop(a);
        assert!(l.admit_at("a", t).is_ok());
    }
}
