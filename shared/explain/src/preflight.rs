//! Pre-flight validation: the checks a provider would make, run before sending, returning
//! the same verdict shape as a refused request so the log reads alike.
//!
//! [`problems`] lists everything in the outgoing data that the provider would refuse;
//! [`preflight`] turns the first of them into a [`Verdict`] (a delivery attempt records
//! one verdict, and the first problem is the one to fix first: the email, then required
//! fields, then the fields in the data's order). A refusal verdict has no status, class
//! `not_sent`, outcome `invalid_data`, and is never retryable: resending the same data
//! would fail the same way.
//!
//! # The data
//!
//! `data` is the registration as it will be sent, after the integration's field mapping:
//! a flat object of the provider's field names, or the provider's own nesting (Mailchimp
//! `merge_fields`, HubSpot `properties`, Klaviyo `data.attributes`). Nested objects are
//! read through, and an array of `{"name": ..., "value": ...}` objects (HubSpot Forms
//! `fields`) is read as fields. A field is named by its last path segment.
//!
//! # What is checked
//!
//! | check | providers | source |
//! |---|---|---|
//! | an email (or an accepted alternative identifier) is present | Mailchimp, ActiveCampaign, Mailjet, Campaign Monitor (email); Klaviyo (or `phone_number`, `external_id`); SendGrid (or `phone_number_id`, `external_id`, `anonymous_id`); Brevo (or `SMS`, `ext_id`) | each provider's create-contact reference (linked in the code) |
//! | the email follows the provider's rules, when present | all | [`EmailRules::for_provider`] |
//! | the email is text | all | |
//! | required fields | Salesforce Lead: `LastName`, `Company` | Salesforce Object Reference, Lead |
//! | text length | Salesforce Lead fields (FirstName 40, LastName 80, Company 255, ...); Mailchimp 255 for every text value; HubSpot 65,536 for every property value | Salesforce Object Reference (Lead); Mailchimp merge fields docs; HubSpot property field types |
//! | single values | HubSpot and HubSpot Forms properties, Salesforce fields: no lists (HubSpot: no objects either) | |
//!
//! Nothing else is refused: required merge fields, picklist options and custom field types
//! are configured per account, which leadrelay does not see, and the provider's own answer
//! explains them.
//!
//! # Provider codes
//!
//! The verdict's `provider_code` is leadrelay's own stable code for the check (stored in
//! attempt records, so renaming one is a data migration):
//!
//! | code | meaning |
//! |---|---|
//! | `preflight.email_missing` | no email, nor an accepted alternative, for a provider that needs one |
//! | `preflight.email_not_text` | the email value is a number, yes/no, list or object |
//! | `preflight.email_empty` ... | the email fails a rule: `preflight.email_` + [`EmailIssue::code`] (`non_ascii`, `whitespace`, `missing_at`, `more_than_one_at`, `empty_local`, `empty_domain`, `non_ascii_domain`, `forbidden_character`, `dot_at_start_or_end`, `consecutive_dots`, `local_too_long`, `too_long`, `domain_without_dot`, `invalid_domain_label`; `empty` only through a provider without a required email) |
//! | `preflight.required_field` | a required field is missing, null or blank |
//! | `preflight.value_too_long` | a text value is longer than the field takes |
//! | `preflight.value_not_single` | a list or object where the field takes a single value |

use crate::catalogue::{self, is_email_field};
use crate::email::{self, EmailIssue, EmailRules, LabelProblem, Part};
use crate::provider::Provider;
use crate::verdict::{Class, Outcome, Verdict};
use serde_json::{Map, Value};

/// What kind of JSON value a field held, when it was not the kind needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Bool,
    /// A JSON array.
    List,
    /// A JSON object.
    Object,
}

impl ValueKind {
    fn of(value: &Value) -> Option<ValueKind> {
        match value {
            Value::Number(_) => Some(ValueKind::Number),
            Value::Bool(_) => Some(ValueKind::Bool),
            Value::Array(_) => Some(ValueKind::List),
            Value::Object(_) => Some(ValueKind::Object),
            Value::Null | Value::String(_) => None,
        }
    }

