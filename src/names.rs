//! Names people give things (categories, products, tags, API keys): what the server accepts,
//! how it stores them, and how it tells two of them apart.
//!
//! A name is stored in Unicode Normalization Form C, and refused (422, naming the field) when
//! it holds characters that do not show or that change how text around them shows:
//!
//! * control characters (C0 and C1), format characters — bidirectional overrides and isolates
//!   (`abc\u{202e}gpj.exe`), zero-width spaces and joiners, the soft hyphen —, private-use,
//!   surrogate and unassigned code points;
//! * except the zero-width joiner between two emoji (`👩‍💻`), which legitimate emoji sequences
//!   need;
//! * and names with nothing visible in them, or that start with a combining mark.
//!
//! Two names are the same name when their keys are equal: NFKC, then Unicode case folding
//! (`Electronics` and `ＥＬＥＣＴＲＯＮＩＣＳ`, `Straße` and `STRASSE`). The store keeps the key in a
//! column with a unique index, so the database itself refuses a duplicate on either back-end.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeEmoji, UnicodeGeneralCategory};

use crate::error::Error;

/// The zero-width joiner.
const ZWJ: char = '\u{200d}';

/// A name as given, checked and normalized (NFC) as it is stored; 422 naming `field` when it
/// holds what a name may not.
pub fn checked(field: &str, raw: &str) -> Result<String, Error> {
    if raw.is_ascii() {
        // The same answer as below, without the Unicode tables (most names): ASCII is its own
        // NFC, has no default-ignorable, format, mark, unassigned or separator-line characters,
        // and its visible characters are exactly the graphic ones.
        if raw.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::invalid(field, CONTROL));
        }
        if !raw.bytes().any(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid(field, INVISIBLE));
        }
        return Ok(raw.to_string());
    }
    checked_unicode(field, raw)
}

/// [`checked`] for any text, with the Unicode tables.
fn checked_unicode(field: &str, raw: &str) -> Result<String, Error> {
    let name: String = raw.nfc().collect();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if default_ignorable(c) && !(joins_emoji(&chars, i) || presents_emoji(&chars, i)) {
            return Err(Error::invalid(
                field,
                "must not contain invisible formatting characters (bidirectional overrides, zero-width \
                 characters, soft hyphens, variation selectors)",
            ));
        }
        let refused = match c.general_category() {
            GeneralCategory::Control => Some(CONTROL),
            GeneralCategory::Format if c == ZWJ && joins_emoji(&chars, i) => None,
            GeneralCategory::Format => Some(
                "must not contain invisible formatting characters (bidirectional overrides, zero-width \
                 characters, soft hyphens)",
            ),
            GeneralCategory::Unassigned | GeneralCategory::Surrogate | GeneralCategory::PrivateUse => {
                Some("must not contain unassigned or private-use characters")
            }
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
                Some("must not contain line breaks")
            }
            _ => None,
        };
        if let Some(message) = refused {
            return Err(Error::invalid(field, message));
        }
    }
    if chars.first().is_some_and(|c| c.general_category_group() == GeneralCategoryGroup::Mark) {
        return Err(Error::invalid(field, "must not start with a combining mark"));
    }
    let visible = chars.iter().any(|c| {
        matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter
                | GeneralCategoryGroup::Number
                | GeneralCategoryGroup::Punctuation
                | GeneralCategoryGroup::Symbol
        )
    });
    if !visible {
        return Err(Error::invalid(field, INVISIBLE));
    }
    Ok(name)
}

const CONTROL: &str = "must not contain control characters";
const INVISIBLE: &str = "must contain a visible character";

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters a renderer
/// shows as nothing, whatever their category — including marks (variation selectors, the
/// combining grapheme joiner) and letters (the Hangul fillers).
fn default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}'..='\u{1160}' | '\u{17b4}'..='\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}'
        | '\u{fff0}'..='\u{fff8}' | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}')
}

/// Whether the character at `at` is a presentation selector (VS15, VS16) right after an emoji.
fn presents_emoji(chars: &[char], at: usize) -> bool {
    matches!(chars[at], '\u{fe0e}' | '\u{fe0f}') && at > 0 && chars[at - 1].is_emoji_char()
}

