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

/// A title or a name: one line. After trimming it holds no control character (a line
/// break, tab, escape sequence or bell has no place in a line that every list shows).
pub fn line(field: &'static str, value: &str, len: (usize, usize)) -> Result<String> {
    // U+2028 and U+2029 break lines without being control characters.
    if value
        .trim()
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(Error::invalid(
            field,
            "must be one line, without control characters",
        ));
    }
    text(field, value, len)?;
    Ok(value.trim().to_owned())
}

/// Text with line breaks and tabs, its length checked in characters after trimming. No
/// other control character (NUL among them: Postgres cannot store it, SQLite alone
/// would), and at least `min` of the characters must be visible. It is kept without its
/// trailing whitespace and leading blank lines, but with the first line's indentation: a
/// post may open with a code block or a poem.
pub fn text(field: &'static str, value: &str, (min, max): (usize, usize)) -> Result<String> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(
            field,
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars < min || chars > max {
        return Err(Error::invalid(
            field,
            format!("must be {min}–{max} characters after trimming (got {chars})"),
        ));
    }
    if trimmed.chars().filter(|&c| !invisible(c)).count() < min {
        return Err(Error::invalid(
            field,
            format!("must have at least {min} visible characters"),
        ));
    }
    let end = value.trim_end();
    let first = end.len() - end.trim_start().len();
    let start = end[..first].rfind('\n').map_or(0, |i| i + 1);
    Ok(end[start..].to_owned())
}

/// Unicode's default-ignorable code points (zero-width spaces and joiners, direction
/// marks, variation selectors, tags) and the Hangul fillers: characters that take no
/// room, so that a text of them alone would look empty.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
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
            line("title", "  abc  ", TITLE_LEN).ok().as_deref(),
            Some("abc")
        );
        // A body keeps its first line's indentation, not its blank lines or trailing space.
        assert_eq!(
            text("body", "\n \n    let x = 1;\n  y  \n\n", BODY_LEN)
                .ok()
                .as_deref(),
            Some("    let x = 1;\n  y")
        );
        assert!(text("title", "  ab  ", TITLE_LEN).is_err());
        assert!(text("title", "ééé", TITLE_LEN).is_ok());
        assert!(text("body", "   ", BODY_LEN).is_err());
        assert!(text("body", &"x".repeat(20_001), BODY_LEN).is_err());
        assert!(text("body", "a\0b", BODY_LEN).is_err());
    }

    #[test]
    fn control_and_invisible_characters() {
        assert_eq!(
            text("body", " one\r\n\ttwo\n", BODY_LEN).ok().as_deref(),
            Some(" one\r\n\ttwo")
        );
        for bad in [
            "a\u{1}b",
            "a\u{1b}[31mb",
            "a\u{7f}",
            "a\u{85}b",
            "\u{200b}",
            "\u{feff}\u{200d}",
        ] {
            assert!(text("body", bad, BODY_LEN).is_err(), "{bad:?}");
        }
        assert_eq!(
            line("title", "\t abc \n", TITLE_LEN).ok().as_deref(),
            Some("abc")
        );
        for bad in [
            "a\nbc",
            "a\tbc",
            "a\u{2028}bc",
            "\u{7}\u{7}\u{7}",
            "ab\u{200b}",
            "\u{3164}\u{3164}\u{3164}",
        ] {
            assert!(line("title", bad, TITLE_LEN).is_err(), "{bad:?}");
        }
        // Invisible characters count toward the maximum, and are kept among visible ones.
        assert_eq!(
            line("title", "a\u{200d}bc", TITLE_LEN).ok().as_deref(),
            Some("a\u{200d}bc")
        );
        assert!(text("body", &format!("x{}", "\u{200b}".repeat(20_000)), BODY_LEN).is_err());
    }
}
