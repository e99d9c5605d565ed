//! Money: decimal strings on the wire, integer cents in storage; never a float in between.

/// Cents from a decimal string with at most two fraction digits (`"19.9"` → 1990).
///
/// The spec's patterns have already checked the shape; this still refuses anything else
/// (signs, exponents, more digits than an `i64` holds) rather than guess.
pub fn parse_cents(text: &str) -> Option<i64> {
    let (units, fraction) = match text.split_once('.') {
        Some((units, fraction)) => (units, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(units) || (text.contains('.') && !digits(fraction)) || fraction.len() > 2 {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
    units.checked_mul(100)?.checked_add(fraction)
}

/// The decimal string of an amount of cents, always with two fraction digits (`"19.90"`).
pub fn format_cents(cents: i64) -> String {
    let abs = cents.unsigned_abs();
    let mut text = String::with_capacity(24);
    if cents < 0 {
        text.push('-');
    }
    text.push_str(itoa::Buffer::new().format(abs / 100));
    text.push('.');
    let fraction = (abs % 100) as u8;
    text.push(char::from(b'0' + fraction / 10));
    text.push(char::from(b'0' + fraction % 10));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_become_exact_cents() {
        assert_eq!(parse_cents("19.99"), Some(1999));
        assert_eq!(parse_cents("19.9"), Some(1990));
        assert_eq!(parse_cents("5"), Some(500));
        assert_eq!(parse_cents("0.05"), Some(5));
        assert_eq!(parse_cents("99999999.99"), Some(9_999_999_999));
        // 0.1 + 0.2 is exactly 0.30 here.
        assert_eq!(parse_cents("0.1").unwrap() + parse_cents("0.2").unwrap(), parse_cents("0.3").unwrap());
    }

    #[test]
    fn anything_but_a_plain_decimal_is_refused() {
        for bad in ["", ".5", "5.", "1.234", "-1", "+1", "1e3", "1,5", " 1", "NaN", "99999999999999999999"] {
            assert_eq!(parse_cents(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cents_print_with_two_fraction_digits() {
        assert_eq!(format_cents(1999), "19.99");
        assert_eq!(format_cents(500), "5.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-150), "-1.50");
        for cents in [0, 1, -1, 10, 99, 100, 101, -99, i64::MAX, i64::MIN, i64::MIN + 1] {
            let (sign, abs) = (if cents < 0 { "-" } else { "" }, cents.unsigned_abs());
            assert_eq!(format_cents(cents), format!("{sign}{}.{:02}", abs / 100, abs % 100));
        }
    }
}
