//! What every destination shares: the field mapping, conditions, consent, the
//! existing-contact policy and the overridable API base URL.
//!
//! Every provider adapter reads these settings the same way, so a marketer learns them
//! once. The registration is read as [`RegistrationData::flat`] names: `email`,
//! `first_name`, `last_name`, `phone`, `consent.<purpose>` and the campaign's own field
//! names.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `fields` | object: provider field → registration field name (`"FNAME": "first_name"`), `{"value": …}` for a static value (`"SOURCE": {"value": "winter-quiz"}`), or `null` to drop one of the provider's default mappings | each provider's defaults (its module says which) |
//! | `conditions` | list of `{"field": …, "equals": …}`, `{"field": …, "not_equals": …}`, `{"field": …, "in": [...]}`, `{"field": …, "is_set": true\|false}`; all must hold | deliver everything |
//! | `consent_field` | the registration field that says the person agreed to marketing | `consent.marketing` |
//! | `existing_contact` | `update` (create or update), `create_only` (create; an existing contact is left as it is and the attempt reads `duplicate`) | `update` |
//! | `base_url` | `https://…` replacing the provider's API origin (sandboxes, regional hosts, tests); the API's own paths are appended | the provider's |
//!
//! Mapped values are sent as they are (text, numbers, yes/no); a registration field that
//! is absent or empty is not sent at all, so it never blanks what the provider holds.
//! Conditions compare text without regard to case or surrounding blanks, and numbers
//! by value (`"8"` equals `8`).
//!
//! "Skip existing contacts" is what `create_only` does: none of these APIs can leave an
//! existing contact untouched other than by refusing a create, and that refusal is
//! recorded as a benign `duplicate`. Providers whose API only upserts (SendGrid, HubSpot
//! Forms, Campaign Monitor), or whose create call cannot carry the fields and lists
//! (Mailjet), accept `update` alone.
//!
//! [`RegistrationData::flat`]: crate::model::RegistrationData::flat

mod conditions;
mod consent;
mod fields;
mod request;
mod settings;

pub use conditions::{conditions, unmet, Condition};
pub use consent::{check_opt_out_field, consent, consent_field, consent_in, set_opt_out};
pub use fields::{as_text, bool_as_text, FieldMap, Source};
pub use request::{
    form_body, form_headers, is_api_version, json_body, json_headers, path_segment, secret_header,
};
pub use settings::{
    base_url, check_id_list, check_url_setting, existing, id_list, new_credential,
    require_credential, required_text, text, text_list, typed, validate_common, Common, Existing,
    SHARED_SETTINGS,
};

/// A JSON object's map, for the tests of the shared settings.
#[cfg(test)]
fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}
