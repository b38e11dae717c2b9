//! Kubernetes' quantity library for CEL
//! (https://kubernetes.io/docs/reference/using-api/cel/#kubernetes-quantity-library):
//! `isQuantity`, `quantity`, and on a quantity `isInteger`, `asInteger`,
//! `asApproximateFloat`, `sign`, `add`, `sub`, `isLessThan`,
//! `isGreaterThan`, `compareTo`; two quantities of the same value are
//! equal (`quantity('200M') == quantity('0.2G')`).
//!
//! A quantity is apimachinery's `resource.Quantity` syntax (a signed
//! decimal number and a suffix: `Ki`..`Ei`, `n`, `u`, `m`, `k`, `M`..`E`,
//! or an exponent `e3`), held exactly as `mantissa × 10^exponent` with the
//! mantissa's trailing zeros moved into the exponent. In CEL it is a map
//! with two keys no CEL source can write (`@quantity.m`, `@quantity.e`), so
//! that equality is the value's.

use std::cmp::Ordering;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{ExecutionError, Value};

const MANTISSA: &str = "@quantity.m";
const EXPONENT: &str = "@quantity.e";

/// An exact decimal: `mantissa × 10^exponent`, normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// Without trailing zeros (0 for zero).
    pub mantissa: i128,
    /// The power of ten.
    pub exponent: i32,
}

impl Quantity {
    fn new(mut mantissa: i128, mut exponent: i32) -> Quantity {
        if mantissa == 0 {
            return Quantity {
                mantissa: 0,
                exponent: 0,
            };
        }
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        Quantity { mantissa, exponent }
    }

    /// Parses apimachinery's quantity syntax; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Quantity> {
        let (sign, rest) = match text.as_bytes().first()? {
            b'-' => (-1, &text[1..]),
            b'+' => (1, &text[1..]),
            _ => (1, text),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return None;
        }
        let mut mantissa: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(digit - b'0'))?;
        }
        let mut exponent = -i32::try_from(fraction.len()).ok()?;
        let binary = |power: u32| -> Option<i128> { 1i128.checked_shl(power) };
        match suffix {
            "" => {}
            "Ki" => mantissa = mantissa.checked_mul(binary(10)?)?,
            "Mi" => mantissa = mantissa.checked_mul(binary(20)?)?,
            "Gi" => mantissa = mantissa.checked_mul(binary(30)?)?,
            "Ti" => mantissa = mantissa.checked_mul(binary(40)?)?,
            "Pi" => mantissa = mantissa.checked_mul(binary(50)?)?,
            "Ei" => mantissa = mantissa.checked_mul(binary(60)?)?,
            "n" => exponent -= 9,
            "u" => exponent -= 6,
            "m" => exponent -= 3,
            "k" => exponent += 3,
            "M" => exponent += 6,
            "G" => exponent += 9,
            "T" => exponent += 12,
            "P" => exponent += 15,
            "E" => exponent += 18,
            other => {
                let power = other.strip_prefix(['e', 'E'])?;
                let digits = power.strip_prefix(['+', '-']).unwrap_or(power);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                exponent = exponent.checked_add(power.parse().ok()?)?;
            }
        }
        Some(Quantity::new(sign * mantissa, exponent))
    }

    /// The quantity as CEL holds it.
    pub fn to_value(self) -> Value {
        let key = |k: &str| Key::String(Arc::new(k.to_owned()));
        Value::Map(Map {
            map: Arc::new(
                [
                    (
                        key(MANTISSA),
                        Value::String(Arc::new(self.mantissa.to_string())),
                    ),
                    (key(EXPONENT), Value::Int(i64::from(self.exponent))),
                ]
                .into_iter()
                .collect(),
            ),
        })
    }

    /// The quantity a CEL value holds, if it is one.
    pub fn of(value: &Value) -> Option<Quantity> {
        let Value::Map(map) = value else { return None };
        let get = |k: &str| map.map.get(&Key::String(Arc::new(k.to_owned())));
        match (get(MANTISSA), get(EXPONENT)) {
            (Some(Value::String(m)), Some(Value::Int(e))) => Some(Quantity {
                mantissa: m.parse().ok()?,
                exponent: i32::try_from(*e).ok()?,
            }),
            _ => None,
        }
    }

    /// `self` and `other` with a common exponent, when that fits.
    fn aligned(self, other: Quantity) -> Option<(i128, i128, i32)> {
        let exponent = self.exponent.min(other.exponent);
        let scale = |q: Quantity| -> Option<i128> {
            let shift = u32::try_from(q.exponent - exponent).ok()?;
            q.mantissa.checked_mul(10i128.checked_pow(shift)?)
        };
        Some((scale(self)?, scale(other)?, exponent))
    }

    /// The sum, or `None` when it does not fit.
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        let (a, b, exponent) = self.aligned(other)?;
        Some(Quantity::new(a.checked_add(b)?, exponent))
    }

    /// `-self`.
    pub fn negate(self) -> Quantity {
        Quantity {
            mantissa: -self.mantissa,
            exponent: self.exponent,
        }
    }

    /// The value as a float (approximate).
    pub fn as_float(self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Orders two quantities (exactly when they align, else by their
    /// approximate values, which then differ by orders of magnitude).
    pub fn compare(self, other: Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .as_float()
                .partial_cmp(&other.as_float())
                .unwrap_or(Ordering::Equal),
        }
    }

    /// Whether it is a whole number.
    pub fn is_integer(self) -> bool {
        self.exponent >= 0
    }

    /// The value as an `int`, when it is whole and fits.
    pub fn as_integer(self) -> Option<i64> {
        if !self.is_integer() {
            return None;
        }
        let value = self
            .mantissa
            .checked_mul(10i128.checked_pow(u32::try_from(self.exponent).ok()?)?)?;
        i64::try_from(value).ok()
    }
}

