//! Field paths as providers write them, normalised to the field's own name; and what a
//! field error says about the field: the fields a required-list names, the allowed values
//! a message lists, the value it refused, the format it expects, and the known field a
//! refused name is most likely a misspelling of.

use crate::provider::Provider;

/// Path segments that name a container, not a field: a pointer ending in one of them
/// (Klaviyo's `/data/attributes` on a duplicate, ActiveCampaign's
/// `/data/attributes/fieldValues/3` for its third custom field) names no field.
const CONTAINERS: [&str; 12] = [
    "data",
    "attributes",
    "properties",
    "fields",
    "merge_fields",
    "body",
    "contacts",
    "profile",
    "errors",
    "fieldValues",
    "custom_fields",
    "CustomFields",
];

/// Normalises a field path to its last segment: `merge_fields.FNAME` → `FNAME`,
/// `contacts[0].email` → `email`, `/data/attributes/email` → `email`,
/// `Error in 'fields.email'` → `email`. Returns `None` when no field is named.
pub(crate) fn normalise(raw: &str) -> Option<String> {
    let raw = raw
        .trim()
        .trim_matches(|c| c == '\'' || c == '"' || c == '`');
    let last = raw
        .split(['.', '/'])
        .map(|seg| seg.split('[').next().unwrap_or(seg).trim())
        .rfind(|seg| !seg.is_empty() && !seg.chars().all(|c| c.is_ascii_digit()))?;
    if CONTAINERS.iter().any(|c| c.eq_ignore_ascii_case(last)) {
        return None;
    }
    Some(last.to_owned())
}

