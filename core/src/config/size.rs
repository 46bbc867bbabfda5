//! Byte sizes written with units: `"64MiB"`, `"512 KiB"`, `"10MB"`, `"4096"`.

use super::suggest::closest;

pub(crate) const KIB: u64 = 1 << 10;
pub(crate) const MIB: u64 = 1 << 20;
pub(crate) const GIB: u64 = 1 << 30;
pub(crate) const TIB: u64 = 1 << 40;

/// Every accepted unit and its size in bytes. Units are case-sensitive: `mb` could mean
/// megabits, so brum asks instead of guessing (and suggests `MB`).
const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", KIB),
    ("MiB", MIB),
    ("GiB", GIB),
    ("TiB", TIB),
];

/// Why a size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("expected a whole number of bytes followed by an optional unit, like \"64MiB\"")]
    NoNumber,
    #[error("fractional sizes are not supported; use a smaller unit, like \"1536MiB\" for \"1.5GiB\"")]
    Fraction,
    #[error("unknown unit `{unit}`; expected one of {}{}", unit_list(), did_you_mean(*.suggestion))]
    UnknownUnit { unit: String, suggestion: Option<&'static str> },
    #[error("size is too large (more than {} bytes)", u64::MAX)]
    TooLarge,
}

fn unit_list() -> String {
    UNITS.iter().map(|(u, _)| *u).collect::<Vec<_>>().join(", ")
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
}

/// Parses a size string: a whole number, optional spaces, an optional unit from [`UNITS`].
pub(crate) fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, rest) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(SizeError::NoNumber);
    }
    if rest.starts_with('.') {
        return Err(SizeError::Fraction);
    }
    let unit = rest.trim_start();
    let multiplier = if unit.is_empty() {
        1
    } else {
        match UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, m)) => *m,
            None => {
                let suggestion = UNITS
                    .iter()
                    .map(|(u, _)| *u)
                    .find(|u| u.eq_ignore_ascii_case(unit))
                    .or_else(|| closest(unit, UNITS.iter().map(|(u, _)| *u)));
                return Err(SizeError::UnknownUnit { unit: unit.to_owned(), suggestion });
            }
        }
    };
    let number: u64 = digits.parse().map_err(|_| SizeError::TooLarge)?;
    number.checked_mul(multiplier).ok_or(SizeError::TooLarge)
}

/// Formats a byte count with the largest unit that divides it exactly, preferring binary
/// units: `65536` is `64KiB`, `10000000` is `10MB`, `1023` is `1023B`. [`parse_size`] reads
/// the result back to the same number.
pub(crate) fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_owned();
    }
    let binary = [("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)];
    let decimal = [("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000)];
    binary
        .iter()
        .chain(decimal.iter())
        .find(|(_, m)| bytes.is_multiple_of(*m))
        .map(|(unit, m)| format!("{}{unit}", bytes / m))
        .unwrap_or_else(|| format!("{bytes}B"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_binary_and_decimal_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("3KB"), Ok(3_000));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("7B"), Ok(7));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size(" 16 KiB "), Ok(16 * 1024));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn rejects_malformed_sizes() {
        assert_eq!(parse_size(""), Err(SizeError::NoNumber));
        assert_eq!(parse_size("MiB"), Err(SizeError::NoNumber));
        assert_eq!(parse_size("-1MiB"), Err(SizeError::NoNumber));
        assert_eq!(parse_size("1.5GiB"), Err(SizeError::Fraction));
        assert_eq!(parse_size("99999999999999999999"), Err(SizeError::TooLarge));
        assert_eq!(parse_size("17000000TiB"), Err(SizeError::TooLarge));
    }

    #[test]
    fn unknown_units_get_a_suggestion_when_one_is_close() {
        assert_eq!(parse_size("10mb"), Err(SizeError::UnknownUnit { unit: "mb".into(), suggestion: Some("MB") }));
        assert_eq!(parse_size("10Mib"), Err(SizeError::UnknownUnit { unit: "Mib".into(), suggestion: Some("MiB") }));
        assert_eq!(parse_size("10 MiBs"), Err(SizeError::UnknownUnit { unit: "MiBs".into(), suggestion: Some("MiB") }));
        assert_eq!(
            parse_size("10 megabytes"),
            Err(SizeError::UnknownUnit { unit: "megabytes".into(), suggestion: None })
        );
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(1023), "1023B");
        assert_eq!(format_size(65_536), "64KiB");
        assert_eq!(format_size(64 * MIB), "64MiB");
        assert_eq!(format_size(16 * GIB), "16GiB");
        assert_eq!(format_size(10_000_000), "10MB");
        assert_eq!(format_size(1_500), "1500B");
        assert_eq!(format_size(3_000), "3KB");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(bytes in any::<u64>()) {
            prop_assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }

        #[test]
        fn parse_never_panics(text in ".{0,24}") {
            let _ = parse_size(&text);
        }
    }
}
