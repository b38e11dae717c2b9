//! The server's Prometheus metrics, served as text at `GET /metrics` on
//! the health port (the exposition format of `prometheus-client`).
//!
//! - `wasm_validate_admission_requests_total{endpoint,operation,kind,result}`:
//!   answered reviews (`allowed`, `denied`) and refused requests (`invalid`
//!   for 400, `busy` for 429);
//! - `wasm_validate_admission_request_duration_seconds{endpoint}`: from the
//!   body read to the answer ready, a histogram;
//! - `wasm_validate_policy_evaluations_total{policy,outcome}` (`pass`,
//!   `fail`, `error`) and `wasm_validate_policy_fuel_total{policy}`;
//! - `wasm_validate_admission_requests_in_flight`: requests running or
//!   waiting for a worker;
//! - `wasm_validate_admission_requests_deferred_total{endpoint}`: requests
//!   answered by a blocking worker, having needed more than
//!   `--inline-fuel` on the thread that read them (all of them with 0);
//! - `wasm_validate_reloads_total{what,result}`: `certificate`,
//!   `policies` or `objects` (the cluster's objects read for referential
//!   policies, `sync.rs`), `loaded` or `refused`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use wasm_validate_admission::Endpoint;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    operation: String,
    kind: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EvaluationLabels {
    policy: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    what: &'static str,
    result: &'static str,
}

/// Every metric the server keeps, and the registry that encodes them.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<EndpointLabels, Histogram>,
    evaluations: Family<EvaluationLabels, Counter>,
    fuel: Family<PolicyLabels, Counter<u64, AtomicU64>>,
    in_flight: Gauge,
    deferred: Family<EndpointLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    /// Each policy's evaluation and fuel counters, found in the families
    /// once per policy: a family's lookup hashes labels that own a copy of
    /// the name, twice per policy in every review otherwise.
    policies: std::sync::RwLock<std::collections::HashMap<String, PolicyCounters>>,
}

/// One policy's counters, each made when first needed (a series appears
/// once it has a value, as with the families alone).
#[derive(Default)]
struct PolicyCounters {
    /// By outcome: `pass`, `fail`, `error`, any other.
    outcomes: [Option<Counter>; 4],
    fuel: Option<Counter<u64, AtomicU64>>,
}

/// The place of `outcome` in [`PolicyCounters::outcomes`].
fn outcome_slot(outcome: &str) -> usize {
    match outcome {
        "pass" => 0,
        "fail" => 1,
        "error" => 2,
        _ => 3,
    }
}

/// The endpoint as metrics and logs name it: `validate`, `mutate`.
pub(crate) fn endpoint_name(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Validating => "validate",
        Endpoint::Mutating => "mutate",
    }
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("wasm_validate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by endpoint, operation, kind and result",
            requests.clone(),
        );
        let durations = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
            ])
        });
        registry.register(
            "admission_request_duration_seconds",
            "Time from a request's body to its answer",
            durations.clone(),
        );
        let evaluations = Family::<EvaluationLabels, Counter>::default();
        registry.register(
            "policy_evaluations",
            "Policy evaluations at admission by policy and outcome",
            evaluations.clone(),
        );
        let fuel = Family::<PolicyLabels, Counter<u64, AtomicU64>>::default();
        registry.register(
            "policy_fuel",
            "Fuel used by policy at admission",
            fuel.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "admission_requests_in_flight",
            "Requests running or waiting for a worker",
            in_flight.clone(),
        );
        let deferred = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "admission_requests_deferred",
            "Requests answered by a blocking worker, having needed more than the inline fuel",
            deferred.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "reloads",
            "Reloads of the certificate or the policy set, loaded or refused",
            reloads.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            evaluations,
            fuel,
            in_flight,
            deferred,
            reloads,
            policies: Default::default(),
        }
    }

    /// A request answered or refused.
    pub(crate) fn request(
        &self,
        endpoint: Endpoint,
        operation: &str,
        kind: &str,
        result: &'static str,
        seconds: Option<f64>,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint_name(endpoint),
                operation: operation.to_owned(),
                kind: kind.to_owned(),
                result,
            })
            .inc();
        if let Some(seconds) = seconds {
            self.durations
                .get_or_create(&EndpointLabels {
                    endpoint: endpoint_name(endpoint),
                })
                .observe(seconds);
        }
    }

    /// A request handed to a blocking worker.
    pub(crate) fn deferred(&self, endpoint: Endpoint) {
        self.deferred
            .get_or_create(&EndpointLabels {
                endpoint: endpoint_name(endpoint),
            })
            .inc();
    }

    /// What a policy did on a request.
    pub(crate) fn evaluation(&self, policy: &str, outcome: &'static str, fuel: u64) {
        let slot = outcome_slot(outcome);
        // An outcome other than the three named has no slot of its own: its
        // family is asked each time.
        let known = slot < 3;
        let found = self
            .policies
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(policy)
            .and_then(|counters| {
                let outcome = counters.outcomes[slot].as_ref().filter(|_| known)?;
                let fuel_counter = counters.fuel.as_ref()?;
                outcome.inc();
                fuel_counter.inc_by(fuel);
                Some(())
            });
        if found.is_some() {
            return;
        }
        let counter = self
            .evaluations
            .get_or_create(&EvaluationLabels {
                policy: policy.to_owned(),
                outcome,
            })
            .clone();
        let fuel_counter = self
            .fuel
            .get_or_create(&PolicyLabels {
                policy: policy.to_owned(),
            })
            .clone();
        counter.inc();
        fuel_counter.inc_by(fuel);
        let mut policies = self.policies.write().unwrap_or_else(|e| e.into_inner());
        let counters = policies.entry(policy.to_owned()).or_default();
        if known {
            counters.outcomes[slot] = Some(counter);
        }
        counters.fuel = Some(fuel_counter);
    }

    /// The requests running or waiting now.
    pub(crate) fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// A reload of `what` (`certificate`, `policies`, `objects`).
    pub(crate) fn reload(&self, what: &'static str, loaded: bool) {
        self.reloads
            .get_or_create(&ReloadLabels {
                what,
                result: if loaded { "loaded" } else { "refused" },
            })
            .inc();
    }

    /// Every metric in the Prometheus text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    /// The counters a policy's evaluations find once and keep count as the
    /// families alone did: by policy and outcome, fuel by policy.
    #[test]
    fn kept_counters_count_every_evaluation() {
        let metrics = Metrics::new();
        for _ in 0..3 {
            metrics.evaluation("privileged", "pass", 10);
        }
        metrics.evaluation("privileged", "fail", 5);
        metrics.evaluation("host-ports", "error", 1);
        metrics.evaluation("host-ports", "skipped", 2);
        metrics.evaluation("host-ports", "skipped", 2);
        let text = metrics.encode();
        for line in [
            r#"wasm_validate_policy_evaluations_total{policy="privileged",outcome="pass"} 3"#,
            r#"wasm_validate_policy_evaluations_total{policy="privileged",outcome="fail"} 1"#,
            r#"wasm_validate_policy_evaluations_total{policy="host-ports",outcome="error"} 1"#,
            r#"wasm_validate_policy_evaluations_total{policy="host-ports",outcome="skipped"} 2"#,
            r#"wasm_validate_policy_fuel_total{policy="privileged"} 35"#,
            r#"wasm_validate_policy_fuel_total{policy="host-ports"} 5"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(!text.contains(r#"policy="host-ports",outcome="pass""#));
    }
}
