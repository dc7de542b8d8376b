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
    fn unknown_provider_names_the_choices() {
        let err = "mailchimpp".parse::<Provider>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"mailchimpp\""), "{text}");
        assert!(text.contains("campaign_monitor"), "{text}");
    }
}