    /// How a marketer reads it: `a number`, `a list of values`, ...
    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::Number => "a number",
            ValueKind::Bool => "a yes/no value",
            ValueKind::List => "a list of values",
            ValueKind::Object => "a group of values",
        }
    }

    fn json_name(self) -> &'static str {
        match self {
            ValueKind::Number => "number",
            ValueKind::Bool => "boolean",
            ValueKind::List => "array",
            ValueKind::Object => "object",
        }
    }
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// No email address, nor any of the alternative identifiers the provider accepts.
    MissingIdentifier {
        /// The other fields the provider accepts instead of an email (may be empty).
        alternatives: &'static [&'static str],
    },
    /// The email address breaks the provider's rules.
    InvalidEmail(EmailIssue),
    /// The email value is not text.
    EmailNotText {
        /// What it is instead.
        found: ValueKind,
    },
    /// A field the provider requires is missing, null or blank.
    MissingRequired,
    /// A text value is longer than the provider takes in that field.
    TooLong {
        /// Its length, in characters.
        chars: usize,
        /// The provider's limit, in characters.
        max: usize,
    },
    /// A list or object where the provider takes a single value.
    NotSingleValue {
        /// What it is instead.
        found: ValueKind,
    },
}

/// One thing in the outgoing data that the provider would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field at fault, normalised to its last path segment (`email_address`, `FNAME`).
    pub field: String,
    /// What is wrong with it.
    pub kind: ProblemKind,
}

impl Problem {
    /// leadrelay's stable code for the problem (the table in the module docs).
    pub fn code(&self) -> &'static str {
        match &self.kind {
            ProblemKind::MissingIdentifier { .. } => "preflight.email_missing",
            ProblemKind::EmailNotText { .. } => "preflight.email_not_text",
            ProblemKind::MissingRequired => "preflight.required_field",
            ProblemKind::TooLong { .. } => "preflight.value_too_long",
            ProblemKind::NotSingleValue { .. } => "preflight.value_not_single",
            ProblemKind::InvalidEmail(issue) => match issue {
                EmailIssue::Empty => "preflight.email_empty",
                EmailIssue::MissingAt => "preflight.email_missing_at",
                EmailIssue::MoreThanOneAt { .. } => "preflight.email_more_than_one_at",
                EmailIssue::EmptyLocal => "preflight.email_empty_local",
                EmailIssue::EmptyDomain => "preflight.email_empty_domain",
                EmailIssue::Whitespace { .. } => "preflight.email_whitespace",
                EmailIssue::NonAsciiLocal { .. } => "preflight.email_non_ascii",
                EmailIssue::NonAsciiDomain { .. } => "preflight.email_non_ascii_domain",
                EmailIssue::ForbiddenCharacter { .. } => "preflight.email_forbidden_character",
                EmailIssue::DotAtStartOrEnd { .. } => "preflight.email_dot_at_start_or_end",
                EmailIssue::ConsecutiveDots { .. } => "preflight.email_consecutive_dots",
                EmailIssue::LocalTooLong { .. } => "preflight.email_local_too_long",
                EmailIssue::TooLong { .. } => "preflight.email_too_long",
                EmailIssue::DomainWithoutDot => "preflight.email_domain_without_dot",
                EmailIssue::InvalidDomainLabel { .. } => "preflight.email_invalid_domain_label",
            },
        }
    }

    /// A short technical line for the log's message: which field, what rule, where.
    pub fn message(&self) -> String {
        let field = &self.field;
        match &self.kind {
            ProblemKind::MissingIdentifier { alternatives: [] } => {
                format!("pre-flight: no value for {field}")
            }
            ProblemKind::MissingIdentifier { alternatives } => format!(
                "pre-flight: no value for {field} or {}",
                alternatives.join(" or ")
            ),
            ProblemKind::InvalidEmail(issue) => {
                format!("pre-flight: {field} {}", email_detail(issue))
            }
            ProblemKind::EmailNotText { found } => {
                format!(
                    "pre-flight: {field} is a JSON {}, not a string",
                    found.json_name()
                )
            }
            ProblemKind::MissingRequired => {
                format!("pre-flight: required field {field} is missing or blank")
            }
            ProblemKind::TooLong { chars, max } => {
                format!("pre-flight: {field} is {chars} characters, limit {max}")
            }
            ProblemKind::NotSingleValue { found } => format!(
                "pre-flight: {field} is a JSON {}, a single value is required",
                found.json_name()
            ),
        }
    }

    /// The verdict that records this problem as an attempt that never left.
    pub fn verdict(&self, provider: Option<Provider>) -> Verdict {
        let field = self.field.as_str();
        let (explanation, remedy) = match &self.kind {
            ProblemKind::MissingIdentifier { alternatives } => {
                catalogue::render_preflight_missing(provider, field, alternatives)
            }
            ProblemKind::InvalidEmail(issue) => catalogue::render_preflight_email(provider, issue),
            ProblemKind::EmailNotText { found } => {
                catalogue::render_preflight_email_not_text(provider, found.describe())
            }
            ProblemKind::MissingRequired => {
                catalogue::render_preflight_missing(provider, field, &[])
            }
            ProblemKind::TooLong { chars, max } => {
                catalogue::render_preflight_too_long(provider, field, *chars, *max)
            }
            ProblemKind::NotSingleValue { found } => {
                catalogue::render_preflight_not_single_value(provider, field, found.describe())
            }
        };
        let outcome = Outcome::InvalidData;
        Verdict {
            status: None,
            class: Class::NotSent,
            reason: None,
            outcome,
            retryable: outcome.retryable(),
            retry_after_s: None,
            provider_code: Some(self.code().to_owned()),
            field: Some(self.field.clone()),
            message: Some(self.message()),
            explanation,
            remedy,
        }
    }
}

