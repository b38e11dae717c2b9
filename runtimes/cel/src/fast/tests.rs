use std::sync::Arc;

use cel::common::value::Val;
use cel::{Context, Value};
use serde_json::{Value as Json, json};
use wasm_validate_abi::tape::{self, Tape};

use super::eval::{Run, V, eval};

fn object() -> Json {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "prod",
                     "labels": {"app": "web", "tier": "", "café": "crème"},
                     "annotations": {}},
        "spec": {
            "replicas": 3,
            "ratio": 0.5,
            "negative": -4,
            "huge": 18446744073709551615u64,
            "nothing": null,
            "enabled": true,
            "text": "héllo wörld",
            "tags": ["a", "b", "c"],
            "numbers": [1, 2, 3],
            "mixed": [1, "1", 1.0, null, true],
            "empty": [],
            "containers": [
                {"name": "a", "image": "nginx:1.25", "securityContext": {"privileged": true},
                 "ports": [{"containerPort": 80}, {"containerPort": 443}]},
                {"name": "b", "image": "registry.example/b@sha256:abc",
                 "securityContext": {"runAsNonRoot": true}},
                {"name": "c", "image": "c", "env": [{"name": "X", "value": "1"}]}
            ],
            "initContainers": [{"name": "init", "securityContext": {"privileged": false}}]
        }
    })
}

