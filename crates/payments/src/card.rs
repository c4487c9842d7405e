//! The built-in card simulator: a stand-in for a card processor, deterministic by token.

/// What the simulator says of a card token. The token itself is never stored or logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOutcome {
    Approved { brand: &'static str },
    Declined,
}

pub fn authorize(card_token: &str) -> CardOutcome {
    match card_token {
        "tok_visa" => CardOutcome::Approved { brand: "visa" },
        "tok_mastercard" => CardOutcome::Approved {
            brand: "mastercard",
        },
        // `tok_decline`, and any token the simulator does not know, as a processor would.
        _ => CardOutcome::Declined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tokens_behave_as_documented() {
        assert_eq!(
            authorize("tok_visa"),
            CardOutcome::Approved { brand: "visa" }
        );
        assert_eq!(authorize("tok_decline"), CardOutcome::Declined);
        assert_eq!(authorize("4242424242424242"), CardOutcome::Declined);
    }
}
