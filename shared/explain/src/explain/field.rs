//! Field paths as providers write them, normalised to the field's own name.

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
}
