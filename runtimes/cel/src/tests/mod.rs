//! The runtime natively: programs prepared and evaluated as the module
//! does, on requests encoded as the host encodes them.

use serde_json::{Value as Json, json};
use wasm_validate_abi::tape;

use super::*;

pub(crate) fn prepare_json(program: Json) -> Result<(), String> {
    prepare(&Tape::parse(&tape::encode(&program)).unwrap())
}

pub(crate) fn run_on(object: Json) -> Response {
    let request = tape::request(
        Operation::Create,
        &tape::encode(&json!({})),
        &tape::encode(&object),
        None,
    );
    evaluate(&request)
}

/// Checks that each of `expressions` gives the same value, or the same
/// error, rewritten by `rewrite` and evaluated on `object` read lazily from
/// its tape, as cel-rust gives as parsed on the object built up front (a
/// rewrite at compile changes nothing but speed). Values that print
/// differently (maps print in hash order) are compared by value.
pub(crate) fn assert_rewrite_keeps_answers(
    object: &Json,
    expressions: &[&str],
    rewrite: impl Fn(&mut cel::common::ast::IdedExpr),
) {
    let env = Arc::new(environment().unwrap());
    let encoded = tape::encode(object);
    let tape = Tape::parse(&encoded).unwrap();
    let built = value::from_tape(&tape).unwrap();
    for source in expressions {
        let parsed = parse::parse(&env, source).unwrap();
        let mut rewritten = parsed.clone();
        rewrite(&mut rewritten);
        let mut theirs = Context::with_env(env.clone());
        theirs.add_variable_from_value("object", built.clone());
        let mut ours = Context::with_env(env.clone());
        ours.add_variable_as_val("object", lazy::val_at(&tape, 0).0);
        let show = |result: Result<Value, ExecutionError>| match result {
            Ok(value) => format!("{value:?}"),
            Err(error) => format!("error: {error}"),
        };
        let expected = show(Value::resolve(&parsed, &theirs));
        let got = show(Value::resolve(&rewritten, &ours));
        if expected != got {
            assert_eq!(
                Value::resolve(&parsed, &theirs).ok(),
                Value::resolve(&rewritten, &ours).ok(),
                "{source}: {expected} against {got}"
            );
            assert!(
                !expected.starts_with("error"),
                "{source}: {expected} against {got}"
            );
        }
    }
}

fn pod(privileged: bool) -> Json {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "a", "image": "nginx",
                                    "securityContext": {"privileged": privileged}}]}})
}

#[test]
fn a_false_validation_is_a_violation_with_its_message_and_field() {
    prepare_json(json!({
        "variables": [{"name": "containers", "expression": "object.spec.containers + object.spec.?initContainers.orValue([])"}],
        "validations": [{
            "expression": "variables.containers.all(c, !c.?securityContext.?privileged.orValue(false))",
            "messageExpression": "'privileged: ' + variables.containers.filter(c, c.?securityContext.?privileged.orValue(false)).map(c, c.name).join(', ')",
            "fieldPath": "spec.containers[0].securityContext"
        }]
    }))
    .unwrap();
    let denied = run_on(pod(true));
    assert!(!denied.allowed);
    assert_eq!(denied.violations[0].message, "privileged: a");
    assert_eq!(
        denied.violations[0].path,
        "/spec/containers/0/securityContext"
    );
    assert!(run_on(pod(false)).allowed);
}

#[test]
fn match_conditions_and_params_and_request() {
    prepare_json(json!({
        "matchConditions": [{"name": "not-kube-system", "expression": "request.namespace != 'kube-system'"}],
        "validations": [{"expression": "object.spec.containers.size() <= params.max", "message": "too many"}],
        "params": {"max": 0}
    }))
    .unwrap();
    assert_eq!(run_on(pod(false)).violations[0].message, "too many");
    let mut system = pod(false);
    system["metadata"]["namespace"] = json!("kube-system");
    let skipped = run_on(system);
    assert!(skipped.allowed && skipped.not_applicable);
}

