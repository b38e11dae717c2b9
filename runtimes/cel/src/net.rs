//! Kubernetes' IP, CIDR and URL libraries for CEL
//! (https://kubernetes.io/docs/reference/using-api/cel/):
//!
//! - `isIP(string)`, `ip(string)`, `ip.isCanonical(string)`, and on an IP
//!   `family()`, `isUnspecified()`, `isLoopback()`,
//!   `isLinkLocalMulticast()`, `isLinkLocalUnicast()`, `isGlobalUnicast()`,
//!   `string(ip)`. IPv4 with leading zeros and IPv4-mapped IPv6 addresses
//!   are refused, as Kubernetes' parser refuses them.
//! - `isCIDR(string)`, `cidr(string)`, and on a CIDR `containsIP(ip or
//!   string)`, `containsCIDR(cidr or string)`, `ip()`, `masked()`,
//!   `prefixLength()`, `string(cidr)`.
//! - `isURL(string)`, `url(string)` (an absolute URI or an absolute path),
//!   and on a URL `getScheme()`, `getHost()`, `getHostname()`, `getPort()`,
//!   `getEscapedPath()`, `getQuery()`.
//!
//! Each value is a map with one key no CEL source can write (`@ip`,
//! `@cidr`, `@url`) holding its canonical text, so equality is the value's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{ExecutionError, Value};

/// The marker keys.
pub const IP: &str = "@ip";
/// The CIDR marker.
pub const CIDR: &str = "@cidr";
/// The URL marker.
pub const URL: &str = "@url";

fn error(function: &str, message: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, message)
}

fn string(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// A marked value: `{marker: text}`.
pub fn marked(marker: &str, text: String) -> Value {
    Value::Map(Map {
        map: Arc::new(
            [(
                Key::String(Arc::new(marker.to_owned())),
                Value::String(Arc::new(text)),
            )]
            .into_iter()
            .collect(),
        ),
    })
}

/// The text of a marked value, if `value` is one with `marker`.
pub fn text_of<'a>(value: &'a Value, marker: &str) -> Option<&'a str> {
    let Value::Map(map) = value else { return None };
    match map.map.get(&Key::String(Arc::new(marker.to_owned()))) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// An IP address as Kubernetes parses it (no leading zeros, no
/// IPv4-mapped IPv6, no zone).
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.parse().ok()?;
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return None;
    }
    Some(ip)
}

/// A CIDR (`address/prefix`) as Kubernetes parses it.
pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let ip = parse_ip(address)?;
    if prefix.is_empty() || prefix.len() > 1 && prefix.starts_with('0') {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((ip, prefix))
}

fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

fn ip_arg(args: &[Value], index: usize, function: &str) -> Result<IpAddr, ExecutionError> {
    let value = args
        .get(index)
        .ok_or_else(|| error(function, "missing argument"))?;
    text_of(value, IP)
        .or_else(|| string(value))
        .and_then(parse_ip)
        .ok_or_else(|| error(function, "the argument is not an IP address"))
}

fn cidr_arg(args: &[Value], index: usize, function: &str) -> Result<(IpAddr, u8), ExecutionError> {
    let value = args
        .get(index)
        .ok_or_else(|| error(function, "missing argument"))?;
    text_of(value, CIDR)
        .or_else(|| string(value))
        .and_then(parse_cidr)
        .ok_or_else(|| error(function, "the argument is not a CIDR"))
}

/// `isIP(string)`.
pub fn is_ip(args: &[Value]) -> Result<Value, ExecutionError> {
    Ok(Value::Bool(
        args.first().and_then(string).and_then(parse_ip).is_some(),
    ))
}

/// `ip(string)`.
pub fn ip(args: &[Value]) -> Result<Value, ExecutionError> {
    let text = args.first().and_then(string).unwrap_or_default();
    let ip =
        parse_ip(text).ok_or_else(|| error("ip", format!("IP address {text:?} is not valid")))?;
    Ok(marked(IP, ip.to_string()))
}

/// `ip.isCanonical(string)`: whether the text is the address's canonical
/// form.
pub fn ip_is_canonical(args: &[Value]) -> Result<Value, ExecutionError> {
    let text = args.first().and_then(string).unwrap_or_default();
    let ip = parse_ip(text).ok_or_else(|| {
        error(
            "ip.isCanonical",
            format!("IP address {text:?} is not valid"),
        )
    })?;
    Ok(Value::Bool(ip.to_string() == text))
}

/// The IP predicates and `family()`, by name.
pub fn ip_property(args: &[Value], name: &str) -> Result<Value, ExecutionError> {
    let ip = ip_arg(args, 0, name)?;
    Ok(match name {
        "family" => Value::Int(if ip.is_ipv4() { 4 } else { 6 }),
        "isUnspecified" => Value::Bool(ip.is_unspecified()),
        "isLoopback" => Value::Bool(ip.is_loopback()),
        "isLinkLocalMulticast" => Value::Bool(match ip {
            IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
            IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
        }),
        "isLinkLocalUnicast" => Value::Bool(match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        }),
        // Go's IsGlobalUnicast: not unspecified, loopback, multicast, link
        // local, nor (IPv4) the limited broadcast address.
        _ => Value::Bool(match ip {
            IpAddr::V4(v4) => {
                !(v4.is_unspecified()
                    || v4.is_loopback()
                    || v4.is_multicast()
                    || v4.is_link_local()
                    || v4.is_broadcast())
            }
            IpAddr::V6(v6) => {
                !(v6.is_unspecified()
                    || v6.is_loopback()
                    || v6.is_multicast()
                    || v6.segments()[0] & 0xffc0 == 0xfe80)
            }
        }),
    })
}