fn error(function: &str, message: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, message)
}

/// The quantity argument at `index`, or an error naming `function`.
pub fn argument(args: &[Value], index: usize, function: &str) -> Result<Quantity, ExecutionError> {
    args.get(index)
        .and_then(Quantity::of)
        .ok_or_else(|| error(function, "the argument is not a quantity"))
}

/// `isQuantity(string)`.
pub fn is_quantity(args: &[Value]) -> Result<Value, ExecutionError> {
    Ok(Value::Bool(
        matches!(args.first(), Some(Value::String(s)) if Quantity::parse(s).is_some()),
    ))
}

/// `quantity(string)`.
pub fn quantity(args: &[Value]) -> Result<Value, ExecutionError> {
    match args.first() {
        Some(Value::String(s)) => Quantity::parse(s)
            .map(Quantity::to_value)
            .ok_or_else(|| error("quantity", format!("{s:?} is not a valid quantity"))),
        _ => Err(error("quantity", "the argument must be a string")),
    }
}

/// `q.add(x)` and `q.sub(x)`: `x` a quantity or an int.
pub fn add_or_sub(args: &[Value], subtract: bool) -> Result<Value, ExecutionError> {
    let name = if subtract { "sub" } else { "add" };
    let this = argument(args, 0, name)?;
    let other = match args.get(1) {
        Some(Value::Int(i)) => Quantity::new(i128::from(*i), 0),
        _ => argument(args, 1, name)?,
    };
    let other = if subtract { other.negate() } else { other };
    this.checked_add(other)
        .map(Quantity::to_value)
        .ok_or_else(|| error(name, "overflow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_apimachinery_does() {
        let q = |s| Quantity::parse(s);
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("200M"), q("0.2G"));
        assert_eq!(
            q("1.5"),
            Some(Quantity {
                mantissa: 15,
                exponent: -1
            })
        );
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(
            q("-2m"),
            Some(Quantity {
                mantissa: -2,
                exponent: -3
            })
        );
        for bad in [
            "", "Mi", "1,3G", "200K", "Three", "1.2.3", "1e", "--1", "1 k",
        ] {
            assert_eq!(q(bad), None, "{bad}");
        }
    }
}