#[test]
fn the_default_message_names_the_expression_and_errors_name_it_too() {
    prepare_json(json!({"validations": [{"expression": "object.spec.replicas > 1"}]})).unwrap();
    let error = run_on(pod(false)).error.unwrap();
    assert!(error.contains("validations[0].expression"), "{error}");
    prepare_json(json!({"validations": [{"expression": "object.metadata.name == 'q'"}]})).unwrap();
    assert_eq!(
        run_on(pod(false)).violations[0].message,
        "failed expression: object.metadata.name == 'q'"
    );
}

#[test]
fn unknown_functions_and_the_authorizer_are_refused_when_prepared() {
    let error =
        prepare_json(json!({"validations": [{"expression": "object.metadata.name.frobnicate()"}]}))
            .unwrap_err();
    assert!(
        error.contains("the function frobnicate is not available"),
        "{error}"
    );
    let error = prepare_json(json!({"validations": [{"expression": "authorizer.group('').resource('pods').check('get').allowed()"}]}))
        .unwrap_err();
    assert!(error.contains("authorizer"), "{error}");
    let error = prepare_json(json!({"validations": [{"expression": "object.("}]})).unwrap_err();
    assert!(error.contains("validations[0].expression"), "{error}");
}

#[test]
fn kubernetes_list_and_regex_libraries() {
    // Values from https://kubernetes.io/docs/reference/using-api/cel/.
    for (expression, expected) in [
        ("[1, 2, 3].isSorted()", true),
        ("[2, 1].isSorted() == false", true),
        ("[1, 2, 3].sum() == 6", true),
        ("[1, 2, 3].min() == 1", true),
        ("[1, 2, 3].max() == 3", true),
        ("[1, 2, 2, 3].indexOf(2) == 1", true),
        ("[1, 2, 2, 3].lastIndexOf(2) == 2", true),
        ("'abc 123'.find('[0-9]+') == '123'", true),
        ("'123 abc 456'.findAll('[0-9]+') == ['123', '456']", true),
        ("'123 abc 456'.findAll('[0-9]+', 1) == ['123']", true),
        ("'a,b'.split(',').size() == 2", true),
        ("'ABC'.lowerAscii() == 'abc'", true),
        ("['b', 'a'].sort() == ['a', 'b']", true),
    ] {
        prepare_json(json!({"validations": [{"expression": expression}]}))
            .unwrap_or_else(|e| panic!("{expression}: {e}"));
        let response = run_on(pod(false));
        assert_eq!(response.allowed, expected, "{expression}: {response:?}");
        assert_eq!(response.error, None, "{expression}");
    }
}

#[test]
fn field_paths_become_pointers() {
    assert_eq!(pointer_of("spec.replicas"), "/spec/replicas");
    assert_eq!(
        pointer_of("spec.containers[0].image"),
        "/spec/containers/0/image"
    );
    assert_eq!(
        pointer_of("metadata.labels['app.kubernetes.io/name']"),
        "/metadata/labels/app.kubernetes.io~1name"
    );
}

#[test]
fn a_variant_runs_for_its_kinds_and_the_main_rules_for_others() {
    prepare_json(json!({
        "validations": [{"expression": "object.spec.containers.size() < 1", "message": "main"}],
        "variants": [{
            "targets": [{"apiVersion": "apps/v1", "kind": "Deployment"}],
            "validations": [{"expression": "object.spec.template.spec.containers.size() < 1", "message": "autogen"}]
        }]
    }))
    .unwrap();
    assert_eq!(run_on(pod(false)).violations[0].message, "main");
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
    assert_eq!(run_on(deployment).violations[0].message, "autogen");
}

#[test]
fn namespace_object_is_the_known_namespace_or_one_with_only_its_name() {
    prepare_json(json!({
        "validations": [{"expression": "namespaceObject.metadata.?labels.?env.orValue('none') == 'prod'",
                         "messageExpression": "namespaceObject.metadata.name"}],
        "namespaces": {"prod": {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "prod", "labels": {"env": "prod"}}}}
    }))
    .unwrap();
    let mut in_prod = pod(false);
    in_prod["metadata"]["namespace"] = json!("prod");
    assert!(run_on(in_prod).allowed);
    // Unknown: only its name; no namespace: `default`.
    assert_eq!(run_on(pod(false)).violations[0].message, "default");
    let mut unnamed = pod(false);
    unnamed["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    assert_eq!(run_on(unnamed).violations[0].message, "default");
    // Cluster-scoped: null, so the expression fails to evaluate.
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}});
    assert!(run_on(role).error.is_some());
}

