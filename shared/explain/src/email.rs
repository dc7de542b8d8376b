//! Email address checks, as the providers apply them (RFC 5321/5322 with the ASCII-only
//! local part most ESPs require). Used before sending and to point at the offending value
//! when a provider refused an address.
//!
//! What is accepted is the RFC 5322 `dot-atom` form that ESPs take in practice:
//!
//! - exactly one `@`, with something on both sides;
//! - before the `@`: ASCII letters, digits and ``.!#$%&'*+/=?^_`{|}~-`` (and, where a
//!   provider takes internationalised addresses, any other non-ASCII letter); quoted local
//!   parts (`"john doe"@example.com`) and comments are valid RFC 5322 but no ESP we know
//!   takes them, so quotes and parentheses count as forbidden characters;
//! - after the `@`: a domain name with at least one dot, made of labels of letters, digits
//!   and hyphens (non-ASCII letters too where the provider takes IDNs), each at most 63
//!   characters, not starting or ending with a hyphen, and not ending in an all-digit label
//!   (RFC 3696 §2); address literals (`user@[192.0.2.1]`) are refused;
//! - no dot at the start or end of either part, and no two dots in a row;
//! - at most 64 octets before the `@` and 254 in all (RFC 5321 §4.5.3.1, less the angle
//!   brackets of the path), or less where the provider says so.
//!
//! Positions in [`EmailIssue`] are 1-based character positions in the whole address, as a
//! person counts them.

use crate::provider::Provider;
use std::fmt;

/// The rules one provider applies to an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailRules {
    /// Only ASCII letters, digits and ``.!#$%&'*+/=?^_`{|}~-`` before the @.
    pub ascii_local_part: bool,
    /// Only ASCII letters, digits, hyphens and dots after the @: internationalised domain
    /// names (`ñandú.com`) are refused.
    pub ascii_domain: bool,
    /// Longest local part, in octets (RFC 5321: 64).
    pub max_local_octets: usize,
    /// Longest whole address, in octets (RFC 5321 path limit less the brackets: 254).
    pub max_total_octets: usize,
}

impl EmailRules {
    /// RFC 5321's limits with an ASCII local part, which is what almost every ESP enforces;
    /// internationalised domain names are accepted.
    pub const DEFAULT: EmailRules = EmailRules {
        ascii_local_part: true,
        ascii_domain: false,
        max_local_octets: 64,
        max_total_octets: 254,
    };

    /// The rules of a provider. Unknown APIs and webhooks get [`EmailRules::DEFAULT`].
    ///
    /// Where the providers differ, as far as their documentation says:
    ///
    /// - Mailchimp refuses UTF-8 before the @ but accepts internationalised domain names
    ///   (<https://mailchimp.com/help/international-characters-in-mailchimp/>): the default.
    /// - SendGrid: local part ≤ 64 octets, whole ≤ 254, ASCII before the @ (Unicode needs
    ///   SMTPUTF8, which Marketing Contacts does not offer): the default.
    /// - Salesforce: the Email field holds at most 80 characters, and an org accepts
    ///   non-ASCII addresses only once an admin turns on Email Address Internationalization
    ///   (<https://help.salesforce.com/s/articleView?id=sales.emailadmin_eai_considerations.htm>).
    ///   That setting is off by default and leadrelay cannot see it, so both parts must be
    ///   ASCII.
    /// - HubSpot, Klaviyo, Brevo, ActiveCampaign, Mailjet, Campaign Monitor and Dynamics
    ///   publish no syntax of their own beyond "a valid email address"; they get the
    ///   default.
    pub fn for_provider(provider: Option<Provider>) -> EmailRules {
        match provider {
            Some(Provider::Salesforce) => EmailRules {
                ascii_local_part: true,
                ascii_domain: true,
                max_local_octets: 64,
                max_total_octets: 80,
            },
            _ => EmailRules::DEFAULT,
        }
    }
}

impl Default for EmailRules {
    fn default() -> Self {
        EmailRules::DEFAULT
    }
}

/// Which side of the @ a character is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// Before the @ (the local part).
    Local,
    /// After the @ (the domain).
    Domain,
}

/// What is wrong with one label (the text between two dots) of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelProblem {
    /// Longer than the 63 characters DNS allows (RFC 1035 §2.3.4).
    TooLong {
        /// Its length, in characters.
        chars: usize,
        /// The limit (63).
        max: usize,
    },
    /// Starts with a hyphen (RFC 1035 §2.3.1).
    LeadingHyphen,
    /// Ends with a hyphen (RFC 1035 §2.3.1).
    TrailingHyphen,
    /// The last label (the top-level domain) is all digits, which no TLD is (RFC 3696 §2).
    NumericTopLevel,
}