fn shown(ch: char) -> String {
    format!("U+{:04X}", u32::from(ch))
}

/// The technical detail of an email issue, for [`Problem::message`].
fn email_detail(issue: &EmailIssue) -> String {
    let side = |part: &Part| match part {
        Part::Local => "local part",
        Part::Domain => "domain",
    };
    match issue {
        EmailIssue::Empty => "is empty".to_owned(),
        EmailIssue::MissingAt => "has no @".to_owned(),
        EmailIssue::MoreThanOneAt { position } => format!("has a second @ at position {position}"),
        EmailIssue::EmptyLocal => "has an empty local part".to_owned(),
        EmailIssue::EmptyDomain => "has an empty domain".to_owned(),
        EmailIssue::Whitespace { position } => format!("has whitespace at position {position}"),
        EmailIssue::NonAsciiLocal { ch, position } => format!(
            "has non-ASCII {} at position {position} in the local part (ASCII atext only)",
            shown(*ch)
        ),
        EmailIssue::NonAsciiDomain { ch, position } => format!(
            "has non-ASCII {} at position {position} in the domain (IDN not accepted)",
            shown(*ch)
        ),
        EmailIssue::ForbiddenCharacter { ch, position, part } => format!(
            "has forbidden {} at position {position} in the {}",
            shown(*ch),
            side(part)
        ),
        EmailIssue::DotAtStartOrEnd { position } => {
            format!("has a leading or trailing dot at position {position}")
        }
        EmailIssue::ConsecutiveDots { position } => {
            format!("has consecutive dots at position {position}")
        }
        EmailIssue::LocalTooLong { octets, max } => {
            format!("local part is {octets} octets, limit {max}")
        }
        EmailIssue::TooLong { octets, max } => format!("is {octets} octets, limit {max}"),
        EmailIssue::DomainWithoutDot => "has no dot in the domain".to_owned(),
        EmailIssue::InvalidDomainLabel {
            position, problem, ..
        } => {
            let what = match problem {
                LabelProblem::TooLong { chars, max } => {
                    format!("is {chars} characters, limit {max}")
                }
                LabelProblem::LeadingHyphen => "starts with a hyphen".to_owned(),
                LabelProblem::TrailingHyphen => "ends with a hyphen".to_owned(),
                LabelProblem::NumericTopLevel => "is an all-numeric top-level domain".to_owned(),
            };
            format!("has a domain label at position {position} that {what}")
        }
    }
}

/// The fields a provider needs at least one of to identify a contact; the first is its
/// name for the email field. Empty: the provider identifies contacts otherwise, or
/// leadrelay does not know.
fn identifiers(provider: Option<Provider>) -> &'static [&'static str] {
    match provider {
        // https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/
        Some(Provider::Mailchimp) => &["email_address"],
        // https://developers.activecampaign.com/reference/sync-a-contacts-data
        Some(Provider::Activecampaign) => &["email"],
        // https://dev.mailjet.com/email/reference/contacts/contact-list/ (managecontact)
        Some(Provider::Mailjet) => &["Email"],
        // https://www.campaignmonitor.com/api/v3-3/subscribers/#adding-a-subscriber
        Some(Provider::CampaignMonitor) => &["EmailAddress"],
        // https://developers.klaviyo.com/en/reference/create_profile: one identifier of three.
        Some(Provider::Klaviyo) => &["email", "phone_number", "external_id"],
        // https://www.twilio.com/docs/sendgrid/api-reference/contacts/add-or-update-a-contact
        Some(Provider::Sendgrid) => &["email", "phone_number_id", "external_id", "anonymous_id"],
        // https://developers.brevo.com/reference/createcontact: email unless SMS or ext_id.
        Some(Provider::Brevo) => &["email", "SMS", "ext_id"],
        // HubSpot and Dynamics create contacts and leads without an email; HubSpot Forms
        // requires what the form requires; Salesforce Lead's Email is optional.
        Some(
            Provider::Hubspot
            | Provider::HubspotForms
            | Provider::Salesforce
            | Provider::Dynamics
            | Provider::Webhook,
        )
        | None => &[],
    }
}