/// Whether the joiner at `at` sits between two parts of an emoji sequence.
fn joins_emoji(chars: &[char], at: usize) -> bool {
    if chars[at] != ZWJ {
        return false;
    }
    let before = chars[..at].iter().rev().find(|c| !is_emoji_modifier(**c));
    let after = chars.get(at + 1);
    before.is_some_and(|c| c.is_emoji_char()) && after.is_some_and(|c| c.is_emoji_char())
}

/// Variation selectors and skin tones that may sit between an emoji and a joiner.
fn is_emoji_modifier(c: char) -> bool {
    c == '\u{fe0f}' || ('\u{1f3fb}'..='\u{1f3ff}').contains(&c)
}

/// The key two names are compared by: NFKC, then Unicode default case folding.
pub fn key(name: &str) -> String {
    if name.is_ascii() {
        // ASCII is its own NFKC, and folds by lowering A-Z alone (CaseFolding.txt).
        return name.to_ascii_lowercase();
    }
    key_unicode(name)
}

/// [`key`] for any text, with the Unicode tables.
fn key_unicode(name: &str) -> String {
    let compatible: String = name.nfkc().collect();
    caseless::default_case_fold_str(&compatible)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> String {
        match checked("name", raw) {
            Err(Error::Invalid(errors)) => errors[0].message.clone(),
            other => panic!("{raw:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn ascii_names_are_checked_and_keyed_as_the_unicode_tables_would() {
        let outcome = |result: Result<String, Error>| match result {
            Ok(name) => name,
            Err(Error::Invalid(errors)) => format!("refused: {}", errors[0].message),
            Err(other) => panic!("{other:?}"),
        };
        for c in (0u8..=127).map(char::from) {
            for raw in [c.to_string(), format!("{c}a"), format!("a{c}"), format!(" {c} "), format!("{c}{c}")]
            {
                assert_eq!(outcome(checked("name", &raw)), outcome(checked_unicode("name", &raw)), "{raw:?}");
                assert_eq!(key(&raw), key_unicode(&raw), "{raw:?}");
            }
        }
        assert_eq!(outcome(checked("name", "")), outcome(checked_unicode("name", "")));
        assert_eq!(key("Electronics & More"), "electronics & more");
    }

    #[test]
    fn names_that_hide_or_reorder_text_are_refused() {
        for raw in ["a\u{85}b", "a\u{9b}b", "a\u{1}b"] {
            assert!(refused(raw).contains("control"), "{raw:?}");
        }
        for raw in
            ["abc\u{202e}gpj.exe", "Electronics\u{200b}", "soft\u{ad}hyphen", "a\u{2066}b", "\u{feff}x"]
        {
            assert!(refused(raw).contains("invisible"), "{raw:?}");
        }
        assert!(refused("\u{200d}").contains("invisible"));
        assert!(refused("\u{301}").contains("combining mark"));
        assert!(refused("\u{301}abc").contains("combining mark"));
        assert!(refused("a\u{378}").contains("unassigned"));
        assert!(refused("a\u{e000}").contains("private-use"));
        assert!(refused("a\u{2028}b").contains("line breaks"));
        assert!(refused("\u{3000}").contains("visible"));
    }

    #[test]
    fn names_of_every_script_and_emoji_are_kept() {
        for raw in
            ["Électronique", "Ελληνικά", "日本語", "हिन्दी", "العربية", "Tata Tea 🍵", "👩‍💻 Dev", "👍🏽", "❤️‍🔥"]
        {
            assert_eq!(checked("name", raw).unwrap(), raw.nfc().collect::<String>(), "{raw:?}");
        }
        // Decomposed input is stored composed.
        assert_eq!(checked("name", "Cafe\u{301}").unwrap(), "Café");
    }

    #[test]
    fn keys_fold_compatibility_forms_and_case() {
        assert_eq!(key("Electronics"), key("ELECTRONICS"));
        assert_eq!(key("Electronics"), key("ＥＬＥＣＴＲＯＮＩＣＳ"));
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_eq!(key("Café"), key("CAFE\u{301}"));
        assert_ne!(key("Electronics"), key("Electronic"));
    }
}