/// What is wrong with an email address. Positions are 1-based character positions in the
/// whole address, as a person counts them.
///
/// `Display` writes a clause for a marketer that starts with "the email address", to be
/// used in sentences such as "Mailchimp rejected the email address: {issue}."
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailIssue {
    /// Nothing at all, or only blanks.
    Empty,
    /// No @ anywhere (often a name typed into the email field).
    MissingAt,
    /// A second @ after the first: two addresses run together, or a typo.
    MoreThanOneAt {
        /// The position of the second @.
        position: usize,
    },
    /// Nothing before the @.
    EmptyLocal,
    /// Nothing after the @.
    EmptyDomain,
    /// A space, tab, line break or other blank anywhere in the address (often a stray
    /// space before or after it).
    Whitespace {
        /// Its position.
        position: usize,
    },
    /// A character outside the ASCII set the provider accepts before the @.
    NonAsciiLocal {
        /// The offending character.
        ch: char,
        /// Its 1-based position in the address.
        position: usize,
    },
    /// A non-ASCII character after the @, for a provider that refuses internationalised
    /// domain names.
    NonAsciiDomain {
        /// The offending character.
        ch: char,
        /// Its position.
        position: usize,
    },
    /// An ASCII character (or control or invisible character) that is not allowed where
    /// it stands: `,` `"` `(` `)` `:` `;` `<` `>` `[` `]` `\` before the @, anything but
    /// letters, digits, hyphens and dots after it.
    ForbiddenCharacter {
        /// The offending character.
        ch: char,
        /// Its position.
        position: usize,
        /// Which side of the @ it is on.
        part: Part,
    },
    /// A dot as the first or last character of the address, or next to the @.
    DotAtStartOrEnd {
        /// The position of the dot.
        position: usize,
    },
    /// Two dots in a row.
    ConsecutiveDots {
        /// The position of the second dot.
        position: usize,
    },
    /// The part before the @ is longer than the provider accepts.
    LocalTooLong {
        /// Its length in octets (UTF-8 bytes), which is characters for an ASCII address.
        octets: usize,
        /// The provider's limit.
        max: usize,
    },
    /// The whole address is longer than the provider accepts.
    TooLong {
        /// Its length in octets (UTF-8 bytes), which is characters for an ASCII address.
        octets: usize,
        /// The provider's limit.
        max: usize,
    },
    /// The part after the @ has no dot: `lena@gmail`, `lena@localhost`.
    DomainWithoutDot,
    /// One label of the domain is not a valid DNS label.
    InvalidDomainLabel {
        /// The label, as written.
        label: String,
        /// The position of its first character.
        position: usize,
        /// What is wrong with it.
        problem: LabelProblem,
    },
}

/// The ASCII characters RFC 5322 `atext` allows besides letters and digits.
const ATEXT_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";

fn is_atext(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(ch)
}

/// Characters that render as nothing: showing them between quotes would show nothing.
fn is_invisible(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
        )
}

/// `'æ'`, or a description of a character that would not show between quotes.
fn shown(ch: char) -> String {
    if is_invisible(ch) {
        format!("an invisible character (U+{:04X})", u32::from(ch))
    } else if ('\u{0300}'..='\u{036F}').contains(&ch) {
        format!("a separate accent mark (U+{:04X})", u32::from(ch))
    } else {
        format!("'{ch}'")
    }
}

impl fmt::Display for EmailIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailIssue::Empty => f.write_str("the email address is empty"),
            EmailIssue::MissingAt => f.write_str("the email address has no @"),
            EmailIssue::MoreThanOneAt { position } => write!(
                f,
                "the email address has a second @ at position {position}; an address has exactly one"
            ),
            EmailIssue::EmptyLocal => f.write_str("the email address has nothing before the @"),
            EmailIssue::EmptyDomain => f.write_str("the email address has nothing after the @"),
            EmailIssue::Whitespace { position } => write!(
                f,
                "the email address has a blank space at position {position}; email addresses cannot contain spaces"
            ),
            EmailIssue::NonAsciiLocal { ch, position } => write!(
                f,
                "the email address has {} at position {position}; only ASCII letters, digits and .!#$%&'*+/=?^_`{{|}}~- are accepted before the @",
                shown(*ch)
            ),
            EmailIssue::NonAsciiDomain { ch, position } => write!(
                f,
                "the email address has {} at position {position}; only ASCII letters, digits, hyphens and dots are accepted after the @",
                shown(*ch)
            ),
            EmailIssue::ForbiddenCharacter {
                ch,
                position,
                part: Part::Local,
            } => write!(
                f,
                "the email address has {} at position {position}; only letters, digits and .!#$%&'*+/=?^_`{{|}}~- are accepted before the @",
                shown(*ch)
            ),
            EmailIssue::ForbiddenCharacter {
                ch,
                position,
                part: Part::Domain,
            } => write!(
                f,
                "the email address has {} at position {position}; only letters, digits, hyphens and dots are accepted after the @",
                shown(*ch)
            ),
            EmailIssue::DotAtStartOrEnd { position } => write!(
                f,
                "the email address has a dot at position {position}; a dot cannot start or end an address or stand next to the @"
            ),
            EmailIssue::ConsecutiveDots { position } => write!(
                f,
                "the email address has two dots in a row at positions {} and {position}",
                position.saturating_sub(1)
            ),
            EmailIssue::LocalTooLong { octets, max } => write!(
                f,
                "the part of the email address before the @ is too long: {octets} characters where at most {max} are accepted"
            ),
            EmailIssue::TooLong { octets, max } => write!(
                f,
                "the email address is too long: {octets} characters where at most {max} are accepted"
            ),
            EmailIssue::DomainWithoutDot => f.write_str(
                "the email address has no dot after the @; a full domain such as example.com is expected there",
            ),
            EmailIssue::InvalidDomainLabel {
                label,
                position,
                problem,
            } => match problem {
                LabelProblem::TooLong { chars, max } => write!(
                    f,
                    "the email address has a domain part of {chars} characters at position {position}; at most {max} are allowed between two dots"
                ),
                LabelProblem::LeadingHyphen => write!(
                    f,
                    "the email address has a domain part \"{label}\" at position {position} that starts with a hyphen"
                ),
                LabelProblem::TrailingHyphen => write!(
                    f,
                    "the email address has a domain part \"{label}\" at position {position} that ends with a hyphen"
                ),
                LabelProblem::NumericTopLevel => write!(
                    f,
                    "the email address ends in \".{label}\", which is not a real domain ending"
                ),
            },
        }
    }
}