/// Fields a provider requires, beyond the identifier.
fn required_fields(provider: Option<Provider>) -> &'static [&'static str] {
    match provider {
        // Salesforce Object Reference, Lead: LastName and Company are required on create.
        // https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_lead.htm
        Some(Provider::Salesforce) => &["LastName", "Company"],
        _ => &[],
    }
}

/// The longest text a provider takes in a field, in characters; `None` when leadrelay
/// knows no limit.
///
/// - Salesforce Lead fields, from the Object Reference (link in [`required_fields`]);
///   Email (80) is checked through [`EmailRules::for_provider`].
/// - Mailchimp: text merge fields take 255 characters
///   (<https://mailchimp.com/developer/marketing/docs/merge-fields/>); every other string a
///   member takes is shorter, so 255 applies to every text value.
/// - HubSpot (CRM and Forms): a property value holds at most 65,536 characters
///   (<https://knowledge.hubspot.com/properties/property-field-types-in-hubspot>).
fn length_limit(provider: Option<Provider>, field: &str) -> Option<usize> {
    const SALESFORCE_LEAD: &[(&str, usize)] = &[
        ("FirstName", 40),
        ("MiddleName", 40),
        ("LastName", 80),
        ("Suffix", 40),
        ("Title", 128),
        ("Company", 255),
        ("City", 40),
        ("State", 80),
        ("PostalCode", 20),
        ("Country", 80),
        ("Phone", 40),
        ("MobilePhone", 40),
        ("Fax", 40),
        ("Website", 255),
    ];
    match provider {
        Some(Provider::Salesforce) => SALESFORCE_LEAD
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(field))
            .map(|(_, max)| *max),
        Some(Provider::Mailchimp) => Some(255),
        Some(Provider::Hubspot | Provider::HubspotForms) => Some(65_536),
        _ => None,
    }
}

/// One field of the data, wherever it sits.
struct Field<'a> {
    name: &'a str,
    value: &'a Value,
    depth: usize,
}

/// Objects deeper than this are not read: no provider nests contact data that far, and
/// it bounds the work on hostile input.
const MAX_DEPTH: usize = 8;

fn collect<'a>(map: &'a Map<String, Value>, depth: usize, out: &mut Vec<Field<'a>>) {
    for (name, value) in map {
        match value {
            Value::Object(inner) if depth < MAX_DEPTH => collect(inner, depth + 1, out),
            Value::Array(items) if !items.is_empty() && items.iter().all(is_name_value) => {
                for item in items {
                    if let (Some(Value::String(n)), Some(v)) = (item.get("name"), item.get("value"))
                    {
                        out.push(Field {
                            name: n,
                            value: v,
                            depth: depth + 1,
                        });
                    }
                }
            }
            _ => out.push(Field { name, value, depth }),
        }
    }
}

/// `{"name": "email", "value": ...}`: a HubSpot Forms field.
fn is_name_value(item: &Value) -> bool {
    item.get("name").is_some_and(Value::is_string) && item.get("value").is_some()
}

fn fields(data: &Map<String, Value>) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    collect(data, 0, &mut out);
    out
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The email field nearest the top of the data (the first in order among equals).
fn email_field<'f, 'a>(fields: &'f [Field<'a>]) -> Option<&'f Field<'a>> {
    fields
        .iter()
        .filter(|f| is_email_field(f.name))
        .min_by_key(|f| f.depth)
}

