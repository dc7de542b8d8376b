//! The destinations leadrelay knows by name.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A CRM, ESP or webhook destination whose answers the engine knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Mailchimp Marketing API v3.
    Mailchimp,
    /// HubSpot CRM (v3 objects API and the legacy v1 contacts API).
    Hubspot,
    /// HubSpot Forms submissions API.
    HubspotForms,
    /// Klaviyo (JSON:API).
    Klaviyo,
    /// SendGrid Marketing Contacts.
    Sendgrid,
    /// Brevo (formerly Sendinblue).
    Brevo,
    /// ActiveCampaign API v3.
    Activecampaign,
    /// Salesforce REST API.
    Salesforce,
    /// Mailjet API v3.
    Mailjet,
    /// Campaign Monitor API v3.
    CampaignMonitor,
    /// Microsoft Dynamics 365 / Dataverse Web API.
    Dynamics,
    /// The customer's own webhook.
    Webhook,
}

impl Provider {
    /// Every provider, in the order of the contract's table.
    pub const ALL: [Provider; 12] = [
        Provider::Mailchimp,
        Provider::Hubspot,
        Provider::HubspotForms,
        Provider::Klaviyo,
        Provider::Sendgrid,
        Provider::Brevo,
        Provider::Activecampaign,
        Provider::Salesforce,
        Provider::Mailjet,
        Provider::CampaignMonitor,
        Provider::Dynamics,
        Provider::Webhook,
    ];

    /// The wire form: `mailchimp`, `hubspot_forms`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Mailchimp => "mailchimp",
            Provider::Hubspot => "hubspot",
            Provider::HubspotForms => "hubspot_forms",
            Provider::Klaviyo => "klaviyo",
            Provider::Sendgrid => "sendgrid",
            Provider::Brevo => "brevo",
            Provider::Activecampaign => "activecampaign",
            Provider::Salesforce => "salesforce",
            Provider::Mailjet => "mailjet",
            Provider::CampaignMonitor => "campaign_monitor",
            Provider::Dynamics => "dynamics",
            Provider::Webhook => "webhook",
        }
    }

    /// The name a marketer knows it by: `Mailchimp`, `HubSpot Forms`, `your webhook`.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Mailchimp => "Mailchimp",
            Provider::Hubspot => "HubSpot",
            Provider::HubspotForms => "HubSpot Forms",
            Provider::Klaviyo => "Klaviyo",
            Provider::Sendgrid => "SendGrid",
            Provider::Brevo => "Brevo",
            Provider::Activecampaign => "ActiveCampaign",
            Provider::Salesforce => "Salesforce",
            Provider::Mailjet => "Mailjet",
            Provider::CampaignMonitor => "Campaign Monitor",
            Provider::Dynamics => "Dynamics 365",
            Provider::Webhook => "the webhook endpoint",
        }
    }
}

/// How an integration with a provider proves who it is: it picks the remedy when the
/// provider refuses the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// An API key the marketer copies from the provider's settings and pastes in.
    ApiKey,
    /// A private app's access token (HubSpot), copied from the app's page.
    AppToken,
    /// A user signed in once and leadrelay keeps that sign-in (OAuth refresh token,
    /// Salesforce): fixed by reconnecting.
    SignIn,
    /// An app registered in Microsoft Entra ID signs in with its client ID and secret
    /// (Dynamics 365).
    EntraApp,
    /// Whatever the customer's own endpoint expects (none, a user name and password, or a
    /// token).
    Endpoint,
}

impl Provider {
    /// How leadrelay's integration with this provider signs in (see each adapter in
    /// `shared/src/destination/`).
    pub fn auth_kind(self) -> AuthKind {
        match self {
            Provider::Mailchimp
            | Provider::Klaviyo
            | Provider::Sendgrid
            | Provider::Brevo
            | Provider::Activecampaign
            | Provider::Mailjet
            | Provider::CampaignMonitor => AuthKind::ApiKey,
            Provider::Hubspot | Provider::HubspotForms => AuthKind::AppToken,
            Provider::Salesforce => AuthKind::SignIn,
            Provider::Dynamics => AuthKind::EntraApp,
            Provider::Webhook => AuthKind::Endpoint,
        }
    }

    /// Where in the provider's own screens the key or token is made, for a remedy.
    pub fn key_location(self) -> Option<&'static str> {
        Some(match self {
            Provider::Mailchimp => "Profile → Extras → API keys",
            Provider::Klaviyo => "Settings → API keys",
            Provider::Sendgrid => "Settings → API Keys",
            Provider::Brevo => "SMTP & API → API keys",
            Provider::Activecampaign => "Settings → Developer",
            Provider::Mailjet => "Account settings → REST API keys",
            Provider::CampaignMonitor => "Account settings → API keys",
            Provider::Hubspot | Provider::HubspotForms => "Settings → Integrations → Private apps",
            Provider::Salesforce | Provider::Dynamics | Provider::Webhook => return None,
        })
    }

    /// Whether sending the same registration again leaves one contact: the adapter updates
    /// by email (or an external id), or the provider refuses a second copy. Not for a
    /// plain webhook, nor for a form submission, which is recorded each time.
    pub fn resend_keeps_one_contact(self) -> bool {
        !matches!(self, Provider::Webhook | Provider::HubspotForms)
    }

    /// What the integration writes to at the provider, for "could not find …" texts.
    pub fn target(self) -> &'static str {
        match self {
            Provider::Mailchimp => "audience",
            Provider::HubspotForms => "form",
            Provider::Hubspot | Provider::Salesforce | Provider::Dynamics => "object",
            Provider::Klaviyo
            | Provider::Sendgrid
            | Provider::Brevo
            | Provider::Activecampaign
            | Provider::Mailjet
            | Provider::CampaignMonitor => "list",
            Provider::Webhook => "address",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given is not a provider leadrelay knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown provider {:?}; expected one of: ", self.0)?;
        for (i, p) in Provider::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(p.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownProvider {}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_wire_forms_match_the_contract() {
        for p in Provider::ALL {
            let wire = serde_json::to_string(&p).unwrap();
            assert_eq!(wire, format!("\"{}\"", p.as_str()));
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        assert_eq!(Provider::HubspotForms.as_str(), "hubspot_forms");
        assert_eq!(Provider::CampaignMonitor.as_str(), "campaign_monitor");
    }

    #[test]
    fn sign_in_providers_are_told_from_key_providers() {
        assert_eq!(Provider::Salesforce.auth_kind(), AuthKind::SignIn);
        assert_eq!(Provider::Dynamics.auth_kind(), AuthKind::EntraApp);
        assert_eq!(Provider::Hubspot.auth_kind(), AuthKind::AppToken);
        assert_eq!(Provider::Mailchimp.auth_kind(), AuthKind::ApiKey);
        for p in Provider::ALL {
            let key_made_by_marketer =
                matches!(p.auth_kind(), AuthKind::ApiKey | AuthKind::AppToken);
            assert_eq!(p.key_location().is_some(), key_made_by_marketer, "{p}");
        }
        assert!(!Provider::Webhook.resend_keeps_one_contact());
        assert!(Provider::Salesforce.resend_keeps_one_contact());
    }

    #[test]
    fn unknown_provider_names_the_choices() {
        let err = "mailchimpp".parse::<Provider>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"mailchimpp\""), "{text}");
        assert!(text.contains("campaign_monitor"), "{text}");
    }
}