/// Expressions the fast evaluation must answer (on `object()`), each with
/// cel-rust's value.
const ANSWERED: &[&str] = &[
    "true",
    "1 > 0",
    "object.kind == 'Pod'",
    "object.kind != 'Pod'",
    "object.metadata.name.startsWith('web')",
    "object.metadata.name.endsWith('-0')",
    "object.metadata.name.contains('b-')",
    "object.metadata.name.matches('^[a-z]+-[0-9]$')",
    "matches(object.metadata.name, 'x')",
    "object.spec.replicas >= 3 && object.spec.replicas < 4",
    "object.spec.replicas <= 2 || object.spec.replicas > 10",
    "object.spec.ratio < 1.0",
    "object.spec.negative + 10",
    "object.spec.huge == object.spec.huge",
    "object.spec.huge",
    "object.spec.ratio + 0.25",
    "object.spec.text.size()",
    "size(object.spec.text)",
    "object.spec.text + '!'",
    "object.spec.text > 'h'",
    "object.spec.tags.size() == 3",
    "size(object.metadata.labels)",
    "'b' in object.spec.tags",
    "'z' in object.spec.tags",
    "'app' in object.metadata.labels",
    "'café' in object.metadata.labels",
    "'missing' in object.metadata.labels",
    "'1' in object.spec.mixed",
    "null in object.spec.mixed",
    "true in object.spec.mixed",
    "object.spec.tags[1]",
    "object.metadata.labels['app']",
    "object.metadata['labels']['café']",
    "object.spec.containers[2].env[0].value",
    "object.spec.nothing == null",
    "object.spec.nothing != 'x'",
    "object.spec.enabled == true",
    "!object.spec.enabled",
    "object.spec.enabled ? 'on' : 'off'",
    "has(object.spec.replicas)",
    "has(object.spec.missing)",
    "has(object.metadata.labels.tier)",
    "has(object.spec.?volumes.name)",
    "object.spec.?volumes.orValue([]).size()",
    "object.spec.?replicas.orValue(1)",
    "object.spec.?volumes.orValue('none')",
    "object.spec.?volumes",
    "object.spec.?replicas",
    "object.spec.?volumes.?name.orValue(0)",
    "object.?spec.?containers.orValue([]).size()",
    "object.spec.containers + object.spec.?initContainers.orValue([]) + object.spec.?ephemeralContainers.orValue([])",
    "object.spec.tags + ['d']",
    "[1, 2] + [3]",
    "object.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))",
    "object.spec.containers.exists(c, c.?securityContext.?privileged.orValue(false))",
    "object.spec.containers.exists_one(c, c.name == 'b')",
    "object.spec.containers.map(c, c.name)",
    "object.spec.containers.filter(c, has(c.ports)).map(c, c.ports.map(p, p.containerPort))",
    "object.spec.containers.map(c, c.?securityContext.?privileged.orValue(false) || c.?ports.orValue([]).size() > 0)",
    "object.spec.containers.filter(c, c.image.contains('@sha256:')).size() == 1",
    "object.metadata.labels.all(k, k.size() >= 0)",
    "object.metadata.labels.exists(k, object.metadata.labels[k] == 'web')",
    "object.metadata.labels.exists_one(k, k.startsWith('t'))",
    "object.metadata.annotations.all(k, false)",
    "object.spec.empty.all(x, false)",
    "object.spec.empty.map(x, x)",
    "[object.metadata].map(object, object.name)",
    "object.spec.numbers.map(n, n + 1)",
    "object.spec.numbers.all(n, n > 0) && object.spec.tags.exists(t, t == 'c')",
    "object.spec.containers.all(c, c.name in ['a', 'b', 'c'])",
    "object.spec.containers[0].ports.exists(p, p.containerPort == 443)",
    "cel.bind(names, object.spec.containers.map(c, c.name), names.size() == 3 && 'a' in names)",
    "[1, 'a', null, true, 2.5, 3u]",
    "object",
    "object.metadata",
    "object.spec.containers[0]",
    "object.spec.containers.all(c, c.securityContext.runAsNonRoot == false)",
    "object.spec.containers.exists(c, c.env[0].name == 'X')",
    "object.spec.missing || object.spec.enabled",
    "1 || true",
    "false && 1",
    "!object.spec.containers.exists(c, c.securityContext.runAsNonRoot)",
    "object.spec.containers.exists(c, c.securityContext.runAsNonRoot)",
    "object.spec.missing && false",
    "optional.of(object.kind).orValue('none') == 'Pod' || true",
    "object.spec.missing || true",
    "quantity('1Gi').compareTo(quantity('512Mi')) > 0",
    "{'a': 1}.a == 1",
    "{'a': object.kind, object.metadata.name: [1]}",
    "object.spec.?missing.orValue({})",
    "object.spec.?securityContext.orValue({}) == {}",
    "{} == {}",
    "{'a': {'b': 1}}.a.b",
    "has({'a': 1}.a) && !has({'a': 1}.b)",
    "'a' in {'a': 1} && !('b' in {'a': 1})",
    "{'a': 1}['a']",
    "{'a': 1}.?b.orValue(2) + {'a': 1}.?a.orValue(5)",
    "{'a': 1, 'b': 2}.size()",
    "bytes(object.metadata.name).size()",
    "[{'k': 'a'}].map(m, m.k)",
    "object.metadata.labels == {'app': 'web', 'tier': '', 'café': 'crème'}",
    "isQuantity(object.metadata.name)",
    "quantity('100m').isLessThan(quantity('1'))",
    "quantity('1.5').asApproximateFloat()",
    "ip('10.0.0.1').family() == 4",
    "cidr('10.0.0.0/8').containsIP('10.1.2.3')",
    "cidr('10.0.0.0/8').containsIP(ip('11.1.2.3'))",
    "isCIDR('10.0.0.0/33')",
    "ip.isCanonical('2001:db8::1')",
    "url('https://example.com:8443/a?b=c').getHost()",
    "url('https://example.com/a').getScheme() + '://' + url('https://example.com/a').getHostname()",
    "semver('1.2.3').isGreaterThan(semver('1.2.0'))",
    "object.metadata.name.split('-')",
    "object.metadata.name.replace('web', 'app')",
    "'  x '.trim()",
    "object.spec.text.indexOf('l')",
    "object.spec.text.substring(1, 3)",
    "object.spec.text.charAt(1)",
    "optional.none().hasValue()",
    "math.greatest(object.spec.replicas, 7)",
    "object.spec.numbers.sum() + object.spec.numbers.max()",
    "object.spec.numbers.isSorted()",
    "object.spec.tags.indexOf('b')",
    "lists.range(3)",
    "sets.contains(object.spec.tags, ['a', 'c'])",
    "type(object.spec.replicas) == int",
    "type(object.spec) == map",
    "uint(object.spec.replicas) + 1u",
    "duration('1h').getMinutes()",
    "timestamp('2024-01-02T03:04:05Z').getFullYear()",
    "object.metadata.name.find('[0-9]+')",
    "object.metadata.name.findAll('[a-z]')",
    "object.spec.containers.map(c, c.image.split(':')[0])",
    "object.spec.containers.exists(c, quantity('1') == quantity('1000m'))",
    "object.metadata.labels.transformList(k, v, k + '=' + v).size()",
    "format.dns1123Label().validate(object.metadata.name).hasValue()",
    "['a', 'b'] == ['a', 'b'] || true",
    "string(object.spec.ratio)",
    "int(object.spec.ratio)",
    "object.spec.tags == 'a'",
    "object.spec.tags[?0]",
    "object.spec.tags.all(k, v, true)",
    "object.metadata == object.metadata",
    "object.spec.tags == ['a', 'b', 'c']",
    "object.spec.replicas == 3u",
    "1 == 1.0",
    "object.metadata.labels['café'].upperAscii()",
    "object == null",
    "null != object.spec.tags",
    "[] == null",
    "object.spec.text.lowerAscii() == 'héllo wörld'",
    "object.spec.tags.exists(t, t.upperAscii() in ['B', 'Z'])",
    "object.spec.replicas - 5",
    "object.spec.replicas * -3",
    "object.spec.replicas / 2",
    "object.spec.negative % 3",
    "-object.spec.replicas",
    "-object.spec.ratio",
    "object.spec.ratio * 4.0 - 1.5",
    "object.spec.numbers.map(n, n * n % 5)",
    "int(object.spec.replicas)",
    "int('-42') + int('+7')",
    "string(object.spec.replicas) + string(object.spec.enabled)",
    "string(object.metadata.name)",
    "string(18446744073709551615u)",
    "int(1u)",
    "object.spec.tags.join()",
    "object.spec.tags.join(', ')",
    "object.spec.containers.map(c, c.name).join('+')",
    "object.spec.empty.join('-')",
    "false && object.spec.missing",
    "object.spec.containers.exists(c, c.securityContext.privileged)",
    "object.spec.containers.all(c, c.securityContext.privileged == false)",
    "1 in object.spec.mixed",
];