/// The usual ASCII spellings of common accented letters in email addresses.
fn ascii_spellings(ch: char) -> Option<&'static [&'static str]> {
    let lower = ch.to_lowercase().next().unwrap_or(ch);
    Some(match lower {
        'æ' => &["ae"],
        'ø' | 'ö' => &["o", "oe"],
        'å' => &["a", "aa"],
        'ä' => &["a", "ae"],
        'ü' => &["u", "ue"],
        'ß' => &["ss"],
        'œ' => &["oe"],
        'þ' => &["th"],
        'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ė' | 'ē' | 'ě' => &["e"],
        'á' | 'à' | 'â' | 'ã' | 'ą' | 'ā' | 'ă' => &["a"],
        'í' | 'ì' | 'î' | 'ï' | 'ı' | 'ī' => &["i"],
        'ó' | 'ò' | 'ô' | 'õ' | 'ő' | 'ō' => &["o"],
        'ú' | 'ù' | 'û' | 'ű' | 'ū' | 'ů' => &["u"],
        'ñ' | 'ń' | 'ň' => &["n"],
        'ç' | 'č' | 'ć' => &["c"],
        'š' | 'ś' | 'ş' | 'ș' => &["s"],
        'ž' | 'ź' | 'ż' => &["z"],
        'ł' => &["l"],
        'ý' | 'ÿ' => &["y"],
        'ř' => &["r"],
        'ţ' | 'ț' | 'ť' => &["t"],
        'ğ' => &["g"],
        'đ' | 'ð' | 'ď' => &["d"],
        _ => return None,
    })
}

impl EmailIssue {
    /// A stable, short identifier of the issue: `non_ascii`, `whitespace`, ... (used in
    /// pre-flight provider codes, so renaming one changes stored records).
    pub fn code(&self) -> &'static str {
        match self {
            EmailIssue::Empty => "empty",
            EmailIssue::MissingAt => "missing_at",
            EmailIssue::MoreThanOneAt { .. } => "more_than_one_at",
            EmailIssue::EmptyLocal => "empty_local",
            EmailIssue::EmptyDomain => "empty_domain",
            EmailIssue::Whitespace { .. } => "whitespace",
            EmailIssue::NonAsciiLocal { .. } => "non_ascii",
            EmailIssue::NonAsciiDomain { .. } => "non_ascii_domain",
            EmailIssue::ForbiddenCharacter { .. } => "forbidden_character",
            EmailIssue::DotAtStartOrEnd { .. } => "dot_at_start_or_end",
            EmailIssue::ConsecutiveDots { .. } => "consecutive_dots",
            EmailIssue::LocalTooLong { .. } => "local_too_long",
            EmailIssue::TooLong { .. } => "too_long",
            EmailIssue::DomainWithoutDot => "domain_without_dot",
            EmailIssue::InvalidDomainLabel { .. } => "invalid_domain_label",
        }
    }

    /// A hint for the remedy, as one sentence, when a likely fix is cheap to name: the
    /// usual ASCII spelling of an accented letter, the stray space or dot to remove, the
    /// comma that was meant to be a dot. It never guesses the corrected address: only the
    /// person knows it.
    pub fn suggestion(&self) -> Option<String> {
        match self {
            EmailIssue::NonAsciiLocal { ch, .. } => {
                let spellings = ascii_spellings(*ch)?;
                let quoted: Vec<String> = spellings.iter().map(|s| format!("'{s}'")).collect();
                Some(format!(
                    "In email addresses '{ch}' is usually written as {}; check the exact spelling with the person if you can.",
                    quoted.join(" or ")
                ))
            }
            EmailIssue::Whitespace { position } => {
                Some(format!("Remove the space at position {position}."))
            }
            EmailIssue::DotAtStartOrEnd { position } => {
                Some(format!("Remove the dot at position {position}."))
            }
            EmailIssue::ConsecutiveDots { position } => {
                Some(format!("Remove the extra dot at position {position}."))
            }
            EmailIssue::ForbiddenCharacter {
                ch: ',',
                position,
                part: Part::Domain,
            } => Some(format!(
                "The comma at position {position} is probably a mistyped dot (as in gmail,com for gmail.com)."
            )),
            _ => None,
        }
    }
}

