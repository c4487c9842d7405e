//! Tax: the one place it is computed.

/// `subtotal × rate_bps / 10000`, rounded half up, in minor units.
pub fn tax(subtotal: i64, rate_bps: i32) -> i64 {
    let exact = i128::from(subtotal) * i128::from(rate_bps);
    let rounded = (exact + 5_000).div_euclid(10_000);
    i64::try_from(rounded).expect("tax fits when the subtotal does")
}

#[cfg(test)]
mod tests {
    use super::tax;

    #[test]
    fn rounds_half_up() {
        assert_eq!(tax(1000, 825), 83); // 82.5 → 83
        assert_eq!(tax(1000, 824), 82); // 82.4 → 82
        assert_eq!(tax(1, 5000), 1); // 0.5 → 1
        assert_eq!(tax(1, 4999), 0); // 0.4999 → 0
        assert_eq!(tax(0, 10_000), 0);
        assert_eq!(tax(12_345, 10_000), 12_345);
        assert_eq!(tax(999, 0), 0);
    }

    #[test]
    fn large_amounts_do_not_overflow() {
        assert_eq!(tax(i64::MAX / 2, 10_000), i64::MAX / 2);
    }
}