/// Expressions the fast evaluation leaves to cel-rust, at compile time or
/// at run time: mixed numbers, containers compared, errors, map
/// comprehensions whose order shows, functions it does not know.
const ABANDONED: &[&str] = &[
    "object.spec.ratio > 0",
    "object.spec.missing",
    "object.spec.missing == 1",
    "object.spec.replicas.value",
    "object.spec.text.size",
    "object.spec.nothing.field",
    "object.spec.tags[5]",
    "object.spec.tags[-1]",
    "object.metadata.labels['nope']",
    "object.spec.containers.name",
    "object.metadata.labels.map(k, k)",
    "object.metadata.labels.filter(k, k != 'app')",
    "object.spec.replicas + 1.0",
    "object.spec.huge + 1u",
    "9223372036854775807 + 1",
    "object.spec.text + 1",
    "!object.spec.replicas",
    "object.spec.replicas && true",
    "object.metadata.name.matches('[')",
    "has(object.spec.tags.x)",
    "has(object.spec.?containers.name)",
    "b'abc'.size()",
    "request.operation",
    "params.x",
    "[?object.spec.?missing]",
    "object.spec.replicas.upperAscii()",
    "object.spec.replicas / 0",
    "object.spec.replicas % 0",
    "-9223372036854775807 - 2",
    "9223372036854775807 * 2",
    "object.spec.ratio / 2.0",
    "object.spec.ratio % 2.0",
    "int('1.5')",
    "int(' 1')",
    "int('')",
    "int(object.spec.huge)",
    "string(object.spec.nothing)",
    "object.spec.text - 'h'",
    "{'a': 1}.b",
    "object.spec.containers.exists(c, c.env[0].name == 'Y')",
    "object.spec.missing || !object.spec.enabled",
    "object.spec.enabled && object.spec.missing",
    "true && 1",
    "object.spec.containers.map(c, c.securityContext.privileged)",
    "object.spec.containers.exists_one(c, c.securityContext.privileged)",
    "{'a': 1}['b']",
    "{1: 'x'}.a",
    "double(object.spec.replicas) / 2.0",
    "string(b'abc')",
    "base64.encode(b'hi')",
    "object.spec.tags.sum()",
    "optional.of(1).orValue(2)",
    "object.spec.text.charAt(-1)",
    "object.spec.text.substring(100)",
    "url('%')",
    "ip('not an ip')",
    "quantity(object.metadata.name)",
    "object.spec.mixed.join(',')",
    "object.metadata.labels.join(',')",
    "object.spec.tags.join(1)",
    "object.spec.containers.all(c, c.securityContext.runAsNonRoot == true)",
    "2 in object.spec.mixed",
];