/// `isCIDR(string)`.
pub fn is_cidr(args: &[Value]) -> Result<Value, ExecutionError> {
    Ok(Value::Bool(
        args.first().and_then(string).and_then(parse_cidr).is_some(),
    ))
}

/// `cidr(string)`.
pub fn cidr(args: &[Value]) -> Result<Value, ExecutionError> {
    let text = args.first().and_then(string).unwrap_or_default();
    let (ip, prefix) = parse_cidr(text)
        .ok_or_else(|| error("cidr", format!("network address {text:?} is not valid")))?;
    Ok(marked(CIDR, format!("{ip}/{prefix}")))
}

/// The CIDR functions, by name.
pub fn cidr_function(args: &[Value], name: &str) -> Result<Value, ExecutionError> {
    let (ip, prefix) = cidr_arg(args, 0, name)?;
    Ok(match name {
        "containsIP" => {
            let other = ip_arg(args, 1, name)?;
            Value::Bool(
                other.is_ipv4() == ip.is_ipv4() && masked(other, prefix) == masked(ip, prefix),
            )
        }
        "containsCIDR" => {
            let (other, other_prefix) = cidr_arg(args, 1, name)?;
            Value::Bool(
                other.is_ipv4() == ip.is_ipv4()
                    && other_prefix >= prefix
                    && masked(other, prefix) == masked(ip, prefix),
            )
        }
        "ip" => marked(IP, ip.to_string()),
        "masked" => marked(CIDR, format!("{}/{prefix}", masked(ip, prefix))),
        _ => Value::Int(i64::from(prefix)),
    })
}

/// A URL's parts, as Go's `url.Parse` splits an absolute URI or path.
pub(crate) struct Url<'a> {
    scheme: &'a str,
    host: &'a str,
    path: &'a str,
    query: &'a str,
}

pub(crate) fn parse_url(text: &str) -> Option<Url<'_>> {
    let without_fragment = text.split('#').next().unwrap_or_default();
    let (rest, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    if rest.starts_with('/') {
        return Some(Url {
            scheme: "",
            host: "",
            path: rest,
            query,
        });
    }
    let (scheme, rest) = rest.split_once(':')?;
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return None;
    }
    let (host, path) = match rest.strip_prefix("//") {
        Some(authority) => {
            let end = authority.find('/').unwrap_or(authority.len());
            let host = &authority[..end];
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            (host, &authority[end..])
        }
        None => ("", rest),
    };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(Url {
        scheme,
        host,
        path,
        query,
    })
}

/// `isURL(string)`.
pub fn is_url(args: &[Value]) -> Result<Value, ExecutionError> {
    Ok(Value::Bool(
        args.first().and_then(string).and_then(parse_url).is_some(),
    ))
}

/// `url(string)`.
pub fn url(args: &[Value]) -> Result<Value, ExecutionError> {
    let text = args.first().and_then(string).unwrap_or_default();
    parse_url(text).ok_or_else(|| {
        error(
            "url",
            format!("URL {text:?} is not an absolute URI or an absolute path"),
        )
    })?;
    Ok(marked(URL, text.to_owned()))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                match u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            (b'+', _) => out.push(b' '),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL accessors, by name.
pub fn url_part(args: &[Value], name: &str) -> Result<Value, ExecutionError> {
    let text = args
        .first()
        .and_then(|v| text_of(v, URL))
        .ok_or_else(|| error(name, "the receiver is not a URL"))?;
    let url = parse_url(text).ok_or_else(|| error(name, "not a URL"))?;
    let text_value = |s: &str| Value::String(Arc::new(s.to_owned()));
    // The port: after the last colon, outside an IPv6 literal's brackets.
    let (hostname, port) = match url.host.rfind(':') {
        Some(at) if !url.host[at..].contains(']') => (&url.host[..at], &url.host[at + 1..]),
        _ => (url.host, ""),
    };
    Ok(match name {
        "getScheme" => text_value(url.scheme),
        "getHost" => text_value(url.host),
        "getHostname" => text_value(hostname.trim_start_matches('[').trim_end_matches(']')),
        "getPort" => text_value(port),
        "getEscapedPath" => text_value(url.path),
        _ => {
            let mut query: HashMap<Key, Vec<Value>> = HashMap::new();
            for pair in url.query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                query
                    .entry(Key::String(Arc::new(percent_decode(key))))
                    .or_default()
                    .push(text_value(&percent_decode(value)));
            }
            Value::Map(Map {
                map: Arc::new(
                    query
                        .into_iter()
                        .map(|(k, v)| (k, Value::List(Arc::new(v))))
                        .collect(),
                ),
            })
        }
    })
}