#[test]
fn or_value_on_a_plain_value_is_the_value_and_on_an_absent_optional_the_default() {
    for expression in [
        "[1, 2].orValue([]) == [1, 2]",
        "object.spec.?missing.orValue(7) == 7",
        "object.spec.?containers.orValue([]).size() == 1",
    ] {
        prepare_json(json!({"validations": [{"expression": expression}]})).unwrap();
        let response = run_on(pod(false));
        assert!(response.allowed, "{expression}: {response:?}");
    }
}

#[test]
fn crd_rules_check_each_node_as_self_with_the_api_servers_messages() {
    prepare_json(json!({
        "rules": [
            {"rule": "self.replicas <= self.maxReplicas", "message": "replicas must not exceed maxReplicas"},
            {"rule": "self.startsWith('v')"},
            {"rule": "self.size() > 0", "messageExpression": "'empty ' + string(self.size())", "fieldPath": ".items"}
        ]
    }))
    .unwrap();
    let nodes = json!({"nodes": [
        {"rule": 0, "self": {"replicas": 5, "maxReplicas": 3}, "path": "/spec", "field": "spec"},
        {"rule": 1, "self": "1.0", "path": "/spec/version", "field": "spec.version"},
        {"rule": 1, "self": "v1.0", "path": "/spec/version", "field": "spec.version"},
        {"rule": 2, "self": [], "path": "/spec/list", "field": "spec.list"}
    ]});
    let response = run_on(nodes);
    let found: Vec<(String, String)> = response
        .violations
        .iter()
        .map(|v| (v.message.clone(), v.path.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                r#"spec: Invalid value: "object": replicas must not exceed maxReplicas"#.to_owned(),
                "/spec".to_owned()
            ),
            (
                r#"spec.version: Invalid value: "string": failed rule: self.startsWith('v')"#
                    .to_owned(),
                "/spec/version".to_owned()
            ),
            (
                r#"spec.list.items: Invalid value: "array": empty 0"#.to_owned(),
                "/spec/list/items".to_owned()
            ),
        ]
    );
}

/// Asserts that each expression holds (evaluates to true) on a Pod.
fn all_hold(expressions: &[&str]) {
    for expression in expressions {
        prepare_json(json!({"validations": [{"expression": expression}]}))
            .unwrap_or_else(|e| panic!("{expression}: {e}"));
        let response = run_on(pod(false));
        assert!(
            response.allowed && response.error.is_none(),
            "{expression}: {response:?}"
        );
    }
}

#[test]
fn kubernetes_quantity_library() {
    // The examples of https://kubernetes.io/docs/reference/using-api/cel/.
    all_hold(&[
        "isQuantity('1.3G')",
        "isQuantity('1.3Gi')",
        "!isQuantity('1,3G')",
        "isQuantity('10000k')",
        "!isQuantity('200K')",
        "!isQuantity('Three')",
        "!isQuantity('Mi')",
        "quantity('500000G').isInteger()",
        "quantity('50k').asInteger() == 50000",
        "quantity('9999999999999999999999999999999999999G').asApproximateFloat() > 9.99e45",
        "quantity('1.5Gi').asApproximateFloat() == 1610612736.0",
        "quantity('50k').sign() == 1",
        "quantity('-5').sign() == -1",
        "quantity('50k').add(quantity('20k')) == quantity('70k')",
        "quantity('50k').add(20) == quantity('50020')",
        "quantity('50k').sub(quantity('20k')) == quantity('30k')",
        "quantity('50k').sub(20) == quantity('49980')",
        "quantity('200M').compareTo(quantity('0.2G')) == 0",
        "quantity('50M').compareTo(quantity('50Mi')) == -1",
        "quantity('50Mi').compareTo(quantity('50M')) == 1",
        "quantity('50M').isGreaterThan(quantity('50Mi')) == false",
        "quantity('50Mi').isGreaterThan(quantity('50M'))",
        "quantity('50M').isLessThan(quantity('50Mi'))",
        "quantity('1Gi') == quantity('1024Mi')",
        "!quantity('1.5').isInteger()",
    ]);
}