/// Compiles `source` as the runtime does, with its plan.
fn compiled(env: &Arc<cel::Env>, source: &str) -> crate::Compiled {
    let mut compiled = crate::compile(env, "test", source, &[]).unwrap();
    compiled.fast = super::plan(&compiled.expression, &["object", "oldObject"]).map(|(p, _)| p);
    compiled
}

/// cel-rust's answer for `compiled` on `tape`'s object.
fn cel_rust(
    env: &Arc<cel::Env>,
    compiled: &crate::Compiled,
    tape: &Tape<'_>,
) -> Result<Value, String> {
    let mut context = Context::with_env(env.clone());
    context.add_variable_as_val("object", crate::lazy::val_at(tape, 0).0);
    context.add_variable_as_val("oldObject", Box::new(cel::common::types::CelNull));
    Value::resolve(&compiled.expression, &context).map_err(|e| e.to_string())
}

/// The fast evaluation's answer, as cel-rust's value.
fn fast<'a>(env: &Arc<cel::Env>, compiled: &'a crate::Compiled, tape: Tape<'a>) -> Option<Value> {
    let mut run = Run::new(env.clone(), vec![Some(V::at(tape, 0)), Some(V::Null)], 0);
    let value = eval(compiled.fast.as_ref()?, &mut run).ok()?;
    let val: Box<dyn Val> = value.to_val();
    Some(Value::try_from(val.as_ref()).unwrap())
}

