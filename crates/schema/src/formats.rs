//! Value syntaxes the API server checks beyond JSON types: resource
//! quantities, and the OpenAPI `format`s it validates.

use base64::Engine as _;

/// The regular expression apimachinery quotes when a quantity does not parse
/// (`k8s.io/apimachinery/pkg/api/resource`, `ErrFormatWrong`).
pub(crate) const QUANTITY_REGEX: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Whether `s` is a quantity as `resource.ParseQuantity` accepts it: an
/// optional sign, a decimal number (`1`, `1.5`, `.5`, `1.`), then a binary
/// SI suffix (`Ki` .. `Ei`), a decimal SI suffix (`n u m k M G T P E`) or a
/// decimal exponent (`e3`, `E-2`).
pub(crate) fn is_quantity(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits_start = i;
    let mut digits = 0;
    let mut dot = false;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => digits += 1,
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 || i == digits_start {
        return false;
    }
    let suffix = &s[i..];
    match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T"
        | "P" | "E" => true,
        _ => {
            let rest = match suffix.strip_prefix(['e', 'E']) {
                Some(rest) => rest,
                None => return false,
            };
            let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit())
        }
    }
}

/// Whether `s` is an RFC 3339 date-time as Go's `time.RFC3339` parses it
/// (`2006-01-02T15:04:05Z07:00`, with optional fractional seconds).
pub(crate) fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || !is_date(&s[..10]) || !(b[10] == b'T' || b[10] == b't') {
        return false;
    }
    let time = &b[11..];
    let two = |x: &[u8], max: u32| {
        x.len() >= 2
            && x[0].is_ascii_digit()
            && x[1].is_ascii_digit()
            && u32::from(x[0] - b'0') * 10 + u32::from(x[1] - b'0') <= max
    };
    if !(two(time, 23)
        && time[2] == b':'
        && two(&time[3..], 59)
        && time[5] == b':'
        && two(&time[6..], 60))
    {
        return false;
    }
    let mut rest = &time[8..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h @ ..] if h.len() == 5 => two(h, 23) && h[2] == b':' && two(&h[3..], 59),
        _ => false,
    }
}

/// Whether `s` is a full date, `YYYY-MM-DD`.
pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |x: &[u8]| x.iter().all(u8::is_ascii_digit);
    if !(digits(&b[..4]) && digits(&b[5..7]) && digits(&b[8..])) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Whether a string satisfies `format` as the API server checks it
/// (kube-openapi's format registry: `byte`, `date-time`, `date`, `uuid`,
/// `ipv4`, `ipv6`, `cidr`, `hostname`); other formats are not checked, as
/// there. `None` when the format is not one of these.
pub(crate) fn string_format(format: &str, s: &str) -> Option<bool> {
    Some(match format {
        "byte" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "date-time" | "datetime" => is_date_time(s),
        "date" => is_date(s),
        "uuid" => is_uuid(s),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => is_cidr(s),
        "hostname" => is_hostname(s),
        _ => return None,
    })
}

/// Whether an integer fits `format` (`int32`, `int64`); `None` for other formats.
pub(crate) fn integer_format(format: &str, value: &serde_json::Number) -> Option<bool> {
    match format {
        "int32" => Some(value.as_i64().is_some_and(|n| i32::try_from(n).is_ok())),
        "int64" => Some(value.as_i64().is_some()),
        _ => None,
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_cidr(s: &str) -> bool {
    let Some((address, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_resource_parse_quantity_does() {
        for good in [
            "1",
            "100m",
            "1.5Gi",
            ".5",
            "1.",
            "+2k",
            "-1",
            "1e3",
            "1E-2",
            "0.25",
            "128974848",
        ] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in [
            "", "m", "1x", "1 Gi", "1GB", "1..2", "e3", "1e", "1Gii", "abc",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn date_times_follow_rfc3339() {
        for good in [
            "2026-11-29T22:30:27Z",
            "2026-11-29T22:30:27.123+01:00",
            "2026-01-01t00:00:00z",
        ] {
            assert!(is_date_time(good), "{good}");
        }
        for bad in [
            "2026-11-29",
            "2026-11-29 22:30:27Z",
            "2026-13-01T00:00:00Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T22:30:27",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }
}
