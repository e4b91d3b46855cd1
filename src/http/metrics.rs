//! Request counters and latency histograms, rendered in the Prometheus text format.
//!
//! Every label is bounded, whatever a client sends: routes are labelled by their pattern
//! (`/api/v1/residents/{id}`, never the concrete path; `unmatched` for any path no route
//! serves), methods by their standard name (`other` for any invented one), statuses by their
//! code; and past [`MAX_SERIES`] series anything new is counted under `other`. A label taken
//! from the request as it came would let anyone grow the scrape without end (5,000 invented
//! 4 KB methods made it 311 MB).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The methods counted under their own name.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

/// The label of a method: its standard name, or `other`.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// Series at most: the route table's patterns times the methods and statuses in use stay far
/// below it; it bounds the scrape even if a label escaped the rules above.
pub const MAX_SERIES: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_seconds: f64,
    bucket_counts: [u64; BUCKETS.len()],
}

#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<SeriesKey, Series>>,
}

/// What the pool looks like at the moment of a scrape.
#[derive(Debug, Clone, Copy)]
pub struct PoolGauges {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut key = SeriesKey {
            method: method_label(method),
            route: route.to_owned(),
            status,
        };
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if series.len() >= MAX_SERIES && !series.contains_key(&key) {
            key = SeriesKey {
                method: "other",
                route: "other".to_owned(),
                status: 0,
            };
        }
        let entry = series.entry(key).or_default();
        entry.count += 1;
        entry.sum_seconds += seconds;
        for (bound, count) in BUCKETS.iter().zip(entry.bucket_counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
    }

    pub fn render(&self, pool: PoolGauges) -> String {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        out.push_str(
            "# HELP http_requests_total HTTP requests answered, by route pattern and status.\n",
        );
        out.push_str("# TYPE http_requests_total counter\n");
        for (key, s) in &series {
            let _ = writeln!(out, "http_requests_total{{{}}} {}", labels(key), s.count);
        }
        out.push_str("# HELP http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (key, s) in &series {
            let labels = labels(key);
            for (bound, count) in BUCKETS.iter().zip(s.bucket_counts.iter()) {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out.push_str("# HELP db_pool_max_connections Most connections the pool may hold.\n");
        out.push_str("# TYPE db_pool_max_connections gauge\n");
        let _ = writeln!(out, "db_pool_max_connections {}", pool.max_size);
        out.push_str("# HELP db_pool_connections Connections held by the pool, by state.\n");
        out.push_str("# TYPE db_pool_connections gauge\n");
        let _ = writeln!(out, "db_pool_connections{{state=\"idle\"}} {}", pool.idle);
        let _ = writeln!(
            out,
            "db_pool_connections{{state=\"in_use\"}} {}",
            pool.connections.saturating_sub(pool.idle)
        );
        out
    }
}

fn labels(key: &SeriesKey) -> String {
    format!(
        "method=\"{}\",route=\"{}\",status=\"{}\"",
        escape(key.method),
        escape(&key.route),
        key.status
    )
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.record("GET", "/healthz", 200, Duration::from_millis(3));
        m.record("GET", "/healthz", 200, Duration::from_millis(300));
        let text = m.render(PoolGauges {
            max_size: 4,
            connections: 2,
            idle: 1,
        });
        assert!(text
            .contains("http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",status=\"200\",le=\"0.5\"} 2"
        ));
        assert!(text.contains("db_pool_connections{state=\"in_use\"} 1"));
    }

    #[test]
    fn invented_methods_and_too_many_series_fold_into_one() {
        let m = Metrics::default();
        for i in 0..100 {
            m.record(
                &format!("X{i}{}", "Y".repeat(4096)),
                "unmatched",
                405,
                Duration::ZERO,
            );
        }
        m.record("get", "/healthz", 200, Duration::ZERO);
        let pool = PoolGauges {
            max_size: 1,
            connections: 0,
            idle: 0,
        };
        let text = m.render(pool);
        assert!(text.contains(
            "http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 100"
        ));
        assert!(
            text.contains("method=\"other\",route=\"/healthz\""),
            "methods are case-sensitive"
        );
        assert!(!text.contains("YYYY"));
        for i in 0..(MAX_SERIES as u16 + 10) {
            m.record("GET", "/healthz", 1000 + i, Duration::ZERO);
        }
        assert_eq!(m.series.lock().unwrap().len(), MAX_SERIES + 1);
    }
}
