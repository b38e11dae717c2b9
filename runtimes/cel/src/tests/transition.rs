//! CRD transition rules (rules that read `oldSelf`): skipped on a node
//! without an old value, evaluated with it when the host correlated one,
//! and always evaluated with `optionalOldSelf`, `oldSelf` then an optional.

use super::*;

#[test]
fn transition_rules_run_only_with_an_old_value_unless_old_self_is_optional() {
    prepare_json(json!({
        "rules": [
            {"rule": "self == oldSelf", "message": "immutable"},
            {"rule": "self >= oldSelf", "messageExpression": "'was ' + string(oldSelf)"},
            {"rule": "oldSelf.hasValue() ? self >= oldSelf.value() : self <= 10",
             "optionalOldSelf": true, "message": "too big, or shrunk"},
            {"rule": "self > 0", "message": "not positive"}
        ]
    }))
    .unwrap();
    let node = |rule: u32, value: i64, old: Option<i64>| {
        let mut node = json!({"rule": rule, "self": value, "path": "/spec/n", "field": "spec.n"});
        if let Some(old) = old {
            node["oldSelf"] = json!(old);
        }
        node
    };
    let messages = |nodes: Vec<Json>| -> Vec<String> {
        let response = run_on(json!({"nodes": nodes}));
        assert!(response.error.is_none(), "{response:?}");
        response.violations.into_iter().map(|v| v.message).collect()
    };
    let invalid = |m: &str| format!("spec.n: Invalid value: \"integer\": {m}");
    // No old value (CREATE, offline): the transition rules are skipped, the
    // optional one runs with optional.none(), the plain one runs.
    assert_eq!(
        messages(vec![
            node(0, 20, None),
            node(1, 20, None),
            node(2, 20, None),
            node(3, 0, None)
        ]),
        [invalid("too big, or shrunk"), invalid("not positive")]
    );
    assert_eq!(messages(vec![node(2, 5, None)]), Vec::<String>::new());
    // With an old value (UPDATE): every rule runs against it.
    assert_eq!(
        messages(vec![
            node(0, 3, Some(4)),
            node(1, 3, Some(4)),
            node(2, 3, Some(4))
        ]),
        [
            invalid("immutable"),
            invalid("was 4"),
            invalid("too big, or shrunk")
        ]
    );
    assert_eq!(
        messages(vec![
            node(0, 4, Some(4)),
            node(1, 5, Some(4)),
            node(2, 50, Some(40))
        ]),
        Vec::<String>::new()
    );
}

/// A CRD rule past the API server's cost limit, and a resource whose rules
/// pass the cost budget together, are field errors in the API server's
/// words, and no further rule runs.
#[test]
fn crd_rules_stop_at_the_api_servers_cost_limit_and_budget() {
    let nested = "self.all(a, self.all(b, b >= 0))";
    prepare_json(json!({
        "rules": [
            {"rule": nested, "message": "all non-negative"},
            {"rule": "size(self) < 1000"}
        ]
    }))
    .unwrap();
    let node = |rule: u32, n: usize| json!({"rule": rule, "self": (0..n).collect::<Vec<_>>(), "path": "/spec/n", "field": "spec.n"});
    let messages = |nodes: Vec<Json>| -> Vec<String> {
        let response = run_on(json!({"nodes": nodes}));
        assert!(response.error.is_none(), "{response:?}");
        response.violations.into_iter().map(|v| v.message).collect()
    };
    // About 800,000 for 400 numbers: within the limit.
    assert_eq!(
        messages(vec![node(0, 400), node(1, 400)]),
        Vec::<String>::new()
    );
    // About 1,800,000 for 600: past it; the next rule does not run.
    assert_eq!(
        messages(vec![node(0, 600), node(1, 2000)]),
        [
            "spec.n: Invalid value: \"array\": 'operation cancelled: actual cost limit exceeded': \
          no further validation rules will be run due to call cost exceeds limit for rule: all non-negative"
        ]
    );
    // Thirteen nodes of 400: past the resource's budget of 10,000,000.
    let nodes: Vec<Json> = (0..13).map(|_| node(0, 400)).collect();
    assert_eq!(
        messages(nodes),
        [
            "spec.n: Invalid value: \"array\": validation failed due to running out of cost budget, \
          no further validation rules will be run"
        ]
    );
}