fn check_email(provider: Option<Provider>, fields: &[Field<'_>], out: &mut Vec<Problem>) {
    let ids = identifiers(provider);
    let found = email_field(fields).filter(|f| !is_blank(f.value));
    let Some(field) = found else {
        let alternatives = ids.get(1..).unwrap_or_default();
        let has_alternative = fields.iter().any(|f| {
            !is_blank(f.value) && alternatives.iter().any(|a| a.eq_ignore_ascii_case(f.name))
        });
        if let Some(name) = ids.first() {
            if !has_alternative {
                out.push(Problem {
                    field: (*name).to_owned(),
                    kind: ProblemKind::MissingIdentifier { alternatives },
                });
            }
        }
        return;
    };
    let kind = match field.value {
        Value::String(address) => email::check(address, &EmailRules::for_provider(provider))
            .err()
            .map(ProblemKind::InvalidEmail),
        other => ValueKind::of(other).map(|found| ProblemKind::EmailNotText { found }),
    };
    if let Some(kind) = kind {
        out.push(Problem {
            field: field.name.to_owned(),
            kind,
        });
    }
}

fn check_required(provider: Option<Provider>, fields: &[Field<'_>], out: &mut Vec<Problem>) {
    for required in required_fields(provider) {
        let present = fields
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(required) && !is_blank(f.value));
        if !present {
            out.push(Problem {
                field: (*required).to_owned(),
                kind: ProblemKind::MissingRequired,
            });
        }
    }
}

/// The values a provider takes only as single values, with their field names.
fn single_value_fields(
    provider: Option<Provider>,
    data: &Map<String, Value>,
) -> Vec<(&str, &Value)> {
    match provider {
        // The v3 objects API takes `properties: {name: value}`; values are strings, numbers
        // or booleans (multi-select values are one `;`-separated string).
        Some(Provider::Hubspot) => {
            let properties = match data.get("properties") {
                Some(Value::Object(p)) => p,
                _ => data,
            };
            properties.iter().map(|(k, v)| (k.as_str(), v)).collect()
        }
        Some(Provider::HubspotForms) => match data.get("fields") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| Some((item.get("name")?.as_str()?, item.get("value")?)))
                .collect(),
            _ => Vec::new(),
        },
        // sObject fields are single values; an object is a relationship by external id
        // (`"Account": {"Ext_Id__c": "42"}`), and `attributes` is metadata.
        Some(Provider::Salesforce) => data
            .iter()
            .filter(|(k, v)| v.is_array() && k.as_str() != "attributes")
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        _ => Vec::new(),
    }
}

/// Everything in the outgoing data that the provider would refuse, most important first:
/// the email (or its absence), required fields, then single values and lengths in the
/// data's order. Empty when the data may be sent.
pub fn problems(provider: Option<Provider>, data: &Map<String, Value>) -> Vec<Problem> {
    let fields = fields(data);
    let mut out = Vec::new();
    check_email(provider, &fields, &mut out);
    check_required(provider, &fields, &mut out);

    for (name, value) in single_value_fields(provider, data) {
        let found = match value {
            Value::Array(_) => Some(ValueKind::List),
            Value::Object(_) => Some(ValueKind::Object),
            _ => None,
        };
        if let Some(found) = found {
            if !is_email_field(name) {
                out.push(Problem {
                    field: name.to_owned(),
                    kind: ProblemKind::NotSingleValue { found },
                });
            }
        }
    }
    for field in &fields {
        let Value::String(text) = field.value else {
            continue;
        };
        // The email's length is a rule of its own (EmailRules), checked above.
        if is_email_field(field.name) {
            continue;
        }
        if let Some(max) = length_limit(provider, field.name) {
            let chars = text.chars().count();
            if chars > max {
                out.push(Problem {
                    field: field.name.to_owned(),
                    kind: ProblemKind::TooLong { chars, max },
                });
            }
        }
    }
    out
}