#[test]
fn kubernetes_ip_cidr_and_url_libraries() {
    all_hold(&[
        "isIP('127.0.0.1')",
        "!isIP('127.0.0.256')",
        "!isIP('127.0.0.01')",
        "!isIP('::ffff:1.2.3.4')",
        "ip('127.0.0.1').family() == 4",
        "ip('::1').family() == 6",
        "ip.isCanonical('127.0.0.1')",
        "!ip.isCanonical('2001:db8:0:0:0:0:2:1')",
        "ip('0.0.0.0').isUnspecified()",
        "ip('127.0.0.1').isLoopback()",
        "ip('224.0.0.1').isLinkLocalMulticast()",
        "!ip('224.0.1.1').isLinkLocalMulticast()",
        "ip('169.254.169.254').isLinkLocalUnicast()",
        "ip('192.168.0.1').isGlobalUnicast()",
        "!ip('255.255.255.255').isGlobalUnicast()",
        "string(ip('192.168.0.1')) == '192.168.0.1'",
        "isCIDR('192.168.0.0/16')",
        "!isCIDR('192.168.0.0/33')",
        "cidr('192.168.0.0/16').containsIP(ip('192.168.0.1'))",
        "cidr('192.168.0.0/16').containsIP('192.168.0.1')",
        "!cidr('192.168.0.0/16').containsIP('10.0.0.1')",
        "cidr('192.168.0.0/16').containsCIDR(cidr('192.168.10.0/24'))",
        "!cidr('192.168.0.0/24').containsCIDR('192.168.0.0/16')",
        "cidr('192.168.0.1/24').ip() == ip('192.168.0.1')",
        "cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')",
        "cidr('192.168.0.0/16').prefixLength() == 16",
        "string(cidr('192.168.0.0/16')) == '192.168.0.0/16'",
        "isURL('https://example.com:80/path?query=val#fragment')",
        "isURL('/absolute-path')",
        "!isURL('relative-path')",
        "url('https://example.com:80/path?query=val#fragment').getScheme() == 'https'",
        "url('https://example.com:80/path').getHost() == 'example.com:80'",
        "url('https://[::1]:80/path').getHost() == '[::1]:80'",
        "url('https://example.com:80/path').getHostname() == 'example.com'",
        "url('https://[::1]:80/path').getHostname() == '::1'",
        "url('https://example.com:80/path').getPort() == '80'",
        "url('https://example.com/path').getPort() == ''",
        "url('https://example.com/path with spaces/'.replace(' ', '%20')).getEscapedPath() == '/path%20with%20spaces/'",
        "url('https://example.com/path?k1=a&k2=b&k2=c').getQuery() == {'k1': ['a'], 'k2': ['b', 'c']}",
    ]);
}

#[test]
fn kubernetes_semver_library() {
    all_hold(&[
        "isSemver('1.0.0')",
        "!isSemver('v1.0')",
        "isSemver('v1.0', true)",
        "semver('1.2.3').major() == 1",
        "semver('1.2.3').minor() == 2",
        "semver('1.2.3').patch() == 3",
        "semver('1.0.0').isLessThan(semver('1.1.0'))",
        "semver('2.0.0').isGreaterThan(semver('1.0.0'))",
        "semver('1.0.0').compareTo(semver('1.0.0')) == 0",
        "semver('1.0.0-alpha').isLessThan(semver('1.0.0'))",
        "semver('v01.01', true) == semver('1.1.0')",
    ]);
}