/// The Damerau–Levenshtein distance (optimal string alignment) between two names, ignoring
/// ASCII case: the number of inserted, deleted, replaced or swapped neighbouring characters
/// that turn one into the other. `emailadress1` → `emailaddress1` is 1.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let width = b.len() + 1;
    // Three rows: two back (for a swap), the previous and the current.
    let mut two_back = vec![0usize; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current = vec![0usize; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(two_back[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut two_back, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The one known name `name` is most likely a misspelling of: at most one edit away for
/// names of 4 to 7 characters, two for longer ones, and closer than any other candidate.
/// A name that only differs in case is suggested too (Dataverse's names are case-sensitive).
/// Returns `None` for a name that is known as written, or with no single close candidate.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let length = name.chars().count();
    let limit = match length {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    if candidates.contains(&name) {
        return None;
    }
    let mut best: Option<(&str, usize)> = None;
    let mut tie = false;
    for &candidate in candidates {
        // A length difference beyond the limit is beyond it in distance too.
        if candidate.chars().count().abs_diff(length) > limit {
            continue;
        }
        let d = edit_distance(name, candidate);
        if d > limit {
            continue;
        }
        match best {
            Some((_, b)) if d > b => {}
            Some((_, b)) if d == b => tie = true,
            _ => {
                best = Some((candidate, d));
                tie = false;
            }
        }
    }
    if tie {
        return None;
    }
    best.map(|(c, _)| c)
}

/// Well-known standard fields of each provider, as its API spells them: what a field name
/// that the provider refused is compared with for a spelling suggestion.
pub(crate) fn known_fields(provider: Option<Provider>) -> &'static [&'static str] {
    match provider {
        // Lead and Contact standard fields.
        Some(Provider::Salesforce) => &[
            "FirstName",
            "LastName",
            "Company",
            "Email",
            "Phone",
            "MobilePhone",
            "Title",
            "Street",
            "City",
            "State",
            "PostalCode",
            "Country",
            "LeadSource",
            "Status",
            "Industry",
            "Website",
            "Description",
            "Salutation",
            "Rating",
            "NumberOfEmployees",
            "AnnualRevenue",
            "HasOptedOutOfEmail",
            "DoNotCall",
            "Fax",
            "Birthdate",
            "Department",
            "AccountId",
            "MailingStreet",
            "MailingCity",
            "MailingState",
            "MailingPostalCode",
            "MailingCountry",
        ],
        // Dataverse lead and contact columns (logical names).
        Some(Provider::Dynamics) => &[
            "firstname",
            "lastname",
            "fullname",
            "emailaddress1",
            "emailaddress2",
            "emailaddress3",
            "telephone1",
            "telephone2",
            "mobilephone",
            "companyname",
            "jobtitle",
            "subject",
            "description",
            "address1_line1",
            "address1_line2",
            "address1_city",
            "address1_postalcode",
            "address1_country",
            "address1_stateorprovince",
            "leadsourcecode",
            "birthdate",
            "donotemail",
            "donotbulkemail",
            "websiteurl",
            "industrycode",
            "gendercode",
            "preferredcontactmethodcode",
            "parentcustomerid",
        ],
        // Default contact properties.
        Some(Provider::Hubspot | Provider::HubspotForms) => &[
            "email",
            "firstname",
            "lastname",
            "phone",
            "mobilephone",
            "company",
            "jobtitle",
            "website",
            "address",
            "city",
            "state",
            "zip",
            "country",
            "lifecyclestage",
            "hs_lead_status",
            "date_of_birth",
            "salutation",
            "industry",
            "fax",
            "message",
            "annualrevenue",
            "numemployees",
            "hs_language",
        ],
        // The member's own keys and the default merge tags.
        Some(Provider::Mailchimp) => &[
            "email_address",
            "status",
            "status_if_new",
            "merge_fields",
            "tags",
            "language",
            "FNAME",
            "LNAME",
            "PHONE",
            "ADDRESS",
            "BIRTHDAY",
        ],
        Some(Provider::Klaviyo) => &[
            "email",
            "phone_number",
            "external_id",
            "first_name",
            "last_name",
            "organization",
            "title",
            "image",
            "location",
            "properties",
            "address1",
            "address2",
            "city",
            "country",
            "region",
            "zip",
            "timezone",
        ],
        Some(Provider::Brevo) => &[
            "email",
            "attributes",
            "listIds",
            "updateEnabled",
            "emailBlacklisted",
            "smsBlacklisted",
            "ext_id",
            "EMAIL",
            "FIRSTNAME",
            "LASTNAME",
            "SMS",
            "WHATSAPP",
        ],
        Some(Provider::Sendgrid) => &[
            "email",
            "first_name",
            "last_name",
            "phone_number",
            "address_line_1",
            "address_line_2",
            "city",
            "state_province_region",
            "postal_code",
            "country",
            "alternate_emails",
            "custom_fields",
            "whatsapp",
            "unique_name",
            "list_ids",
        ],
        Some(Provider::Mailjet) => &[
            "Email",
            "Name",
            "IsExcludedFromCampaigns",
            "firstname",
            "name",
            "country",
        ],
        Some(Provider::Activecampaign) => {
            &["email", "firstName", "lastName", "phone", "fieldValues"]
        }
        Some(Provider::CampaignMonitor) => &[
            "EmailAddress",
            "Name",
            "CustomFields",
            "Resubscribe",
            "ConsentToTrack",
            "MobileNumber",
            "ConsentToSendSms",
        ],
        Some(Provider::Webhook) | None => &[],
    }
}

/// Fields named in a "required" sentence: `Required fields were not provided:
/// email_address` (Mailchimp) → `email`; `Required fields are missing: [LastName,
/// Company]` (Salesforce) → both. Mailchimp's `email_address` is read as `email`.
pub(crate) fn required_list(message: &str) -> Vec<String> {
    const LEADS: [&str; 4] = [
        "required fields were not provided:",
        "required fields are missing:",
        "required field is missing:",
        "missing required fields:",
    ];
    // Every lead names "required": one cheap look before folding and four searches.
    if !(message.contains("equired") || message.contains("EQUIRED")) {
        return Vec::new();
    }
    let folded = Folded::new(message);
    let Some(rest) = LEADS.iter().find_map(|lead| folded.after(lead)) else {
        return Vec::new();
    };
    let rest = rest.trim_start();
    let list = match rest.strip_prefix('[') {
        Some(inner) => inner.split(']').next().unwrap_or(inner),
        None => rest.split(['.', ';', '\n']).next().unwrap_or(rest),
    };
    list.split(',')
        .map(|name| name.trim().trim_matches(|c| c == '"' || c == '\''))
        .filter(|name| !name.is_empty() && !name.contains(' '))
        .take(MAX_LISTED)
        .map(|name| {
            if name == "email_address" {
                "email".to_owned()
            } else {
                name.to_owned()
            }
        })
        .collect()
}

/// How many values or field names are kept from one list in a body.
pub(crate) const MAX_LISTED: usize = 300;

/// A message with its ASCII-lower-cased copy: many phrases are looked up in it with plain
/// (fast) searches instead of one case-insensitive scan each. Phrases are given in lower
/// case; what follows them is returned from the message as written.
struct Folded<'a> {
    text: &'a str,
    lower: String,
}

impl<'a> Folded<'a> {
    fn new(text: &'a str) -> Folded<'a> {
        Folded {
            text,
            lower: text.to_ascii_lowercase(),
        }
    }

    /// The message after the first occurrence of `lead` (lower case).
    fn after(&self, lead: &str) -> Option<&'a str> {
        let at = self.lower.find(lead)?;
        self.text.get(at + lead.len()..)
    }

    /// Whether the message holds `word` (lower case), ignoring case.
    fn has(&self, word: &str) -> bool {
        self.lower.contains(word)
    }
}

/// The allowed values a message lists: HubSpot's option dump (`[label: "Yes" value: "yes"
/// display_order: 0 hidden: false …]`, hidden options left out) or its plain list
/// (`[PRODUCT_ISSUE, BILLING_ISSUE]`), Dataverse's `Accepted Values: 1,2,3`, and the common
/// `must be one of: a, b` / `Allowed values: a, b`. Empty when the message lists none.
pub(crate) fn option_list(message: &str) -> Vec<String> {
    const LEADS: [&str; 11] = [
        "allowed options:",
        "valid fields:",
        "allowed fields:",
        "known fields:",
        "accepted values:",
        "allowed values:",
        "allowed values are",
        "valid values are",
        "valid options are",
        "must be one of:",
        "must be one of",
    ];
    let folded = Folded::new(message);
    let Some(rest) = LEADS.iter().find_map(|lead| folded.after(lead)) else {
        return Vec::new();
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("the following").unwrap_or(rest);
    let rest = rest.trim_start().trim_start_matches(':').trim_start();
    if let Some(inner) = rest.strip_prefix('[') {
        let inner = match inner.rfind(']') {
            Some(end) => &inner[..end],
            None => inner,
        };
        if inner.contains("value: ") || inner.contains("label: ") {
            return option_dump(inner);
        }
        return split_values(inner);
    }
    let line = rest.split(['\n', ';']).next().unwrap_or(rest);
    let line = line.strip_suffix('.').unwrap_or(line);
    split_values(line)
}

/// HubSpot's dump of option objects: each `label: "…" value: "…" display_order: n
/// hidden: b …`, separated by `, label:`. The values, without the hidden ones.
fn option_dump(inner: &str) -> Vec<String> {
    let mut values = Vec::new();
    for option in inner.split("label: ").filter(|o| !o.trim().is_empty()) {
        if option.contains("hidden: true") {
            continue;
        }
        let value = option
            .split_once("value: ")
            .map(|(_, v)| quoted_or_word(v))
            .or_else(|| Some(quoted_or_word(option)))
            .filter(|v| !v.is_empty());
        if let Some(v) = value {
            if !values.contains(&v) {
                values.push(v);
            }
        }
        if values.len() >= MAX_LISTED {
            break;
        }
    }
    values
}

/// `"yes"\n…` → `yes`; `yes\n…` → `yes`.
fn quoted_or_word(s: &str) -> String {
    let s = s.trim_start().trim_start_matches('\\');
    match s.strip_prefix('"') {
        Some(rest) => rest
            .split('"')
            .next()
            .unwrap_or_default()
            .trim_end_matches('\\')
            .to_owned(),
        None => s
            .split(|c: char| c.is_whitespace() || c == ',')
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

fn split_values(list: &str) -> Vec<String> {
    let mut values = Vec::new();
    // `a, b or c`: the last two are joined by "or".
    for v in list.split([',', '|']).flat_map(|piece| piece.split(" or ")) {
        let v = v
            .trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == '`')
            .trim();
        let v = v.strip_prefix("or ").unwrap_or(v).trim();
        if v.is_empty() || v.chars().count() > 80 {
            continue;
        }
        if !values.iter().any(|known: &String| known == v) {
            values.push(v.to_owned());
        }
        if values.len() >= MAX_LISTED {
            break;
        }
    }
    values
}

/// The value a message says was refused, when it quotes it: HubSpot's `Maybe later was
/// not one of the allowed options`, Salesforce's `bad value for restricted picklist field:
/// Playable Quiz` and `value not of required type: abc`, Dataverse's `The value 7 of
/// 'leadsourcecode'` and `Cannot convert the literal 'twelve'`.
pub(crate) fn refused_value(message: &str) -> Option<String> {
    let folded = Folded::new(message);
    let value = if let Some(end) = message.find(" was not one of the allowed options") {
        Some(&message[..end])
    } else if let Some(rest) = folded
        .after("restricted picklist field:")
        .or_else(|| folded.after("value not of required type:"))
    {
        Some(rest.trim())
    } else if let Some(rest) = folded.after("cannot convert the literal '") {
        rest.split('\'').next()
    } else if let Some(rest) = folded.after("the value ") {
        rest.split(" of '")
            .next()
            .filter(|_| rest.contains(" of '"))
    } else {
        None
    }?;
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    (!value.is_empty() && value.chars().count() <= 60 && !value.contains(['{', '[', '\n']))
        .then(|| value.to_owned())
}

/// The format a message says a value must have, in words: an example it gives
/// (`Example of a valid format: +12345678901`), E.164, a date pattern (`YYYY-MM-DD`),
/// HubSpot's "not midnight" dates, or the OData type a value could not be converted to.
pub(crate) fn format_in(message: &str) -> Option<String> {
    let folded = Folded::new(message);
    if let Some(rest) = folded.after("example of a valid format:") {
        let example = rest
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == ')')
            .next()
            .unwrap_or_default();
        if !example.is_empty() && example.starts_with('+') {
            return Some(format!(
                "a phone number in international format, such as {example}"
            ));
        }
    }
    if folded.has("e.164") || folded.has("e164") {
        return Some(PHONE.to_owned());
    }
    for (pattern, lower) in [
        ("YYYY-MM-DD", "yyyy-mm-dd"),
        ("MM/DD/YYYY", "mm/dd/yyyy"),
        ("DD/MM/YYYY", "dd/mm/yyyy"),
        ("MM/DD", "mm/dd"),
        ("DD/MM", "dd/mm"),
    ] {
        if folded.has(lower) {
            return Some(format!("a date written as {pattern}"));
        }
    }
    if folded.has("not midnight") {
        return Some(MIDNIGHT_DATE.to_owned());
    }
    if folded.has("iso 8601") || folded.has("iso8601") {
        return Some(ISO_DATE.to_owned());
    }
    let edm = folded.after("expected type 'edm.")?;
    let type_name = edm.split('\'').next().unwrap_or_default();
    let words = match type_name {
        "Int16" | "Int32" | "Int64" => "a whole number",
        "Decimal" | "Double" | "Single" => "a number",
        "Boolean" => "true or false",
        "Date" | "DateTimeOffset" => ISO_DATE,
        "Guid" => "the id of an existing record",
        _ => return None,
    };
    Some(words.to_owned())
}

/// The longest value a message says a field takes, in characters: Salesforce's `(max
/// length=40)`, Dataverse's `maximum allowed length of '50'`, and the common `at most 50
/// characters` / `maximum length of 50` / `max 50 characters`.
pub(crate) fn max_length(message: &str) -> Option<usize> {
    let folded = Folded::new(message);
    const LEADS: [&str; 6] = [
        "max length=",
        "maximum allowed length of",
        "maximum length of",
        "maximum length is",
        "at most",
        "max ",
    ];
    LEADS.iter().find_map(|lead| {
        let rest = folded.after(lead)?;
        let digits: String = rest
            .trim_start()
            .trim_start_matches(['\'', '"'])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok().filter(|n| *n > 0)
    })
}

/// A phone number in E.164, in words.
pub(crate) const PHONE: &str =
    "a phone number in international format with the country code, such as +4512345678";
/// A date as ISO 8601 writes it, in words.
pub(crate) const ISO_DATE: &str = "a date written as YYYY-MM-DD, such as 2025-03-31";
/// A HubSpot date property: a date at midnight UTC.
pub(crate) const MIDNIGHT_DATE: &str =
    "a date without a time of day (midnight UTC), written as YYYY-MM-DD";

/// The format a field is expected in when the answer does not say: what the provider
/// documents for phone numbers and dates, from the field's name.
pub(crate) fn usual_format(provider: Option<Provider>, field: &str) -> Option<&'static str> {
    let f = field.to_ascii_lowercase();
    if ["phone", "mobile", "sms", "telephone", "whatsapp"]
        .iter()
        .any(|w| f.contains(w))
    {
        return Some(PHONE);
    }
    if provider == Some(Provider::Mailchimp) {
        if f == "birthday" {
            return Some("a birthday written as MM/DD, such as 03/31");
        }
        if f == "address" {
            return Some("a full address: street, city, state or region and postal code");
        }
    }
    if f.contains("date") || f.contains("birth") {
        return Some(match provider {
            Some(Provider::Hubspot | Provider::HubspotForms) => MIDNIGHT_DATE,
            _ => ISO_DATE,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn paths_normalise_to_their_last_segment() {
        for (raw, want) in [
            ("merge_fields.FNAME", Some("FNAME")),
            ("contacts[0].email", Some("email")),
            ("/data/attributes/email", Some("email")),
            ("fields.email", Some("email")),
            ("email_address", Some("email_address")),
            ("/data/attributes", None),
            ("/data/attributes/", None),
            ("", None),
            ("errors[0]", None),
            ("'fields.firstname'", Some("firstname")),
            ("items/0/Email", Some("Email")),
            ("/data/attributes/fieldValues/3", None),
            ("contacts[0].custom_fields.e2_T", Some("e2_T")),
        ] {
            assert_eq!(normalise(raw).as_deref(), want, "{raw}");
        }
    }

    use super::{
        closest, edit_distance, format_in, known_fields, option_list, refused_value, required_list,
        usual_format, PHONE,
    };
    use crate::provider::Provider;

    #[test]
    fn edit_distance_counts_inserts_deletes_replacements_and_swaps() {
        for (a, b, want) in [
            ("", "", 0),
            ("email", "email", 0),
            ("Email", "email", 0),
            ("emailadress1", "emailaddress1", 1),
            ("Emial", "Email", 1),
            ("fristname", "firstname", 1),
            ("telephon1", "telephone1", 1),
            ("lastnme", "lastname", 1),
            ("kitten", "sitting", 3),
            ("abc", "", 3),
            ("", "abc", 3),
            ("ca", "abc", 3),
        ] {
            assert_eq!(edit_distance(a, b), want, "{a} → {b}");
            assert_eq!(edit_distance(b, a), want, "{b} → {a}");
        }
    }

    #[test]
    fn the_closest_known_field_is_suggested_only_when_it_is_clearly_meant() {
        let dataverse = known_fields(Some(Provider::Dynamics));
        assert_eq!(closest("emailadress1", dataverse), Some("emailaddress1"));
        assert_eq!(closest("EmailAddress1", dataverse), Some("emailaddress1"));
        assert_eq!(
            closest("emailaddress1", dataverse),
            None,
            "known as written"
        );
        assert_eq!(closest("favouritecolour", dataverse), None);
        let salesforce = known_fields(Some(Provider::Salesforce));
        assert_eq!(closest("Emial", salesforce), Some("Email"));
        assert_eq!(closest("LeadSorce", salesforce), Some("LeadSource"));
        assert_eq!(closest("Favourite_Colour__c", salesforce), None);
        // Short names are left alone: one edit turns any of them into another.
        assert_eq!(closest("zap", &["zip", "tap"]), None);
        // Two candidates equally close: no guess.
        assert_eq!(closest("nane", &["name", "nine"]), None);
        // Mailchimp's merge tags.
        let mailchimp = known_fields(Some(Provider::Mailchimp));
        assert_eq!(closest("FNAM", mailchimp), Some("FNAME"));
        assert_eq!(closest("BIRTHDAYS", mailchimp), Some("BIRTHDAY"));
        assert!(known_fields(None).is_empty());
    }

    #[test]
    fn required_lists_name_every_field_and_read_email_address_as_email() {
        assert_eq!(
            required_list("Required fields were not provided: email_address"),
            ["email"]
        );
        assert_eq!(
            required_list("Required fields are missing: [LastName, Company]"),
            ["LastName", "Company"]
        );
        assert_eq!(
            required_list("required fields were not provided: FNAME, LNAME. Please check."),
            ["FNAME", "LNAME"]
        );
        assert!(required_list("Your merge fields were invalid.").is_empty());
        assert!(required_list("Required fields are missing: [").is_empty());
    }

    #[test]
    fn option_lists_are_read_from_dumps_lists_and_words() {
        let dump = "Maybe was not one of the allowed options: [label: \"Yes\"\nvalue: \"yes\"\ndisplay_order: 0\nhidden: false\nread_only: false\n, label: \"No\"\nvalue: \"no\"\ndisplay_order: 1\nhidden: false\n, label: \"Old\"\nvalue: \"old\"\ndisplay_order: 2\nhidden: true\n]";
        assert_eq!(option_list(dump), ["yes", "no"]);
        assert_eq!(
            option_list(
                "reports was not one of the allowed options: [PRODUCT_ISSUE, BILLING_ISSUE]"
            ),
            ["PRODUCT_ISSUE", "BILLING_ISSUE"]
        );
        assert_eq!(
            option_list("The value 9 of 'x' is outside the valid range. Accepted Values: 1,2,3"),
            ["1", "2", "3"]
        );
        assert_eq!(
            option_list("interest must be one of: newsletter, events or offers."),
            ["newsletter", "events", "offers"]
        );
        assert_eq!(
            option_list("Value must be one of the following: A, B"),
            ["A", "B"]
        );
        assert_eq!(
            option_list("with commas: allowed options: [label: \"5,000 - 10,000\"\nvalue: \"5,000 - 10,000\"\n]"),
            ["5,000 - 10,000"]
        );
        // A dump cut off by a read cap still gives the options it holds whole.
        assert_eq!(
            option_list("x was not one of the allowed options: [label: \"A\"\nvalue: \"a\"\n, label: \"B\"\nval"),
            ["a", "B"]
        );
        assert!(option_list("Property values were not valid").is_empty());
    }

    #[test]
    fn the_refused_value_is_read_from_the_message() {
        for (message, want) in [
            ("Maybe later was not one of the allowed options: [yes, no]", Some("Maybe later")),
            ("Lead Source: bad value for restricted picklist field: Playable Quiz", Some("Playable Quiz")),
            ("Annual Revenue: value not of required type: lots", Some("lots")),
            ("The value 7 of 'leadsourcecode' on record of type 'lead' is outside the valid range.", Some("7")),
            ("Cannot convert the literal 'twelve' to the expected type 'Edm.Int32'.", Some("twelve")),
            ("The value of 'x' is wrong", None),
            ("Property values were not valid", None),
        ] {
            assert_eq!(refused_value(message).as_deref(), want, "{message}");
        }
    }

    #[test]
    fn formats_are_read_from_the_words_or_known_from_the_field() {
        assert_eq!(
            format_in("Invalid phone number format (Example of a valid format: +12345678901)")
                .as_deref(),
            Some("a phone number in international format, such as +12345678901")
        );
        assert_eq!(format_in("must be in E.164 format").as_deref(), Some(PHONE));
        assert!(format_in("Date must be YYYY-MM-DD").is_some_and(|f| f.contains("YYYY-MM-DD")));
        assert!(
            format_in("1635535865 is at 22:18:55.865 UTC, not midnight!")
                .is_some_and(|f| f.contains("midnight UTC"))
        );
        assert_eq!(
            format_in("Cannot convert the literal 'x' to the expected type 'Edm.Int32'.")
                .as_deref(),
            Some("a whole number")
        );
        assert_eq!(
            format_in("Cannot convert the literal 'x' to the expected type 'Edm.Binary'."),
            None
        );
        assert_eq!(format_in("is invalid"), None);
        assert_eq!(
            usual_format(Some(Provider::Klaviyo), "phone_number"),
            Some(PHONE)
        );
        assert!(usual_format(Some(Provider::Mailchimp), "BIRTHDAY")
            .is_some_and(|f| f.contains("MM/DD")));
        assert!(usual_format(Some(Provider::Salesforce), "Birthdate")
            .is_some_and(|f| f.contains("YYYY-MM-DD")));
        assert_eq!(usual_format(None, "company"), None);
    }

    #[test]
    fn the_longest_value_is_read_from_the_message() {
        use super::max_length;
        for (message, want) in [
            ("First Name: data value too large: Maximilianus (max length=40)", Some(40)),
            ("The length of the 'firstname' attribute of the 'lead' entity exceeded the maximum allowed length of '50'.", Some(50)),
            ("must be at most 255 characters", Some(255)),
            ("Value is too long", None),
            ("max length=0", None),
        ] {
            assert_eq!(max_length(message), want, "{message}");
        }
    }
}
