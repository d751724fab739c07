//! Input rules of the public contract. Lengths count characters after trimming.

use crate::{Error, Result};

pub const SLUG_LEN: (usize, usize) = (2, 64);
pub const CATEGORY_NAME_LEN: (usize, usize) = (1, 80);
pub const TITLE_LEN: (usize, usize) = (3, 200);
pub const BODY_LEN: (usize, usize) = (1, 20_000);

/// `^[a-z0-9]+(-[a-z0-9]+)*$`, 2–64 characters.
pub fn slug(field: &'static str, value: &str) -> Result<String> {
    let well_formed = value.split('-').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    let (min, max) = SLUG_LEN;
    if !well_formed || value.len() < min || value.len() > max {
        return Err(Error::invalid(
            field,
            format!(
                "a slug is {min}–{max} lowercase letters or digits, in words joined by single hyphens"
            ),
        ));
    }
    Ok(value.to_owned())
}

/// A Clerk user id as the service keeps one: 1–128 bytes, no control character
/// (Postgres refuses NUL). The webhook, tokens and global ids all hold ids to it.
pub fn is_user_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)
}

/// Text from Clerk (a webhook's user, a token's name) as it can be stored: without NUL.
/// Refusing it would leave the user unmirrored, and svix would retry in vain.
pub fn storable_text(value: &str) -> String {
    value.replace('\0', "")
}

/// Trims `value` and checks its length in characters. NUL is refused: Postgres cannot
/// store it in `text`, and SQLite alone would keep it.
pub fn text(field: &'static str, value: &str, (min, max): (usize, usize)) -> Result<String> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "must not contain NUL characters"));
    }
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars < min || chars > max {
        return Err(Error::invalid(
            field,
            format!("must be {min}–{max} characters after trimming (got {chars})"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["ab", "a1", "rust-lang", "a-b-c", "x".repeat(64).as_str()] {
            assert!(slug("slug", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "A-b",
            "-ab",
            "ab-",
            "a--b",
            "a_b",
            "a b",
            "ä-b",
            "x".repeat(65).as_str(),
        ] {
            assert!(slug("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_counts_characters_after_trimming() {
        assert_eq!(
            text("title", "  abc  ", TITLE_LEN).ok().as_deref(),
            Some("abc")
        );
        assert!(text("title", "  ab  ", TITLE_LEN).is_err());
        assert!(text("title", "ééé", TITLE_LEN).is_ok());
        assert!(text("body", "   ", BODY_LEN).is_err());
        assert!(text("body", &"x".repeat(20_001), BODY_LEN).is_err());
        assert!(text("body", "a\0b", BODY_LEN).is_err());
    }
}