/// `duration` and `timestamp` (CEL's standard library, as Kubernetes
/// uses them in CRD rules such as Gateway API's timeouts): Go-style
/// duration strings, RFC 3339 timestamps, comparison, arithmetic and the
/// timestamp accessors.
#[test]
fn durations_and_timestamps() {
    let object = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "creationTimestamp": "2026-11-30T04:05:06Z"},
        "spec": {"timeout": "1m30s", "backendTimeout": "2m"}});
    for (expression, allowed) in [
        ("duration('1h30m') == duration('90m')", true),
        (
            "duration(object.spec.timeout) <= duration(object.spec.backendTimeout)",
            true,
        ),
        (
            "duration(object.spec.backendTimeout) < duration('100ms')",
            false,
        ),
        (
            "duration('1m') + duration('30s') == duration(object.spec.timeout)",
            true,
        ),
        (
            "timestamp(object.metadata.creationTimestamp).getFullYear() == 2026",
            true,
        ),
        (
            "timestamp(object.metadata.creationTimestamp).getMonth() == 10",
            true,
        ),
        (
            "timestamp(object.metadata.creationTimestamp) + duration('24h') > timestamp('2026-12-01T00:00:00Z')",
            true,
        ),
        (
            "timestamp('2026-01-01T00:00:00Z') - timestamp('2025-12-31T23:00:00Z') == duration('1h')",
            true,
        ),
    ] {
        prepare_json(json!({"validations": [{"expression": expression, "message": "no"}]}))
            .unwrap_or_else(|e| panic!("{expression}: {e}"));
        let response = run_on(object.clone());
        assert!(
            response.error.is_none(),
            "{expression}: {:?}",
            response.error
        );
        assert_eq!(response.allowed, allowed, "{expression}");
    }
    // A string that is not a duration is an evaluation error, not a pass.
    prepare_json(json!({"validations": [{"expression": "duration('soon') > duration('1s')"}]}))
        .unwrap();
    assert!(run_on(object).error.is_some());
}

