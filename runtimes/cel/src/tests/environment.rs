//! The CEL environment's functions and macros, natively: a broad sample,
//! and the macros the runtime expands itself.

use serde_json::json;

use super::{all_hold, pod, prepare_json, run_on};

/// A broad sample of the environment (cel-go's strings, lists, math,
/// encoders, bindings and optionals extensions, the standard library, the
/// Kubernetes libraries), each expression true, so that a function missing
/// or misbehaving after a change of cel-rust shows here.
#[test]
fn the_environments_functions_answer_as_cel_go_does() {
    let expressions = [
        "'hello'.charAt(1) == 'e'",
        "'%s-%d'.format(['a', 1]) == 'a-1'",
        "'TacoCat'.lowerAscii() == 'tacocat'",
        "'a,b'.split(',') == ['a', 'b']",
        "'a,b,c'.split(',', 2) == ['a', 'b,c']",
        "strings.quote('x') == '\"x\"'",
        "'abc'.reverse() == 'cba'",
        "'hello'.substring(1, 3) == 'el'",
        "'hello'.substring(1) == 'ello'",
        "' a '.trim() == 'a'",
        "'a'.upperAscii() == 'A'",
        "'aXa'.replace('X', 'Y') == 'aYa'",
        "'aXaX'.replace('X', 'Y', 1) == 'aYaX'",
        "['a', 'b'].join('-') == 'a-b'",
        "['a', 'b'].join() == 'ab'",
        "'abca'.lastIndexOf('a') == 3",
        "'abca'.indexOf('a', 1) == 3",
        "[1, 2, 3].slice(1, 2) == [2]",
        "[[1], [2]].flatten() == [1, 2]",
        "[1, 1].distinct() == [1]",
        "[3, 1].sort() == [1, 3]",
        "lists.range(3) == [0, 1, 2]",
        "math.greatest(1, 2) == 2",
        "math.least([1, 2]) == 1",
        "math.ceil(1.2) == 2.0",
        "math.floor(1.8) == 1.0",
        "math.round(1.5) == 2.0",
        "math.trunc(1.5) == 1.0",
        "math.abs(-1) == 1",
        "math.sign(-2) == -1",
        "math.isNaN(0.0 / 0.0)",
        "math.isInf(1.0 / 0.0)",
        "math.isFinite(1.0)",
        "math.bitOr(1, 2) == 3",
        "math.bitAnd(3, 2) == 2",
        "math.bitXor(3, 1) == 2",
        "math.bitNot(0) == -1",
        "math.bitShiftLeft(1, 2) == 4",
        "math.bitShiftRight(4, 2) == 1",
        "math.sqrt(4.0) == 2.0",
        "{'a': 1}.all(k, v, v > 0)",
        "{'a': 1}.exists(k, v, v > 0)",
        "[1, 2].transformList(i, v, v * 2) == [2, 4]",
        "{'a': 1}.transformMap(k, v, v + 1) == {'a': 2}",
        "{'a': 1}.transformMapEntry(k, v, {k + 'x': v}) == {'ax': 1}",
        "[3, 1].sortBy(x, x) == [1, 3]",
        "optional.of(1).optMap(x, x + 1).value() == 2",
        "optional.of(1).optFlatMap(x, optional.of(x + 1)).value() == 2",
        "optional.none().or(optional.of(2)).value() == 2",
        "optional.none().orValue(3) == 3",
        "optional.ofNonZeroValue(0).hasValue() == false",
        "type(1) == int",
        "cel.bind(x, 1, x + 1) == 2",
        "optional.of(1).optMap(x, x + 1).value() == 2",
        "[1, 2].reverse() == [2, 1]",
        "math.isInf(-1.0 / 0.0)",
        "'a'.format([]) == 'a'",
        "strings.quote('a') == '\"a\"'",
        "[1, 2].all(x, x > 0) && [1].exists(x, x == 1)",
        "'abc'.matches('(?i)ABC')",
        "'Ünïcode'.matches('^\\\\p{L}+$')",
        // Go's Perl classes and word boundaries are ASCII-only.
        "'123'.matches('^\\\\d+$') && !'١٢٣'.matches('^\\\\d+$')",
        "!'été'.matches('^\\\\w+$') && !'\\u00a0'.matches('\\\\s') && !'é'.matches('\\\\bé')",
        "'a١b'.find('\\\\D+') == 'a١b' && 'x 1 ٢'.findAll('\\\\d') == ['1']",
        "dyn(1) == 1",
        "duration('1h') > duration('1m')",
        "int('1') == 1 && uint(1) == 1u && double('1.5') == 1.5 && string(1) == '1' && bytes('a') == b'a'",
        "'x'.matches('^x$') && size('abc') == 3 && 'abc'.contains('b') && 'abc'.startsWith('a') && 'abc'.endsWith('c')",
        "[1, 2].exists_one(x, x == 1)",
        "[1, 2].isSorted() && [1, 2].sum() == 3 && [1, 2].min() == 1 && [1, 2].max() == 2 && [1, 2].indexOf(2) == 1 && [1, 2, 2].lastIndexOf(2) == 2",
        "sets.contains([1, 2], [1]) && sets.equivalent([1, 2], [2, 1]) && sets.intersects([1], [1, 2])",
        "base64.encode(b'hi') == 'aGk=' && base64.decode('aGk=') == b'hi'",
        "'abc 123'.find('[0-9]+') == '123'",
        "'123 abc 456'.findAll('[0-9]+') == ['123', '456']",
        "'123 abc 456'.findAll('[0-9]+', 1) == ['123']",
        "url('https://example.com:80/').getHost() == 'example.com:80'",
        "url('https://example.com/path?k=v').getQuery() == {'k': ['v']}",
        "isURL('https://example.com:80/')",
        "quantity('200M').isLessThan(quantity('1G'))",
        "quantity('50k').add(quantity('20k')) == quantity('70k')",
        "quantity('50k').add(20) == quantity('50020')",
        "quantity('50k').sub(quantity('20k')) == quantity('30k')",
        "quantity('1').asInteger() == 1",
        "ip('127.0.0.1').family() == 4",
        "cidr('192.168.0.0/24').containsIP('192.168.0.1')",
        "cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))",
        "cidr('192.168.0.0/24').containsCIDR('192.168.0.0/25')",
        "semver('1.0.0').isGreaterThan(semver('0.1.0'))",
        "!format.dns1123Label().validate('my-label-name').hasValue()",
        "format.named('dns1123Label').value().validate('-').hasValue()",
        "timestamp('2024-01-01T00:00:00Z').getFullYear() == 2024",
        "timestamp('2024-01-01T00:00:00Z') + duration('1h') > timestamp('2024-01-01T00:00:00Z')",
        "duration('1h').getMinutes() == 60",
        "'a' in ['a'] && 1 in {1: 2}",
        "[1, 2].map(x, x > 1, x * 2) == [4]",
        "[1,2,3].filter(x, x > 1).size() == 2",
        "'abc'.size() == 3",
        "size([1]) == 1 && [1].size() == 1",
        "1 == 1.0",
        "[1, 2] + [3] == [1, 2, 3]",
        "{'a': 1} == {'a': 1}",
        "'%.2f'.format([1.5]) == '1.50'",
        "'%x'.format([255]) == 'ff'",
        "'%b'.format([5]) == '101'",
        "'%e'.format([1000.0]) == '1.000000e+03'",
        "'%o'.format([8]) == '10'",
        "strings.quote('a\"b') == '\"a\\\\\"b\"'",
        "'hello'.indexOf('') == 0",
        "'ß'.upperAscii() == 'ß'",
        "math.round(-1.5) == -2.0",
        "[].sum() == 0",
        "math.abs(-1.5) == 1.5",
        "lists.range(0) == []",
        "['b', 'a'].sort() == ['a', 'b']",
        "ip('::1').isLoopback()",
        "ip.isCanonical('2001:db8::1')",
        "cidr('10.0.0.1/8').masked() == cidr('10.0.0.0/8')",
        "cidr('10.0.0.0/8').prefixLength() == 8",
        "cidr('10.0.0.0/8').ip() == ip('10.0.0.0')",
        "string(ip('10.0.0.1')) == '10.0.0.1'",
        "string(cidr('10.0.0.0/8')) == '10.0.0.0/8'",
        "quantity('1.5').asApproximateFloat() == 1.5",
        "quantity('-1').sign() == -1",
        "quantity('1').isInteger()",
        "quantity('1').compareTo(quantity('2')) == -1",
        "semver('1.2.3').major() == 1 && semver('1.2.3').minor() == 2 && semver('1.2.3').patch() == 3",
        "isSemver('1.2.3') && !isSemver('1.2')",
        "semver('v1.2', true).major() == 1",
        "semver('1.0.0').compareTo(semver('1.0.0')) == 0",
        "url('https://a.example:8080/p').getPort() == '8080'",
        "url('https://a.example/p%20q').getEscapedPath() == '/p%20q'",
        "url('https://[::1]:80/').getHostname() == '::1'",
        "isIP('1.2.3.4') && !isIP('1.2.3')",
        "isCIDR('1.2.3.0/24')",
        "isQuantity('1.3G')",
    ];
    let mut failed = Vec::new();
    for expression in expressions {
        let result = prepare_json(json!({"validations": [{"expression": expression}]}))
            .map(|_| run_on(pod(false)));
        match result {
            Ok(response) if response.allowed && response.error.is_none() => {}
            Ok(response) => failed.push(format!(
                "{expression}: {:?} {:?}",
                response.error,
                response.violations.first().map(|v| &v.message)
            )),
            Err(e) => failed.push(format!("{expression}: prepare: {e}")),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// `cel.bind`, `optMap` and `optFlatMap`, expanded as cel-go expands them
/// (`bind.rs`), on cel-go's documented examples and on the object.
#[test]
fn bindings_and_optional_map_macros() {
    all_hold(&[
        "cel.bind(a, 'hello', cel.bind(b, 'world', a + b + b + a)) == 'helloworldworldhello'",
        "cel.bind(valid, ['a', 'b'], ['b', 'c'].exists(e, e in valid))",
        "cel.bind(x, 1, cel.bind(x, x + 1, x)) == 2",
        "cel.bind(c, object.spec.containers[0], c.name + c.image) == 'anginx'",
        "object.spec.containers.all(c, cel.bind(sc, c.?securityContext, !sc.?privileged.orValue(false)))",
        "optional.of(1).optMap(x, x + 1) == optional.of(2)",
        "optional.none().optMap(x, x + 1) == optional.none()",
        "object.spec.?containers.optMap(l, l.size()).orValue(0) == 1",
        "object.spec.?volumes.optMap(l, l.size()).orValue(0) == 0",
        "optional.of(1).optFlatMap(x, x > 0 ? optional.of(x) : optional.none()) == optional.of(1)",
        "optional.of(0).optFlatMap(x, x > 0 ? optional.of(x) : optional.none()) == optional.none()",
        "optional.none().optFlatMap(x, optional.of(x)) == optional.none()",
    ]);
    let error = prepare_json(json!({"validations": [{"expression": "cel.bind(1, 2, 3) == 3"}]}))
        .unwrap_err();
    assert!(
        error.contains("cel.bind() variable name must be a simple identifier"),
        "{error}"
    );
}