/// Checks an address against a provider's rules and returns the first issue, reading the
/// address from left to right within each kind of check: structure (@ and emptiness),
/// characters, dots, lengths, then the domain's labels.
///
/// The address is checked as given: blanks around it are an issue. Callers that send the
/// [`normalise`]d form should check that form.
pub fn check(address: &str, rules: &EmailRules) -> Result<(), EmailIssue> {
    if address.trim().is_empty() {
        return Err(EmailIssue::Empty);
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err(EmailIssue::MissingAt);
    };
    if local.is_empty() {
        return Err(EmailIssue::EmptyLocal);
    }
    if domain.is_empty() {
        return Err(EmailIssue::EmptyDomain);
    }
    let chars: Vec<char> = address.chars().collect();
    let at = local.chars().count();

    check_characters(&chars, at, rules)?;
    check_dots(&chars)?;

    if local.len() > rules.max_local_octets {
        return Err(EmailIssue::LocalTooLong {
            octets: local.len(),
            max: rules.max_local_octets,
        });
    }
    if address.len() > rules.max_total_octets {
        return Err(EmailIssue::TooLong {
            octets: address.len(),
            max: rules.max_total_octets,
        });
    }
    check_domain(domain, at + 2)
}

/// Every character against the set its side of the @ allows; `at` is the index of the @.
fn check_characters(chars: &[char], at: usize, rules: &EmailRules) -> Result<(), EmailIssue> {
    for (i, &ch) in chars.iter().enumerate() {
        let position = i + 1;
        if i == at {
            continue;
        }
        if ch.is_whitespace() {
            return Err(EmailIssue::Whitespace { position });
        }
        let part = if i < at { Part::Local } else { Part::Domain };
        let forbidden = EmailIssue::ForbiddenCharacter { ch, position, part };
        match part {
            Part::Local if ch.is_ascii() => {
                if !(is_atext(ch) || ch == '.') {
                    return Err(forbidden);
                }
            }
            Part::Local if rules.ascii_local_part => {
                return Err(EmailIssue::NonAsciiLocal { ch, position });
            }
            Part::Domain if ch == '@' => return Err(EmailIssue::MoreThanOneAt { position }),
            Part::Domain if ch.is_ascii() => {
                if !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '.') {
                    return Err(forbidden);
                }
            }
            Part::Domain if rules.ascii_domain => {
                return Err(EmailIssue::NonAsciiDomain { ch, position });
            }
            // RFC 6531/6532 allow any non-ASCII character here, but an invisible one is
            // never what the person typed on purpose.
            Part::Local | Part::Domain => {
                if is_invisible(ch) {
                    return Err(forbidden);
                }
            }
        }
    }
    Ok(())
}

/// Dots at the edges of either part, and dots in a row.
fn check_dots(chars: &[char]) -> Result<(), EmailIssue> {
    for (i, &ch) in chars.iter().enumerate() {
        if ch != '.' {
            continue;
        }
        let position = i + 1;
        let before = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let after = chars.get(i + 1).copied();
        if before == Some('.') {
            return Err(EmailIssue::ConsecutiveDots { position });
        }
        if matches!(before, None | Some('@')) || matches!(after, None | Some('@')) {
            return Err(EmailIssue::DotAtStartOrEnd { position });
        }
    }
    Ok(())
}

/// The domain's labels; `start` is the position of its first character. Runs after the
/// character and dot checks, so no label is empty.
fn check_domain(domain: &str, start: usize) -> Result<(), EmailIssue> {
    const MAX_LABEL: usize = 63;
    if !domain.contains('.') {
        return Err(EmailIssue::DomainWithoutDot);
    }
    let mut position = start;
    let mut last = "";
    for label in domain.split('.') {
        let chars = label.chars().count();
        let problem = if chars > MAX_LABEL {
            Some(LabelProblem::TooLong {
                chars,
                max: MAX_LABEL,
            })
        } else if label.starts_with('-') {
            Some(LabelProblem::LeadingHyphen)
        } else if label.ends_with('-') {
            Some(LabelProblem::TrailingHyphen)
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(EmailIssue::InvalidDomainLabel {
                label: label.to_owned(),
                position,
                problem,
            });
        }
        last = label;
        position += chars + 1;
    }
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EmailIssue::InvalidDomainLabel {
            label: last.to_owned(),
            position: position - last.chars().count() - 1,
            problem: LabelProblem::NumericTopLevel,
        });
    }
    Ok(())
}

/// The form of an address to store and send: blanks around it removed and the domain in
/// lower case (domains are case-insensitive; local parts, in theory, are not). Idempotent.
/// It repairs nothing else: an invalid address stays invalid.
pub fn normalise(address: &str) -> String {
    let trimmed = address.trim();
    match trimmed.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => trimmed.to_owned(),
    }
}

/// Characters that end an address quoted in a sentence: blanks, quotes, brackets and the
/// punctuation that separates it from the words around it.
fn ends_quoted_address(ch: char) -> bool {
    ch.is_whitespace()
        || matches!(
            ch,
            '"' | '\''
                | '`'
                | '<'
                | '>'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | ','
                | ';'
                | ':'
                | '«'
                | '»'
                | '“'
                | '”'
                | '„'
                | '‘'
                | '’'
                | '='
        )
}