/// Each expression the fast evaluation answers has cel-rust's value, and
/// it answers those it should: a fast evaluation changes nothing but
/// speed. Where cel-rust fails, the fast evaluation gives up (the runtime
/// then evaluates with cel-rust, whose error is the answer).
#[test]
fn fast_evaluation_answers_as_cel_rust_does() {
    let env = Arc::new(crate::environment().unwrap());
    let encoded = tape::encode(&object());
    let tape = Tape::parse(&encoded).unwrap();
    let mut wrong = Vec::new();
    for source in ANSWERED.iter().chain(ABANDONED) {
        let compiled = compiled(&env, source);
        let expected = cel_rust(&env, &compiled, &tape);
        let got = fast(&env, &compiled, tape);
        let right = if ANSWERED.contains(source) {
            expected.as_ref().ok() == got.as_ref()
        } else {
            got.is_none()
        };
        if !right {
            wrong.push(format!("{source}: cel-rust {expected:?}, fast {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The plans of a policy's usual shapes, and what has none: map literals,
/// bytes, optional list entries, qualified names.
#[test]
fn plans_cover_the_subset_and_nothing_else() {
    let env = Arc::new(crate::environment().unwrap());
    let planned = |source: &str| compiled(&env, source).fast.is_some();
    assert!(planned(
        "object.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))"
    ));
    assert!(planned(
        "object.metadata.labels.exists(k, k.startsWith('app'))"
    ));
    assert!(planned("cel.bind(n, object.spec.replicas, n > 1)"));
    for source in [
        "{?'a': optional.none()}.size() == 0",
        "b'abc'.size() == 3",
        "[?object.spec.?missing].size() == 0",
        "google.protobuf.Timestamp == type(object)",
    ] {
        assert!(!planned(source), "{source}");
    }
}

/// A variable the fast evaluation gave a value to is seen by cel-rust as
/// the value cel-rust would have computed, and one it left to cel-rust is
/// read by the fast evaluation's expressions through cel-rust.
#[test]
fn variables_cross_between_the_evaluations() {
    crate::tests::prepare_json(json!({
        "variables": [
            {"name": "names", "expression": "object.spec.containers.map(c, c.name)"},
            {"name": "joined", "expression": "variables.names.join('+')"},
            {"name": "first", "expression": "variables.names[0]"}
        ],
        "validations": [
            {"expression": "variables.joined.size() < 3",
             "messageExpression": "variables.joined + ' from ' + variables.names.join(',') + ' first ' + variables.first"},
            {"expression": "variables.first == 'z'",
             "messageExpression": "'first is ' + variables.first"}
        ]
    }))
    .unwrap();
    let response = crate::tests::run_on(object());
    let messages: Vec<&str> = response
        .violations
        .iter()
        .map(|v| v.message.as_str())
        .collect();
    assert_eq!(messages, ["a+b+c from a,b,c first a", "first is a"]);
}

/// The runtime cost of each expression on its object, as Kubernetes'
/// cost stability test pins it (`celcoststability_test.go` of
/// `k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel`, its cases
/// that the fast evaluation answers; `self` is the object).
#[test]
fn cost_is_the_api_servers_on_its_stability_cases() {
    let env = Arc::new(crate::environment().unwrap());
    let cases: Vec<(Json, Vec<(&str, u64)>)> = vec![
        (
            json!({"val1": "Rook takes 👑", "val2": "Rook takes 👑"}),
            vec![
                ("self.val1.startsWith('Rook')", 4),
                ("!self.val1.startsWith('knight')", 5),
                ("self.val1.matches('^[^0-9]*$')", 8),
                ("!self.val1.matches('^[0-9]*$')", 7),
                ("size(self.val1) == 12", 4),
                ("self.val1.upperAscii() == 'ROOK TAKES 👑'", 6),
                ("self.val1.lowerAscii() == 'rook takes 👑'", 6),
                ("self.val1.charAt(3) == 'k'", 4),
                ("self.val1.indexOf('o') == 1", 4),
                ("self.val1.indexOf('o', 2) == 2", 4),
                ("self.val1.replace(' ', 'x') == 'Rookxtakesx👑'", 7),
                ("self.val1.replace(' ', 'x', 1) == 'Rookxtakes 👑'", 7),
                ("self.val1.split(' ') == ['Rook', 'takes', '👑']", 6),
                ("self.val1.split(' ', 2) == ['Rook', 'takes 👑']", 6),
                ("self.val1.substring(5) == 'takes 👑'", 5),
                ("self.val1.substring(0, 4) == 'Rook'", 5),
                ("self.val1.substring(4, 10).trim() == 'takes'", 6),
                ("type(self.val1) == string", 4),
            ],
        ),
        (
            json!({"obj": {"field": "a"}, "mapOfMap": {"x": {"y": "b"}},
                   "mapOfObj": {"k": {"field2": "c"}},
                   "mapOfListMap": {"o": [{"k": "1", "v": "d"}]},
                   "mapOfList": {"l": ["e"]},
                   "listMapOfObj": [{"k2": "2", "v2": "f"}],
                   "listOfMap": [{"z": "g"}], "listOfObj": [{"field3": "h"}],
                   "listOfListMap": [[{"k3": "3", "v3": "i"}]]}),
            vec![
                ("self.obj.field == 'a'", 4),
                ("self.mapOfMap['x']['y'] == 'b'", 5),
                ("self.mapOfObj['k'].field2 == 'c'", 5),
                (
                    "self.mapOfListMap['o'].exists(e, e.k == '1' && e.v == 'd')",
                    14,
                ),
                ("self.mapOfList['l'][0] == 'e'", 5),
                (
                    "self.listMapOfObj.exists(e, e.k2 == '2' && e.v2 == 'f')",
                    13,
                ),
                ("self.listOfMap[0]['z'] == 'g'", 5),
                ("self.listOfObj[0].field3 == 'h'", 5),
                (
                    "self.listOfListMap[0].exists(e, e.k3 == '3' && e.v3 == 'i')",
                    14,
                ),
                ("self.obj.?field.orValue('v') == 'a'", 4),
            ],
        ),
        (
            json!({"val1": 10, "val3": 2147483647, "val6": "10", "val7": 10}),
            vec![
                ("self.val1 == self.val7", 5),
                ("self.val3 + 1 == 2147483647 + 1", 5),
                ("string(self.val1) == self.val6", 6),
                ("type(self.val1) == int", 4),
            ],
        ),
        (
            json!({"val1": 10, "val2": 10.0, "val3": 10.49, "val4": 10.5, "val5": true, "val6": "10"}),
            vec![
                ("int(self.val2) == self.val1", 6),
                ("double(self.val1) == self.val2", 6),
                ("string(self.val4) == '10.5'", 4),
            ],
        ),
        (
            json!({"val1": 10, "val4": 10.0}),
            vec![
                ("double(self.val1) < self.val4", 6),
                ("self.val1 < int(self.val4)", 6),
                ("double(5) < 10.0", 1),
                ("5 < int(10.0)", 1),
                ("double(self.val1) < 10.0", 4),
            ],
        ),
        (
            json!({"val1": true, "val2": true, "val3": false, "val4": false}),
            vec![
                ("self.val1 != self.val4", 5),
                ("type(self.val1) == bool", 4),
            ],
        ),
        (
            json!({"val1": [1, 2, 3], "val2": [1, 2, 3]}),
            vec![
                ("1 in self.val1", 5),
                ("self.val2[0] in self.val1", 8),
                ("!(0 in self.val1)", 6),
            ],
        ),
        (
            json!({"val1": ["a", "b", "c"], "val2": ["a", "c", "b"]}),
            vec![
                ("'a' in self.val1", 5),
                ("self.val2[0] in self.val1", 8),
                ("!('x' in self.val1)", 6),
            ],
        ),
        (
            json!({"val1": {"k1": "a", "k2": "b"}, "val2": {"k2": "b", "k1": "a"}}),
            vec![("'k1' in self.val1", 3), ("!('k3' in self.val1)", 4)],
        ),
        (
            json!({"a": {"b": 1, "d": null}, "a1": {"b1": {"c1": 4}}, "a3": {}}),
            vec![
                ("has(self.a.b)", 2),
                ("has(self.a1.b1.c1)", 3),
                ("!(has(self.a1.d2) && has(self.a1.d2.e2))", 3),
                ("!has(self.a1.d2)", 3),
            ],
        ),
        (
            json!({"val": {"b": 1, "d": 2}}),
            vec![
                ("!('a' in self.val)", 4),
                ("'b' in self.val", 3),
                ("!('c' in self.val)", 4),
                ("'d' in self.val", 3),
                ("!has(self.val.a)", 3),
                ("has(self.val.b)", 2),
                ("!has(self.val.c)", 3),
                ("has(self.val.d)", 2),
                ("self.val.all(k, self.val[k] > 0)", 17),
                ("self.val.exists_one(k, self.val[k] == 2)", 14),
                ("!self.val.exists_one(k, self.val[k] > 0)", 17),
                ("size(self.val) == 2", 4),
            ],
        ),
        (
            json!({"listMap": [{"k": "a1", "v": "b1"}, {"k": "a2", "v": "b2"},
                               {"k": "a3", "v": "b3", "v2": "z"}]}),
            vec![
                ("has(self.listMap[0].v)", 3),
                ("self.listMap.all(m, m.k.startsWith('a'))", 21),
                ("self.listMap.all(m, !has(m.v2) || m.v2 == 'z')", 21),
                ("self.listMap.exists(m, m.k.endsWith('1'))", 13),
                ("self.listMap.exists_one(m, m.k == 'a3')", 15),
                ("!self.listMap.all(m, m.k.endsWith('1'))", 18),
                ("!self.listMap.exists(m, m.v == 'x')", 25),
                ("!self.listMap.exists_one(m, m.k.startsWith('a'))", 20),
                ("size(self.listMap.filter(m, m.k == 'a1')) == 1", 27),
                ("self.listMap.exists(m, m.k == 'a1' && m.v == 'b1')", 16),
                ("self.listMap.map(m, m.v).exists(v, v == 'b1')", 55),
                ("self.listMap.exists(m, has(m.v2) && m.v2 == 'z')", 21),
                ("!self.listMap.all(m, has(m.v2) && m.v2 != 'z')", 10),
                ("self.listMap.exists_one(m, has(m.v2) && m.v2 == 'z')", 12),
                (
                    "self.listMap.filter(m, has(m.v2) && m.v2 == 'z').size() == 1",
                    24,
                ),
                (
                    "self.listMap.filter(m, has(m.v2) && m.v2 == 'z').map(m, m.v2).size() == 1",
                    39,
                ),
                ("self.listMap.exists(m, m.v2 == 'z')", 24),
                ("!self.listMap.all(m, m.v2 != 'z')", 22),
            ],
        ),
        (
            json!({"array": [1, 1, 2, 2, 3, 3, 4, 5]}),
            vec![
                ("2 in self.array", 10),
                ("self.array.all(e, e > 0)", 43),
                ("self.array.exists(e, e > 2)", 36),
                ("self.array.exists_one(e, e > 4)", 22),
                ("!self.array.all(e, e < 2)", 21),
                ("!self.array.exists(e, e < 0)", 52),
                ("!self.array.exists_one(e, e == 2)", 25),
                ("self.array.all(e, e < 100)", 43),
                ("size(self.array.filter(e, e%2 == 0)) == 3", 68),
                (
                    "self.array.map(e, e * 20).filter(e, e > 50).exists(e, e == 60)",
                    194,
                ),
                ("size(self.array) == 8", 4),
            ],
        ),
        (
            json!({"set": [1, 2, 3, 4, 5]}),
            vec![
                ("3 in self.set", 7),
                ("self.set.all(e, e > 0)", 28),
                ("self.set.exists(e, e > 3)", 30),
                ("self.set.exists_one(e, e == 3)", 16),
                ("!self.set.all(e, e < 3)", 21),
                ("!self.set.exists(e, e < 0)", 34),
                ("!self.set.exists_one(e, e > 3)", 19),
                ("self.set.all(e, e < 10)", 28),
                ("size(self.set.filter(e, e%2 == 0)) == 2", 46),
                (
                    "self.set.map(e, e * 20).filter(e, e > 50).exists_one(e, e == 60)",
                    133,
                ),
                ("size(self.set) == 5", 4),
            ],
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "foo", "generateName": "pickItForMe", "namespace": "xyz"},
                   "spec": {"field1": "a"},
                   "embedded": {"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "foo", "generateName": "pickItForMe"}}}),
            vec![
                ("self.kind == 'Pod'", 3),
                ("self.apiVersion == 'v1'", 3),
                ("self.metadata.name == 'foo'", 4),
                ("self.metadata.generateName == 'pickItForMe'", 5),
                ("self.spec.field1 == 'a'", 4),
                ("self.embedded.kind == 'Pod'", 4),
                ("self.embedded.metadata.generateName == 'pickItForMe'", 6),
                ("has(self.embedded)", 1),
            ],
        ),
        (
            json!({"something": "25%"}),
            vec![
                ("self.something == '25%'", 3),
                ("self.something != 1", 3),
                ("self.something == 1 || self.something == '25%'", 6),
                ("self.something == '25%' || self.something == 1", 3),
            ],
        ),
        (
            json!({"something": 1}),
            vec![
                ("self.something == 1", 3),
                ("self.something != 'some string'", 3),
                ("self.something == 1 || self.something == '25%'", 3),
                ("self.something == '25%' || self.something == 1", 6),
            ],
        ),
        (
            json!({"setPlainStr": "v1", "m": {"a": null, "b": "not-nil"}}),
            vec![
                ("!has(self.unsetPlainStr)", 2),
                ("has(self.setPlainStr) && self.setPlainStr == 'v1'", 4),
                ("self.m.size() == 2", 4),
                ("'a' in self.m", 3),
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (object, expressions) in &cases {
        let encoded = tape::encode(object);
        let tape = Tape::parse(&encoded).unwrap();
        for (source, expected) in expressions {
            let mut compiled = crate::compile(&env, "test", source, &[]).unwrap();
            compiled.fast = super::plan(&compiled.expression, &["self"]).map(|(p, _)| p);
            let Some(plan) = compiled.fast.as_ref() else {
                wrong.push(format!("{source}: no plan"));
                continue;
            };
            let mut run = Run::new(env.clone(), vec![Some(V::at(tape, 0))], 0);
            match eval(plan, &mut run) {
                Ok(_) if run.cost == *expected => {}
                Ok(_) => wrong.push(format!("{source}: cost {} against {expected}", run.cost)),
                Err(stop) => wrong.push(format!("{source}: {stop:?}")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// An expression whose cost passes the API server's per-expression limit
/// fails with cel-go's error, and a policy whose expressions pass the
/// budget together fails with the API server's; a variable's cost counts
/// once, for the first expression that reads it.
#[test]
fn the_api_servers_cost_limit_and_budget_stop_an_evaluation() {
    // 400 numbers: a nested `all` over them costs about 800,000 (under
    // the limit of 1,000,000); over 600 of them, about 1,800,000.
    let numbers = |n: usize| json!({"spec": {"n": (0..n).collect::<Vec<_>>()}});
    let nested = "object.spec.n.all(a, object.spec.n.all(b, b >= 0))";
    let program = |validations: usize| {
        json!({"validations": (0..validations)
            .map(|_| json!({"expression": nested}))
            .collect::<Vec<_>>()})
    };
    crate::tests::prepare_json(program(1)).unwrap();
    let response = crate::tests::run_on(numbers(400));
    assert!(response.allowed && response.error.is_none(), "{response:?}");
    let response = crate::tests::run_on(numbers(600));
    let error = response.error.unwrap_or_default();
    assert!(
        error.ends_with(": operation cancelled: actual cost limit exceeded"),
        "{error}"
    );
    // Twelve of them are about 9.6 million; thirteen pass the budget of
    // 10 million.
    crate::tests::prepare_json(program(12)).unwrap();
    assert!(crate::tests::run_on(numbers(400)).error.is_none());
    crate::tests::prepare_json(program(13)).unwrap();
    assert_eq!(
        crate::tests::run_on(numbers(400)).error.as_deref(),
        Some(super::cost::OUT_OF_BUDGET)
    );
    // A message expression past the limit gives way to the message.
    crate::tests::prepare_json(json!({"validations": [{
        "expression": "false",
        "message": "static",
        "messageExpression": format!("string({nested})")
    }]}))
    .unwrap();
    let messages = |n: usize| -> Vec<String> {
        let response = crate::tests::run_on(numbers(n));
        assert!(response.error.is_none(), "{response:?}");
        response.violations.into_iter().map(|v| v.message).collect()
    };
    assert_eq!(messages(400), ["true"]);
    assert_eq!(messages(600), ["static"]);
    // The same work as a variable read by thirteen validations counts
    // once.
    crate::tests::prepare_json(json!({
        "variables": [{"name": "all", "expression": nested}],
        "validations": (0..13)
            .map(|_| json!({"expression": "variables.all"}))
            .collect::<Vec<_>>()
    }))
    .unwrap();
    let response = crate::tests::run_on(numbers(400));
    assert!(response.allowed && response.error.is_none(), "{response:?}");
}

/// Whole programs (variables, match conditions, validations with their
/// messages, `params`, `request`, `namespaceObject`) answer the same with
/// the fast evaluation as with cel-rust alone.
#[test]
fn programs_answer_the_same_with_and_without_the_fast_evaluation() {
    let programs = [
        json!({
            "params": {"maxReplicas": 2, "allowed": ["web-0"], "prefix": "web"},
            "variables": [
                {"name": "containers", "expression": "object.spec.containers + object.spec.?initContainers.orValue([])"},
                {"name": "names", "expression": "variables.containers.map(c, c.name)"}
            ],
            "matchConditions": [
                {"name": "create", "expression": "request.operation == 'CREATE'"},
                {"name": "kind", "expression": "request.kind.kind == 'Pod' && object.kind == 'Pod'"}
            ],
            "validations": [
                {"expression": "object.spec.replicas <= params.maxReplicas",
                 "messageExpression": "'too many: ' + string(object.spec.replicas)"},
                {"expression": "object.metadata.name in params.allowed"},
                {"expression": "object.metadata.name.startsWith(params.prefix)"},
                {"expression": "variables.names.all(n, n.size() == 1)",
                 "messageExpression": "'names: ' + variables.names.join(',')"},
                {"expression": "namespaceObject.metadata.name == 'prod'"},
                {"expression": "variables.containers.exists(c, c.securityContext.privileged)"}
            ]
        }),
        json!({
            "params": {"maxReplicas": 2},
            "validations": [{"expression": "params.missing == 1"}]
        }),
        json!({
            "variables": [{"name": "first", "expression": "object.spec.containers[0].name"}],
            "validations": [{"expression": "variables.first == 'z'",
                             "messageExpression": "'first: ' + variables.first"}],
            "auditAnnotations": [
                {"key": "p/first", "valueExpression": "variables.first"},
                {"key": "p/kind", "valueExpression": "object.kind + '/' + request.operation"},
                {"key": "p/none", "valueExpression": "has(object.spec.missing) ? 'x' : null"}
            ]
        }),
        json!({
            "validations": [{"expression": "true"}],
            "auditAnnotations": [
                {"key": "p/kind", "valueExpression": "object.kind + '/' + request.operation"},
                {"key": "p/n", "valueExpression": "string(size(object.spec.containers))"}
            ]
        }),
        json!({
            "validations": [
                {"expression": "request.name == object.metadata.name && request.namespace == 'prod'"},
                {"expression": "has(request.userInfo.username)"},
                {"expression": "namespaceObject.metadata.?labels.orValue({}).size() == 0"}
            ]
        }),
    ];
    for program in programs {
        let mut answers = Vec::new();
        for off in [false, true] {
            crate::run::FAST_OFF.with(|f| f.set(off));
            crate::tests::prepare_json(program.clone()).unwrap();
            answers.push(format!("{:?}", crate::tests::run_on(object())));
        }
        crate::run::FAST_OFF.with(|f| f.set(false));
        assert_eq!(answers[0], answers[1], "{program}");
    }
}