#[test]
fn kubernetes_format_library() {
    // The examples of https://kubernetes.io/docs/reference/using-api/cel/
    // and the API server's own tests of the library.
    let label = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    let subdomain = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    let dns1035 = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    let name_part = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    let label_value = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut expressions: Vec<String> = [
        "format.dns1123Label().validate('my-label-name') == optional.none()",
        "format.dns1123Subdomain().validate('apiextensions.k8s.io') == optional.none()",
        "format.qualifiedName().validate('apiextensions.k8s.io/v1beta1') == optional.none()",
        "format.dns1123LabelPrefix().validate('my-label-prefix-') == optional.none()",
        "format.dns1123SubdomainPrefix().validate('mysubdomain.prefix.-') == optional.none()",
        "format.dns1035LabelPrefix().validate('my-label-prefix-') == optional.none()",
        "format.uri().validate('http://example.com') == optional.none()",
        "format.uuid().validate('123e4567-e89b-12d3-a456-426614174000') == optional.none()",
        "format.byte().validate('aGVsbG8=') == optional.none()",
        "format.date().validate('2021-01-01') == optional.none()",
        "format.datetime().validate('2021-01-01T00:00:00Z') == optional.none()",
        "format.dns1035Label().validate('my-label-name') == optional.none()",
        "format.qualifiedName().validate('my.name') == optional.none()",
        "format.labelValue().validate('my-cool-label-Value') == optional.none()",
        "format.byte().validate('aGVsbG8') == optional.of(['invalid base64'])",
        "format.date().validate('2020-01-32') == optional.of(['invalid date'])",
        "format.datetime().validate('2020-01-32T00:00:00Z') == optional.of(['invalid datetime'])",
        "format.uuid().validate('not-a-uuid') == optional.of(['does not match the UUID format'])",
        "format.uri().validate('relative') == optional.of(['parse \"relative\": invalid URI for request'])",
        "!format.named('unknown').hasValue()",
        "format.named('dns1123Label').value().validate('MyLabel').hasValue()",
        "format.qualifiedName().validate('/x') == optional.of(['prefix part must be non-empty'])",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expressions.push(format!(
        "format.dns1123Label().validate('{}').value() == ['must be no more than 63 characters']",
        "a".repeat(64)
    ));
    for (format, text, message) in [
        ("dns1123Label", "contains a space", label),
        ("dns1123Subdomain", "contains a space", subdomain),
        ("dns1035Label", "contains a space", dns1035),
        ("qualifiedName", "contains a space", name_part),
        ("dns1123LabelPrefix", "contains a space-", label),
        ("dns1123SubdomainPrefix", "contains a space-", subdomain),
        ("dns1035LabelPrefix", "contains a space-", dns1035),
        ("labelValue", "my-cool-label-Value!!\n\n!!!", label_value),
    ] {
        expressions.push(format!(
            "format.{format}().validate({}) == optional.of([{}])",
            quote(text).replace('\n', "\\n"),
            quote(message)
        ));
    }
    for a in crate::format::NAMES {
        expressions.push(format!(
            "format.named('{a}').hasValue() && format.named('{a}').value() == format.{a}()"
        ));
        for b in crate::format::NAMES.iter().filter(|b| **b != a) {
            expressions.push(format!("format.{a}() != format.{b}()"));
        }
    }
    let expressions: Vec<&str> = expressions.iter().map(String::as_str).collect();
    all_hold(&expressions);
}

/// Audit annotations are evaluated for every request the policy applies
/// to, whatever the validations found: a string is kept (cut to 10 KiB),
/// `null` or `""` leaves the annotation out, another type or a failing
/// expression is an error naming it; a false match condition evaluates
/// none.
#[test]
fn audit_annotations_are_evaluated_as_the_api_server_does() {
    prepare_json(json!({
        "matchConditions": [{"name": "pods", "expression": "object.kind == 'Pod'"}],
        "validations": [{"expression": "!object.spec.containers[0].securityContext.privileged"}],
        "auditAnnotations": [
            {"key": "p/image", "valueExpression": "object.spec.containers[0].image"},
            {"key": "p/privileged", "valueExpression": "object.spec.containers[0].securityContext.privileged ? 'yes' : null"},
            {"key": "p/empty", "valueExpression": "''"},
            {"key": "p/long", "valueExpression": "'é' + ['x', 'y'].join('')"},
        ]
    }))
    .unwrap();
    let denied = run_on(pod(true));
    assert!(!denied.allowed);
    assert_eq!(
        denied.audit_annotations,
        [
            ("p/image", "nginx"),
            ("p/long", "éxy"),
            ("p/privileged", "yes")
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    );
    let allowed = run_on(pod(false));
    assert!(allowed.allowed);
    assert_eq!(
        allowed.audit_annotations.keys().collect::<Vec<_>>(),
        ["p/image", "p/long"]
    );
    let service = run_on(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}));
    assert!(service.not_applicable && service.audit_annotations.is_empty());

    let long = "x".repeat(audit::MAX_VALUE_BYTES + 10);
    prepare_json(
        json!({"auditAnnotations": [{"key": "p/long", "valueExpression": format!("'{long}'")}]}),
    )
    .unwrap();
    assert_eq!(
        run_on(pod(false)).audit_annotations["p/long"].len(),
        audit::MAX_VALUE_BYTES
    );

    prepare_json(json!({"auditAnnotations": [{"key": "p/n", "valueExpression": "1"}]})).unwrap();
    let error = run_on(pod(false)).error.unwrap();
    assert!(
        error.contains("auditAnnotations[0].valueExpression") && error.contains("not a string"),
        "{error}"
    );
    let error =
        prepare_json(json!({"auditAnnotations": [{"key": "p/n", "valueExpression": "object."}]}))
            .unwrap_err();
    assert!(
        error.contains("auditAnnotations[0].valueExpression"),
        "{error}"
    );
}

#[test]
fn cel_go_sets_extension() {
    // The examples of cel-go's ext/sets.go and the Kubernetes documentation.
    all_hold(&[
        "sets.contains([], [])",
        "sets.contains([1, 2, 3, 4], [2, 3])",
        "!sets.contains([1, 2, 3], [3, 4])",
        "sets.contains([1, 2], [1.0, 2u])",
        "sets.contains([[1], [2, 3]], [[2, 3]])",
        "sets.equivalent([], [])",
        "sets.equivalent([1], [1, 1])",
        "sets.equivalent([1, 2, 3], [3u, 2.0, 1])",
        "!sets.equivalent([2, 1], [1])",
        "sets.intersects([1], [1, 2])",
        "!sets.intersects([1], [])",
        "!sets.intersects([], [])",
        "sets.intersects([[1], [2, 3]], [[1, 2], [2, 3.0]])",
        "sets.contains(object.spec.containers.map(c, c.name), ['a'])",
    ]);
}