/// The email addresses a provider's message quotes, in order, as the person typed them:
/// `Die E-Mail-Adresse calebæhnson@provider.com ist ungültig` gives
/// `calebæhnson@provider.com`. An address that arrived mis-decoded (UTF-8 read as Latin-1
/// or Windows-1252: `calebÃ¦hnson@provider.com`) or with its JSON escapes left in
/// (`caleb\u00e6hnson@provider.com`) is given back decoded. At most a few addresses are
/// read from one message.
pub fn addresses_in(message: &str) -> Vec<String> {
    const MAX_ADDRESSES: usize = 4;
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = message.get(from..).and_then(|rest| rest.find('@')) {
        let at = from + offset;
        let start = message[..at]
            .char_indices()
            .rev()
            .find(|&(_, c)| ends_quoted_address(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = message[at + 1..]
            .char_indices()
            .find(|&(_, c)| ends_quoted_address(c) || c == '@')
            .map_or(message.len(), |(i, _)| at + 1 + i);
        from = end.max(at + 1);
        let token = message[start..end]
            .trim_start_matches('\\')
            .trim_end_matches(['.', '!', '?', '\\']);
        let Some((local, domain)) = token.split_once('@') else {
            continue;
        };
        // A slash after the @ is a web address (`https://user@host/path`), not an email.
        if local.is_empty() || !domain.chars().any(char::is_alphabetic) || domain.contains('/') {
            continue;
        }
        found.push(repair(&unescape_json(token)));
        if found.len() == MAX_ADDRESSES {
            break;
        }
    }
    found
}

/// The first address quoted in `message` that breaks `rules`, with what is wrong with it.
pub fn issue_in_message(message: &str, rules: &EmailRules) -> Option<(String, EmailIssue)> {
    addresses_in(message)
        .into_iter()
        .find_map(|address| check(&address, rules).err().map(|issue| (address, issue)))
}

/// `\u00e6` escapes left in text (a message escaped twice), decoded.
fn unescape_json(token: &str) -> String {
    if !token.contains("\\u") {
        return token.to_owned();
    }
    let mut out = String::with_capacity(token.len());
    let mut rest = token;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 6);
        match hex
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
        {
            Some(ch) => {
                out.push(ch);
                rest = &rest[i + 6..];
            }
            None => {
                out.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The Windows-1252 characters at bytes 0x80 to 0x9F, where it differs from Latin-1.
const WINDOWS_1252_HIGH: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// An address whose UTF-8 bytes were read as Latin-1 or Windows-1252 (`Ã¦` for `æ`),
/// read back as UTF-8. Anything that does not decode that way is returned as it is:
/// a real Latin-1 letter (`jørn`) is not valid UTF-8 on its own.
fn repair(token: &str) -> String {
    if token.is_ascii() {
        return token.to_owned();
    }
    let mut bytes = Vec::with_capacity(token.len());
    for ch in token.chars() {
        let byte = match u8::try_from(u32::from(ch)) {
            Ok(b) => b,
            Err(_) => match WINDOWS_1252_HIGH.iter().find(|(c, _)| *c == ch) {
                Some(&(_, b)) => b,
                None => return token.to_owned(),
            },
        };
        bytes.push(byte);
    }
    match String::from_utf8(bytes) {
        Ok(decoded) if !decoded.is_ascii() => decoded,
        _ => token.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn default(address: &str) -> Result<(), EmailIssue> {
        check(address, &EmailRules::DEFAULT)
    }

    #[test]
    fn ordinary_addresses_pass() {
        for address in [
            "lena@example.com",
            "lena.fischer@example.co.uk",
            "l@e.io",
            "first.last+tag@sub.example-mail.com",
            "o'brien@example.ie",
            "!#$%&'*+/=?^_`{|}~-@example.com",
            "UPPER@EXAMPLE.COM",
            "1234@example.com",
            "lena@xn--nand-sqa.com",
            "lena@ñandú.com",
        ] {
            assert_eq!(default(address), Ok(()), "{address}");
        }
    }

    #[test]
    fn the_seed_case_names_the_character_and_its_position() {
        let issue = default("calebæhnson@provider.com").expect_err("æ is not ASCII");

        assert_eq!(
            issue,
            EmailIssue::NonAsciiLocal {
                ch: 'æ',
                position: 6
            }
        );
        assert_eq!(
            issue.to_string(),
            "the email address has 'æ' at position 6; only ASCII letters, digits and .!#$%&'*+/=?^_`{|}~- are accepted before the @"
        );
    }

    #[test]
    fn each_issue_is_found_where_it_is() {
        use EmailIssue as I;
        let cases: Vec<(&str, EmailIssue)> = vec![
            ("", I::Empty),
            ("   ", I::Empty),
            ("lena fischer", I::MissingAt),
            ("lena.example.com", I::MissingAt),
            ("@example.com", I::EmptyLocal),
            ("lena@", I::EmptyDomain),
            (
                "lena@example.com@other.com",
                I::MoreThanOneAt { position: 17 },
            ),
            ("lena@@example.com", I::MoreThanOneAt { position: 6 }),
            (" lena@example.com", I::Whitespace { position: 1 }),
            ("lena@example.com ", I::Whitespace { position: 17 }),
            ("le na@example.com", I::Whitespace { position: 3 }),
            ("lena@exam\tple.com", I::Whitespace { position: 10 }),
            ("lena\u{a0}@example.com", I::Whitespace { position: 5 }),
            (
                "jørn@example.no",
                I::NonAsciiLocal {
                    ch: 'ø',
                    position: 2,
                },
            ),
            (
                "lena,fischer@example.com",
                I::ForbiddenCharacter {
                    ch: ',',
                    position: 5,
                    part: Part::Local,
                },
            ),
            (
                "\"lena\"@example.com",
                I::ForbiddenCharacter {
                    ch: '"',
                    position: 1,
                    part: Part::Local,
                },
            ),
            (
                "lena(work)@example.com",
                I::ForbiddenCharacter {
                    ch: '(',
                    position: 5,
                    part: Part::Local,
                },
            ),
            (
                "lena@gmail,com",
                I::ForbiddenCharacter {
                    ch: ',',
                    position: 11,
                    part: Part::Domain,
                },
            ),
            (
                "lena@[192.0.2.1]",
                I::ForbiddenCharacter {
                    ch: '[',
                    position: 6,
                    part: Part::Domain,
                },
            ),
            (
                "lena@exa_mple.com",
                I::ForbiddenCharacter {
                    ch: '_',
                    position: 9,
                    part: Part::Domain,
                },
            ),
            (
                "le\u{200b}na@example.com",
                I::NonAsciiLocal {
                    ch: '\u{200b}',
                    position: 3,
                },
            ),
            (
                "lena@exam\u{200b}ple.com",
                I::ForbiddenCharacter {
                    ch: '\u{200b}',
                    position: 10,
                    part: Part::Domain,
                },
            ),
            (
                "le\u{1}na@example.com",
                I::ForbiddenCharacter {
                    ch: '\u{1}',
                    position: 3,
                    part: Part::Local,
                },
            ),
            (".lena@example.com", I::DotAtStartOrEnd { position: 1 }),
            ("lena.@example.com", I::DotAtStartOrEnd { position: 5 }),
            ("lena@.example.com", I::DotAtStartOrEnd { position: 6 }),
            ("lena@example.com.", I::DotAtStartOrEnd { position: 17 }),
            (
                "lena..fischer@example.com",
                I::ConsecutiveDots { position: 6 },
            ),
            ("lena@example..com", I::ConsecutiveDots { position: 14 }),
            ("lena@localhost", I::DomainWithoutDot),
            (
                "lena@-example.com",
                I::InvalidDomainLabel {
                    label: "-example".into(),
                    position: 6,
                    problem: LabelProblem::LeadingHyphen,
                },
            ),
            (
                "lena@mail.example-.com",
                I::InvalidDomainLabel {
                    label: "example-".into(),
                    position: 11,
                    problem: LabelProblem::TrailingHyphen,
                },
            ),
            (
                "lena@example.123",
                I::InvalidDomainLabel {
                    label: "123".into(),
                    position: 14,
                    problem: LabelProblem::NumericTopLevel,
                },
            ),
        ];
        for (address, expected) in cases {
            assert_eq!(default(address), Err(expected), "{address:?}");
        }
    }

    #[test]
    fn lengths_are_counted_in_octets_against_the_limits() {
        let local = "a".repeat(65);
        assert_eq!(
            default(&format!("{local}@example.com")),
            Err(EmailIssue::LocalTooLong {
                octets: 65,
                max: 64
            })
        );
        assert_eq!(default(&format!("{}@example.com", "a".repeat(64))), Ok(()));

        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63)
        );
        let address = format!("{}@{domain}", "a".repeat(59));
        assert_eq!(address.len(), 255);
        assert_eq!(
            default(&address),
            Err(EmailIssue::TooLong {
                octets: 255,
                max: 254
            })
        );
        assert_eq!(default(&address[1..]), Ok(()));

        let label = "x".repeat(64);
        assert_eq!(
            default(&format!("lena@{label}.com")),
            Err(EmailIssue::InvalidDomainLabel {
                label,
                position: 6,
                problem: LabelProblem::TooLong { chars: 64, max: 63 },
            })
        );
    }

    #[test]
    fn salesforce_caps_the_address_at_80_and_wants_ascii_domains() {
        let rules = EmailRules::for_provider(Some(Provider::Salesforce));
        let long = format!("{}@example.com", "a".repeat(60));
        assert_eq!(long.len(), 72);
        assert_eq!(check(&long, &rules), Ok(()));
        let at_the_local_limit = format!("{}@example.com", "a".repeat(64));
        assert_eq!(at_the_local_limit.len(), 76);
        assert_eq!(check(&at_the_local_limit, &rules), Ok(()));
        let over = format!("{}@{}.example.com", "a".repeat(60), "b".repeat(20));
        assert_eq!(
            check(&over, &rules),
            Err(EmailIssue::TooLong {
                octets: over.len(),
                max: 80
            })
        );
        assert_eq!(
            check("lena@ñandú.com", &rules),
            Err(EmailIssue::NonAsciiDomain {
                ch: 'ñ',
                position: 6
            })
        );
        assert_eq!(
            default("lena@ñandú.com"),
            Ok(()),
            "Mailchimp and most others take IDNs"
        );
    }

    #[test]
    fn unicode_local_parts_pass_where_a_provider_allows_them() {
        let rules = EmailRules {
            ascii_local_part: false,
            ..EmailRules::DEFAULT
        };
        assert_eq!(check("calebæhnson@provider.com", &rules), Ok(()));
        assert_eq!(check("用户@例子.公司", &rules), Ok(()));
        assert_eq!(
            check("le\u{200b}na@example.com", &rules),
            Err(EmailIssue::ForbiddenCharacter {
                ch: '\u{200b}',
                position: 3,
                part: Part::Local
            })
        );
    }

    #[test]
    fn every_provider_has_rules_at_most_as_loose_as_rfc_5321() {
        for p in Provider::ALL {
            let rules = EmailRules::for_provider(Some(p));
            assert!(rules.ascii_local_part, "{p}");
            assert!(
                rules.max_local_octets <= 64 && rules.max_total_octets <= 254,
                "{p}"
            );
        }
        assert_eq!(EmailRules::for_provider(None), EmailRules::default());
    }

    #[test]
    fn messages_read_as_clauses_for_a_marketer() {
        use EmailIssue as I;
        for (issue, text) in [
            (I::Empty, "the email address is empty"),
            (I::MissingAt, "the email address has no @"),
            (
                I::Whitespace { position: 17 },
                "the email address has a blank space at position 17; email addresses cannot contain spaces",
            ),
            (
                I::ConsecutiveDots { position: 6 },
                "the email address has two dots in a row at positions 5 and 6",
            ),
            (
                I::NonAsciiLocal { ch: '\u{200b}', position: 3 },
                "the email address has an invisible character (U+200B) at position 3; only ASCII letters, digits and .!#$%&'*+/=?^_`{|}~- are accepted before the @",
            ),
            (
                I::ForbiddenCharacter { ch: ',', position: 11, part: Part::Domain },
                "the email address has ',' at position 11; only letters, digits, hyphens and dots are accepted after the @",
            ),
            (
                I::TooLong { octets: 85, max: 80 },
                "the email address is too long: 85 characters where at most 80 are accepted",
            ),
        ] {
            assert_eq!(issue.to_string(), text);
        }
    }

    #[test]
    fn suggestions_name_the_usual_spelling_and_never_the_whole_address() {
        let hint = |address: &str| {
            default(address)
                .expect_err("test addresses are invalid")
                .suggestion()
        };

        assert_eq!(
            hint("calebæhnson@provider.com").as_deref(),
            Some("In email addresses 'æ' is usually written as 'ae'; check the exact spelling with the person if you can.")
        );
        assert!(hint("jørn@example.no")
            .unwrap_or_default()
            .contains("'o' or 'oe'"));
        assert!(hint("müller@example.de")
            .unwrap_or_default()
            .contains("'u' or 'ue'"));
        assert!(hint("ÆSIR@example.no").unwrap_or_default().contains("'ae'"));
        assert_eq!(hint("用户@example.com"), None);
        assert_eq!(
            hint("lena.@example.com").as_deref(),
            Some("Remove the dot at position 5.")
        );
        assert_eq!(
            hint("lena@example.com ").as_deref(),
            Some("Remove the space at position 17.")
        );
        assert!(hint("lena@gmail,com")
            .unwrap_or_default()
            .contains("mistyped dot"));
        assert_eq!(hint("lena@localhost"), None);
    }

    #[test]
    fn issue_codes_are_distinct() {
        let issues = [
            EmailIssue::Empty,
            EmailIssue::MissingAt,
            EmailIssue::MoreThanOneAt { position: 1 },
            EmailIssue::EmptyLocal,
            EmailIssue::EmptyDomain,
            EmailIssue::Whitespace { position: 1 },
            EmailIssue::NonAsciiLocal {
                ch: 'æ',
                position: 1,
            },
            EmailIssue::NonAsciiDomain {
                ch: 'ñ',
                position: 1,
            },
            EmailIssue::ForbiddenCharacter {
                ch: ',',
                position: 1,
                part: Part::Local,
            },
            EmailIssue::DotAtStartOrEnd { position: 1 },
            EmailIssue::ConsecutiveDots { position: 2 },
            EmailIssue::LocalTooLong {
                octets: 65,
                max: 64,
            },
            EmailIssue::TooLong {
                octets: 255,
                max: 254,
            },
            EmailIssue::DomainWithoutDot,
            EmailIssue::InvalidDomainLabel {
                label: "-a".into(),
                position: 1,
                problem: LabelProblem::LeadingHyphen,
            },
        ];
        let mut codes: Vec<&str> = issues.iter().map(EmailIssue::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), issues.len());
    }

    #[test]
    fn normalise_trims_and_lowercases_only_the_domain() {
        assert_eq!(
            normalise("  Lena.Fischer@Example.COM \n"),
            "Lena.Fischer@example.com"
        );
        assert_eq!(normalise("CalebÆhnson@ÑANDÚ.com"), "CalebÆhnson@ñandú.com");
        assert_eq!(normalise(" no at sign "), "no at sign");
        assert_eq!(normalise("a@b@C.COM"), "a@b@c.com");
    }

    #[test]
    fn addresses_are_found_in_messages_in_any_language() {
        for message in [
            "calebæhnson@provider.com is not a valid email",
            "Die E-Mail-Adresse calebæhnson@provider.com ist ungültig.",
            "L'adresse e-mail « calebæhnson@provider.com » n'est pas valide.",
            "E-mailadressen 'calebæhnson@provider.com' er ugyldig",
            "E-postadressen <calebæhnson@provider.com> är ogiltig",
            "Email \"calebæhnson@provider.com\" is not a valid email address",
            "emailaddress1: 'calebæhnson@provider.com' is not a valid email address.",
            "calebÃ¦hnson@provider.com is not a valid email",
            "Invalid email: caleb\\u00e6hnson@provider.com",
        ] {
            assert_eq!(
                addresses_in(message),
                ["calebæhnson@provider.com"],
                "{message}"
            );
        }
    }

    #[test]
    fn the_address_finder_reads_only_what_looks_like_an_address() {
        assert!(addresses_in("The email must be a valid email address.").is_empty());
        assert!(addresses_in("user@ 123 and @mention and a@1").is_empty());
        assert!(addresses_in("see https://user@example.com/path").is_empty());
        assert_eq!(addresses_in("lena@example is invalid"), ["lena@example"]);
        assert_eq!(
            addresses_in("lena@@example.com is invalid"),
            ["lena@@example.com"]
        );
        assert_eq!(
            addresses_in("a@b.com, c@d.com; e@f.com"),
            ["a@b.com", "c@d.com", "e@f.com"]
        );
        assert_eq!(addresses_in(&"x@y.z ".repeat(10)).len(), 4, "at most four");
        assert_eq!(
            addresses_in("jørn@example.no is invalid"),
            ["jørn@example.no"],
            "real Latin-1 letters stay"
        );
        assert_eq!(
            addresses_in("Ã…se@provider.no"),
            ["Åse@provider.no"],
            "Windows-1252"
        );
        assert_eq!(addresses_in("bad a\\uZZZZ@x.com"), ["a\\uZZZZ@x.com"]);
    }

    #[test]
    fn the_seed_case_is_named_from_the_message_alone() {
        let (address, issue) = issue_in_message(
            "Die E-Mail-Adresse calebÃ¦hnson@provider.com ist ungültig",
            &EmailRules::DEFAULT,
        )
        .expect("an issue");
        assert_eq!(address, "calebæhnson@provider.com");
        assert_eq!(
            issue,
            EmailIssue::NonAsciiLocal {
                ch: 'æ',
                position: 6
            }
        );
        assert_eq!(
            issue_in_message("lena@example.com is already a member", &EmailRules::DEFAULT),
            None,
            "a valid address is no issue"
        );
    }

    proptest! {
        #[test]
        fn normalise_is_idempotent(address in any::<String>()) {
            let once = normalise(&address);
            prop_assert_eq!(normalise(&once), once);
        }

        #[test]
        fn normalise_is_idempotent_on_address_like_text(address in r"\s*[a-zA-Z0-9.æøÅ]{0,8}@[a-zA-ZÑΣİ.]{0,8}\s*") {
            let once = normalise(&address);
            prop_assert_eq!(normalise(&once), once);
        }

        #[test]
        fn check_never_panics_and_positions_fall_inside_the_address(address in any::<String>(), ascii in any::<bool>()) {
            let rules = EmailRules { ascii_local_part: ascii, ascii_domain: ascii, ..EmailRules::DEFAULT };
            if let Err(issue) = check(&address, &rules) {
                let len = address.chars().count();
                let position = match &issue {
                    EmailIssue::MoreThanOneAt { position }
                    | EmailIssue::Whitespace { position }
                    | EmailIssue::NonAsciiLocal { position, .. }
                    | EmailIssue::NonAsciiDomain { position, .. }
                    | EmailIssue::ForbiddenCharacter { position, .. }
                    | EmailIssue::DotAtStartOrEnd { position }
                    | EmailIssue::ConsecutiveDots { position }
                    | EmailIssue::InvalidDomainLabel { position, .. } => Some(*position),
                    _ => None,
                };
                if let Some(p) = position {
                    prop_assert!(p >= 1 && p <= len, "{:?} in {:?}", issue, address);
                }
                let _ = issue.to_string();
                let _ = issue.suggestion();
            }
        }

        #[test]
        fn check_never_panics_on_address_like_text(address in r"[a-z.@ æ,\-]{0,12}") {
            let _ = check(&address, &EmailRules::DEFAULT);
        }

        #[test]
        fn valid_ascii_addresses_pass(local in "[a-z0-9]{1,20}(\\.[a-z0-9+_-]{1,10}){0,2}", domain in "[a-z0-9]{1,20}(-[a-z0-9]{1,5})?\\.[a-z]{2,6}") {
            let address = format!("{local}@{domain}");
            prop_assert_eq!(check(&address, &EmailRules::DEFAULT), Ok(()));
        }
    }
}