/// Checks the outgoing data before sending. `Err` holds the verdict to record instead of
/// an attempt: the first of [`problems`], as [`Problem::verdict`] renders it.
// A refusal is rare and recorded at once, so the large `Err` costs nothing worth a `Box`.
#[allow(clippy::result_large_err)]
pub fn preflight(provider: Option<Provider>, data: &Map<String, Value>) -> Result<(), Verdict> {
    match problems(provider, data).first() {
        Some(problem) => Err(problem.verdict(provider)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("test data must be an object"),
        }
    }

    fn codes(provider: Option<Provider>, value: Value) -> Vec<&'static str> {
        problems(provider, &data(value))
            .iter()
            .map(Problem::code)
            .collect()
    }

    #[test]
    fn the_seed_case_is_refused_before_sending() {
        let registration = data(json!({
            "email_address": "calebæhnson@provider.com",
            "merge_fields": {"FNAME": "Caleb"}
        }));

        let verdict = preflight(Some(Provider::Mailchimp), &registration)
            .expect_err("the data must be refused");

        assert_eq!(verdict.status, None);
        assert_eq!(verdict.class, Class::NotSent);
        assert_eq!(verdict.reason, None);
        assert_eq!(verdict.outcome, Outcome::InvalidData);
        assert!(!verdict.retryable);
        assert_eq!(verdict.retry_after_s, None);
        assert_eq!(
            verdict.provider_code.as_deref(),
            Some("preflight.email_non_ascii")
        );
        assert_eq!(verdict.field.as_deref(), Some("email_address"));
        assert_eq!(
            verdict.message.as_deref(),
            Some("pre-flight: email_address has non-ASCII U+00E6 at position 6 in the local part (ASCII atext only)")
        );
        assert_eq!(
            verdict.explanation,
            "Not sent: the email address has 'æ' at position 6; only ASCII letters, digits and .!#$%&'*+/=?^_`{|}~- are accepted before the @. Mailchimp would refuse it."
        );
        assert!(
            verdict
                .remedy
                .starts_with("Correct the email address in this registration and resend it."),
            "{}",
            verdict.remedy
        );
        assert!(verdict.remedy.contains("'ae'"), "{}", verdict.remedy);
    }

    #[test]
    fn the_seed_case_for_a_webhook_blames_no_one_in_particular() {
        let registration = data(json!({"email": "calebæhnson@provider.com"}));

        let verdict = preflight(Some(Provider::Webhook), &registration)
            .expect_err("the data must be refused");

        assert_eq!(verdict.field.as_deref(), Some("email"));
        assert!(
            verdict.explanation.contains("'æ' at position 6")
                && verdict
                    .explanation
                    .ends_with("@. Most email services refuse such an address."),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn clean_data_passes_for_every_provider() {
        let registration = data(json!({
            "email": "lena.fischer@example.com",
            "FirstName": "Lena",
            "LastName": "Fischer",
            "Company": "Example GmbH",
            "consent": true,
            "score": 42
        }));
        for p in Provider::ALL {
            assert_eq!(problems(Some(p), &registration), vec![], "{p}");
        }
        assert_eq!(preflight(None, &registration), Ok(()));
    }

    #[test]
    fn the_email_field_is_found_whatever_its_case_and_nesting() {
        for value in [
            json!({"Email": "a b@example.com"}),
            json!({"EmailAddress": "a b@example.com"}),
            json!({"email_address": "a b@example.com"}),
            json!({"properties": {"email": "a b@example.com"}}),
            json!({"data": {"type": "profile", "attributes": {"email": "a b@example.com"}}}),
            json!({"fields": [{"name": "firstname", "value": "A"}, {"name": "email", "value": "a b@example.com"}]}),
        ] {
            assert_eq!(
                codes(None, value.clone()),
                ["preflight.email_whitespace"],
                "{value}"
            );
        }
    }

    #[test]
    fn a_missing_email_is_refused_where_the_provider_keys_on_it() {
        let no_email = json!({"first_name": "Lena"});

        let verdict = preflight(Some(Provider::Mailchimp), &data(no_email.clone()))
            .expect_err("the data must be refused");

        assert_eq!(
            verdict.provider_code.as_deref(),
            Some("preflight.email_missing")
        );
        assert_eq!(verdict.field.as_deref(), Some("email_address"));
        assert_eq!(
            verdict.explanation,
            "Not sent: Mailchimp requires the email address, and this registration has none."
        );
        for p in [
            Provider::Activecampaign,
            Provider::Mailjet,
            Provider::CampaignMonitor,
        ] {
            assert_eq!(
                codes(Some(p), no_email.clone()),
                ["preflight.email_missing"],
                "{p}"
            );
        }
        for p in [
            Provider::Hubspot,
            Provider::Salesforce,
            Provider::Dynamics,
            Provider::Webhook,
        ] {
            assert!(
                !codes(Some(p), no_email.clone()).contains(&"preflight.email_missing"),
                "{p}"
            );
        }
        assert_eq!(codes(None, no_email), Vec::<&str>::new());
    }

    #[test]
    fn blank_and_null_emails_count_as_missing() {
        for value in [
            json!({"email": ""}),
            json!({"email": "  "}),
            json!({"email": null}),
        ] {
            assert_eq!(
                codes(Some(Provider::Activecampaign), value.clone()),
                ["preflight.email_missing"],
                "{value}"
            );
            assert_eq!(
                codes(Some(Provider::Webhook), value.clone()),
                Vec::<&str>::new()
            );
        }
    }

    #[test]
    fn an_alternative_identifier_replaces_the_email_where_accepted() {
        let phone_only = json!({"phone_number": "+4712345678"});
        assert_eq!(
            codes(Some(Provider::Klaviyo), phone_only.clone()),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes(
                Some(Provider::Brevo),
                json!({"attributes": {"SMS": "+4712345678"}})
            ),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes(Some(Provider::Mailchimp), phone_only),
            ["preflight.email_missing"]
        );

        let verdict = preflight(
            Some(Provider::Klaviyo),
            &data(json!({"first_name": "Lena"})),
        )
        .expect_err("the data must be refused");
        assert!(
            verdict
                .explanation
                .contains("requires the email address (or \"phone_number\" or \"external_id\")"),
            "{}",
            verdict.explanation
        );
        assert_eq!(
            verdict.message.as_deref(),
            Some("pre-flight: no value for email or phone_number or external_id")
        );
    }

    #[test]
    fn an_email_that_is_not_text_is_refused() {
        let verdict = preflight(
            Some(Provider::Hubspot),
            &data(json!({"email": ["a@example.com"]})),
        )
        .expect_err("the data must be refused");

        assert_eq!(
            verdict.provider_code.as_deref(),
            Some("preflight.email_not_text")
        );
        assert_eq!(verdict.field.as_deref(), Some("email"));
        assert!(
            verdict
                .explanation
                .contains("the email address is a list of values instead of text"),
            "{}",
            verdict.explanation
        );
        assert_eq!(
            codes(None, json!({"email": 42})),
            ["preflight.email_not_text"]
        );
    }

    #[test]
    fn every_email_rule_gets_its_own_code() {
        for (address, code) in [
            ("lena", "preflight.email_missing_at"),
            ("lena@@example.com", "preflight.email_more_than_one_at"),
            ("@example.com", "preflight.email_empty_local"),
            ("lena@", "preflight.email_empty_domain"),
            ("lena @example.com", "preflight.email_whitespace"),
            ("lena,f@example.com", "preflight.email_forbidden_character"),
            ("lena.@example.com", "preflight.email_dot_at_start_or_end"),
            ("le..na@example.com", "preflight.email_consecutive_dots"),
            ("lena@localhost", "preflight.email_domain_without_dot"),
            ("lena@-x.com", "preflight.email_invalid_domain_label"),
        ] {
            assert_eq!(
                codes(None, json!({ "email": address })),
                [code],
                "{address}"
            );
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(
            codes(None, json!({ "email": long_local })),
            ["preflight.email_local_too_long"]
        );
        assert_eq!(
            codes(
                Some(Provider::Salesforce),
                json!({
                    "email": format!("{}@{}.example.com", "a".repeat(60), "b".repeat(20)),
                    "LastName": "F", "Company": "C"
                })
            ),
            ["preflight.email_too_long"]
        );
        assert_eq!(
            codes(
                Some(Provider::Salesforce),
                json!({
                    "Email": "lena@ñandú.com", "LastName": "F", "Company": "C"
                })
            ),
            ["preflight.email_non_ascii_domain"]
        );
    }

    #[test]
    fn salesforce_leads_need_a_last_name_and_a_company() {
        let verdict = preflight(
            Some(Provider::Salesforce),
            &data(json!({"Email": "lena@example.com", "LastName": "Fischer", "company": " "})),
        )
        .expect_err("the data must be refused");

        assert_eq!(
            verdict.provider_code.as_deref(),
            Some("preflight.required_field")
        );
        assert_eq!(verdict.field.as_deref(), Some("Company"));
        assert_eq!(
            verdict.explanation,
            "Not sent: Salesforce requires the \"Company\" field, and this registration has none."
        );
        assert!(
            verdict.remedy.contains("field mapping"),
            "{}",
            verdict.remedy
        );
        assert_eq!(
            codes(
                Some(Provider::Salesforce),
                json!({"Email": "lena@example.com"})
            ),
            ["preflight.required_field", "preflight.required_field"]
        );
        assert_eq!(
            codes(
                Some(Provider::Hubspot),
                json!({"email": "lena@example.com"})
            ),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn salesforce_field_lengths_follow_the_lead_object() {
        let registration = json!({
            "Email": "lena@example.com",
            "FirstName": "L".repeat(41),
            "LastName": "F".repeat(80),
            "Company": "C".repeat(256),
            "Description": "D".repeat(5000)
        });

        let found = problems(Some(Provider::Salesforce), &data(registration));

        assert_eq!(
            found,
            vec![
                Problem {
                    field: "Company".into(),
                    kind: ProblemKind::TooLong {
                        chars: 256,
                        max: 255
                    }
                },
                Problem {
                    field: "FirstName".into(),
                    kind: ProblemKind::TooLong { chars: 41, max: 40 }
                },
            ]
        );
        let verdict = found[1].verdict(Some(Provider::Salesforce));
        assert_eq!(
            verdict.provider_code.as_deref(),
            Some("preflight.value_too_long")
        );
        assert_eq!(
            verdict.explanation,
            "Not sent: the \"FirstName\" field is 41 characters long, and Salesforce accepts at most 40 there."
        );
        assert_eq!(
            verdict.message.as_deref(),
            Some("pre-flight: FirstName is 41 characters, limit 40")
        );
    }

    #[test]
    fn mailchimp_text_values_stop_at_255_characters() {
        let ok = json!({"email_address": "lena@example.com", "merge_fields": {"FNAME": "é".repeat(255)}});
        assert_eq!(codes(Some(Provider::Mailchimp), ok), Vec::<&str>::new());

        let long = json!({"email_address": "lena@example.com", "merge_fields": {"ANSWER": "a".repeat(256)}});
        let found = problems(Some(Provider::Mailchimp), &data(long));
        assert_eq!(
            found,
            vec![Problem {
                field: "ANSWER".into(),
                kind: ProblemKind::TooLong {
                    chars: 256,
                    max: 255
                }
            }]
        );
    }

    #[test]
    fn hubspot_values_stop_at_65536_characters_and_must_be_single() {
        let registration = json!({"properties": {
            "email": "lena@example.com",
            "notes": "n".repeat(65_537),
            "interests": ["a", "b"],
            "ok": "x".repeat(65_536)
        }});

        let found = codes(Some(Provider::Hubspot), registration);

        assert_eq!(
            found,
            ["preflight.value_not_single", "preflight.value_too_long"]
        );
        let verdict = preflight(
            Some(Provider::Hubspot),
            &data(json!({"email": "lena@example.com", "interests": ["a", "b"]})),
        )
        .expect_err("the data must be refused");
        assert_eq!(verdict.field.as_deref(), Some("interests"));
        assert!(
            verdict
                .explanation
                .contains("holds a list of values, but HubSpot takes a single value there"),
            "{}",
            verdict.explanation
        );
    }

    #[test]
    fn salesforce_allows_relationship_objects_but_not_lists() {
        let registration = json!({
            "Email": "lena@example.com", "LastName": "F", "Company": "C",
            "attributes": {"type": "Lead"},
            "Account": {"Ext_Id__c": "42"},
            "Interests__c": ["a"]
        });
        assert_eq!(
            codes(Some(Provider::Salesforce), registration),
            ["preflight.value_not_single"]
        );
    }

    #[test]
    fn hubspot_forms_fields_are_read_from_their_name_value_list() {
        let registration = json!({
            "fields": [
                {"name": "email", "value": "lena@example.com"},
                {"name": "topics", "value": ["a", "b"]}
            ],
            "context": {"pageUri": "https://example.com"}
        });
        assert_eq!(
            codes(Some(Provider::HubspotForms), registration),
            ["preflight.value_not_single"]
        );
    }

    #[test]
    fn problems_come_email_first_then_required_then_fields() {
        let registration = json!({"Email": "a b@example.com", "FirstName": "L".repeat(50)});
        assert_eq!(
            codes(Some(Provider::Salesforce), registration),
            [
                "preflight.email_whitespace",
                "preflight.required_field",
                "preflight.required_field",
                "preflight.value_too_long"
            ]
        );
    }

    #[test]
    fn deep_or_odd_data_never_panics() {
        let mut deep = json!({"email": "lena@example.com"});
        for _ in 0..50 {
            deep = json!({ "nested": deep });
        }
        for p in Provider::ALL.into_iter().map(Some).chain([None]) {
            let _ = preflight(p, &data(deep.clone()));
            let _ = preflight(p, &data(json!({"fields": [], "properties": 3, "": null})));
        }
    }
}