#[test]
fn two_variable_comprehensions() {
    // The examples of cel-go's TwoVarComprehensions and the Kubernetes
    // documentation, over lists (index, element) and maps (key, value).
    all_hold(&[
        "[1, 2, 3].all(i, v, v > i)",
        "![1, 2, 0].all(i, v, v > i)",
        "{'a': 1, 'b': 2}.all(k, v, k != 'c' && v > 0)",
        "{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2)",
        "![].exists(i, v, true)",
        "[5, 6, 7].existsOne(i, v, i == 1 && v == 6)",
        "!['a', 'a'].exists_one(i, v, v == 'a')",
        "[1, 2, 3].transformList(i, v, i * v) == [0, 2, 6]",
        "[1, 2, 3].transformList(i, v, v > 1, v * 10) == [20, 30]",
        "{'a': 1, 'b': 2}.transformList(k, v, k + string(v)).sort() == ['a1', 'b2']",
        "{'a': 1, 'b': 2}.transformMap(k, v, v * 2).size() == 2",
        "{'a': 1, 'b': 2}.transformMap(k, v, v * 2)['a'] == 2",
        "{'a': 1, 'b': 2}.transformMap(k, v, v * 2) == {'a': 2, 'b': 4}",
        "{'a': 1, 'b': 2}.transformMap(k, v, v > 1, v) == {'b': 2}",
        "['x', 'y'].transformMap(i, v, v) == {0: 'x', 1: 'y'}",
        "{'a': 'x', 'b': 'y'}.transformMapEntry(k, v, {v: k}) == {'x': 'a', 'y': 'b'}",
        "[1, 2].transformMapEntry(i, v, v > 1, {string(v): i}) == {'2': 1}",
        // Nested, with the inner macro's variables hiding the outer's.
        "[[1, 2], [3]].all(i, v, v.all(i, v, v > 0))",
        "[[1, 2], [3]].all(i, v, v.exists(j, w, w == i + 1 || w == 3))",
        "object.spec.containers.all(i, c, c.name != '' && i >= 0)",
        // The one-variable macros still work.
        "[1, 2].all(v, v > 0) && [1].exists(v, v == 1) && [1].map(v, v + 1) == [2]",
    ]);
    prepare_json(json!({"validations": [{"expression": "{'a': 1, 'b': 1}.transformMapEntry(k, v, {'x': v}) == {}"}]}))
        .unwrap();
    let error = run_on(pod(false)).error.unwrap();
    assert!(error.contains("already exists"), "{error}");
    let error =
        prepare_json(json!({"validations": [{"expression": "[1].all(v, v, true)"}]})).unwrap_err();
    assert!(error.contains("duplicate variable name"), "{error}");
}

/// The object is read from the tape when used (`lazy.rs`): every operation
/// on its maps and lists answers as on values built up front, with the
/// object on either side of an operator.
#[test]
fn objects_read_lazily_behave_as_built_values() {
    all_hold(&[
        "object.spec.containers[0].securityContext == {'privileged': false}",
        "{'privileged': false} == object.spec.containers[0].securityContext",
        "[{'name': 'a', 'image': 'nginx', 'securityContext': {'privileged': false}}] == object.spec.containers",
        "object.spec.containers == [{'name': 'a', 'image': 'nginx', 'securityContext': {'privileged': false}}]",
        "object.metadata != {'name': 'q'}",
        "size(object.spec.containers + object.spec.containers) == 2",
        "size([] + object.spec.containers) == 1",
        "'containers' in object.spec && !('volumes' in object.spec)",
        "object.spec.containers[0] in object.spec.containers",
        "has(object.spec.containers) && !has(object.spec.volumes)",
        "type(object) == map && type(object.spec.containers) == list",
        "object.metadata.all(k, k in ['name', 'namespace'])",
        "object.spec.containers.map(c, c.name) == ['a']",
        "object.spec.?volumes.orValue([]).size() == 0",
        "object.spec.containers[?0].hasValue() && !object.spec.containers[?1].hasValue()",
        "object.metadata.exists(k, v, v == 'p')",
        "sets.contains(object.spec.containers.map(c, c.image), ['nginx'])",
        "optional.ofNonZeroValue(object.metadata).hasValue()",
        "dyn(object.spec).containers.size() == 1",
    ]);
    // A lazy value as the message and as an audit annotation's source.
    prepare_json(json!({
        "validations": [{"expression": "false", "messageExpression": "'images: ' + object.spec.containers.map(c, c.image).join(',')"}],
        "auditAnnotations": [{"key": "p/first", "valueExpression": "object.spec.containers[0].name"}]
    }))
    .unwrap();
    let response = run_on(pod(false));
    assert_eq!(response.violations[0].message, "images: nginx");
    assert_eq!(response.audit_annotations["p/first"], "a");
}

mod environment;
mod transition;

/// `variables.NAME` of a variable declared before the expression is read
/// by its own name (`select::VARIABLE`) and the `variables` map is built
/// only when an expression reads it otherwise: each expression here gives
/// the same answer (allowed, violation and message, or error) both ways,
/// the map forced by a second validation that reads `has(variables.a)`.
#[test]
fn variables_read_by_name_answer_as_the_variables_map_does() {
    let variables = json!([
        {"name": "a", "expression": "size(object.spec.containers)"},
        {"name": "bad", "expression": "object.spec.missing.x"},
        {"name": "b", "expression": "variables.a + 1"},
        {"name": "later", "expression": "variables.c + 1"},
        {"name": "c", "expression": "variables.b * 2"},
        {"name": "names", "expression": "object.spec.containers.map(c, c.name)"},
    ]);
    let expressions = [
        "variables.a == 1",
        "variables.b == 2 && variables.c == 4",
        "variables.c == 5",
        "variables.bad == 1",
        "variables.bad == 1 || true",
        "variables.later == 1",
        "variables.nope == 1",
        "variables.?a.orValue(0) == 1",
        "[1].all(variables, variables == 1)",
        "[{'a': 7}].all(variables, variables.a == 7)",
        "variables.names.exists(n, n == 'a')",
        "cel.bind(variables, {'a': 3}, variables.a == 3)",
    ];
    let answer = |program: Json| -> String {
        match prepare_json(program) {
            Err(error) => format!("refused: {error}"),
            Ok(()) => {
                let response = run_on(pod(false));
                format!(
                    "{} {:?} {:?}",
                    response.allowed,
                    response.error,
                    response
                        .violations
                        .iter()
                        .map(|v| &v.message)
                        .collect::<Vec<_>>()
                )
            }
        }
    };
    for expression in expressions {
        let by_name = answer(json!({
            "variables": variables,
            "validations": [{"expression": expression, "messageExpression": "'b is ' + string(variables.b)"}],
        }));
        let by_map = answer(json!({
            "variables": variables,
            "validations": [
                {"expression": expression, "messageExpression": "'b is ' + string(variables.b)"},
                {"expression": "has(variables.a)"},
            ],
        }));
        assert_eq!(by_name, by_map, "{expression}");
    }
    // What the answers are, by name.
    let program = |expression: &str| json!({"variables": variables, "validations": [{"expression": expression, "messageExpression": "'b is ' + string(variables.b)"}]});
    assert_eq!(answer(program("variables.a == 1")), "true None []");
    // A comprehension's or a binding's `variables` hides the runtime's.
    for shadowed in [
        "[{'a': 7}].all(variables, variables.a == 7)",
        "cel.bind(variables, {'a': 3}, variables.a == 3)",
    ] {
        assert_eq!(answer(program(shadowed)), "true None []", "{shadowed}");
    }
    assert_eq!(
        answer(program("variables.c == 5")),
        r#"false None ["b is 2"]"#
    );
    let failed = answer(program("variables.bad == 1"));
    assert!(
        failed.contains("validations[0].expression: variables.bad: "),
        "{failed}"
    );
    let later = answer(program("variables.later == 1"));
    assert!(later.contains("variables.later: "), "{later}");
}
