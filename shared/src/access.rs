//! Who may do what: the role of an account key, the campaigns it is restricted to,
//! whether it sees personal data, and the check every route makes.
//!
//! | role | may |
//! |---|---|
//! | `admin` | everything in its account: keys, campaigns, integrations and credentials, erasures, the audit log, and all an operator may |
//! | `operator` | read everything, resend and retry deliveries, test-send an integration; no change of integrations, credentials, campaigns or keys |
//! | `viewer` | read logs, deliveries and summaries; personal data (email, names, phone, answers) masked unless the key was granted it |
//!
//! Any key may be restricted to listed campaigns: it then sees and acts on those
//! campaigns only, and everything else answers 404, as if it did not exist (the same
//! answer another account's data gets, so a restricted key learns nothing about the
//! rest). What spans the account (creating campaigns or integrations, changing an
//! integration other campaigns may use, erasures by address, the audit log) needs an
//! unrestricted key: 403.
//!
//! Account keys stored before roles existed read as unrestricted `admin` keys. A
//! platform key (`lr_pk_`, made by `leadrelay admin bootstrap --platform`) creates
//! accounts and their first admin key, and nothing else: it reads no account's data.

use crate::erasure::{erase_attempt, personal_values, REDACTED};
use crate::ids::CampaignId;
use crate::model::{ApiKey, KeyKind};
use crate::store::RegistrationLog;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an account key may do in its account.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads logs; personal data masked unless granted.
    Viewer,
    /// Reads, resends and retries; changes no configuration.
    Operator,
    /// Everything in its account.
    #[default]
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// An account key's rights: its role, the campaigns it is restricted to (none listed:
/// the whole account), and whether a viewer sees personal data. Stored with the key;
/// a key stored without it is an unrestricted admin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Its role.
    #[serde(default)]
    pub role: Role,
    /// The campaigns it may see and act on; empty for every campaign of the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<CampaignId>,
    /// Whether a viewer sees personal data (admins and operators always do).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal_data: bool,
}

impl Access {
    /// Is it limited to listed campaigns?
    pub fn is_restricted(&self) -> bool {
        !self.campaigns.is_empty()
    }

    /// May it see and act on this campaign?
    pub fn sees(&self, campaign: &CampaignId) -> bool {
        !self.is_restricted() || self.campaigns.contains(campaign)
    }

    /// Does it see email addresses, names, phone numbers and answers?
    pub fn sees_personal_data(&self) -> bool {
        self.role != Role::Viewer || self.personal_data
    }

    /// Does it hold every right of `other` (so a key with these rights may make a key
    /// with `other`'s)? Role, campaigns and personal data are each compared.
    pub fn covers(&self, other: &Access) -> bool {
        let campaigns = !self.is_restricted()
            || (other.is_restricted() && other.campaigns.iter().all(|c| self.sees(c)));
        self.role >= other.role
            && campaigns
            && (self.sees_personal_data() || !other.sees_personal_data())
    }
}

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// An account key of at least this role.
    Role(Role),
    /// An account key of at least this role, not restricted to campaigns (the route
    /// spans the account).
    Unrestricted(Role),
    /// The platform key.
    Platform,
}

impl Need {
    /// Any account key may read.
    pub const READ: Need = Need::Role(Role::Viewer);

    /// The kind of key it names in a refusal: `viewer`, `operator`, `admin`, `platform`.
    pub fn role_name(self) -> &'static str {
        match self {
            Need::Role(r) | Need::Unrestricted(r) => r.as_str(),
            Need::Platform => "platform",
        }
    }
}

/// Why a key may not call a route (a 403 naming what it needs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Refusal {
    /// The role the route needs (`operator`, `admin`, `platform`).
    pub needed: &'static str,
    /// What the caller reads: what is needed, and what this key is.
    pub detail: String,
}

/// May `key` call a route that needs `need`?
pub fn authorize(key: &ApiKey, need: Need) -> Result<(), Refusal> {
    let needed = need.role_name();
    let what = match key.kind {
        KeyKind::Platform => "a platform key".to_owned(),
        KeyKind::Ingest => "an ingest key".to_owned(),
        KeyKind::Account if key.access.is_restricted() => {
            format!("{} key restricted to campaigns", a_role(key.access.role))
        }
        KeyKind::Account => format!("{} key", a_role(key.access.role)),
    };
    let refuse = |detail: String| Err(Refusal { needed, detail });
    match (need, key.kind) {
        (Need::Platform, KeyKind::Platform) => Ok(()),
        (Need::Platform, _) => refuse(format!(
            "this route needs the platform key (made by `leadrelay admin bootstrap --platform`); this is {what}"
        )),
        (Need::Role(r) | Need::Unrestricted(r), KeyKind::Account) if key.access.role < r => {
            refuse(format!("this route needs {} key; this is {what}", with_article(r)))
        }
        (Need::Unrestricted(r), KeyKind::Account) if key.access.is_restricted() => refuse(format!(
            "this route spans the whole account: it needs {} key not restricted to campaigns; this is {what}",
            with_article(r)
        )),
        (_, KeyKind::Account) => Ok(()),
        (Need::Role(r) | Need::Unrestricted(r), _) => refuse(format!(
            "this route needs {} key; this is {what}, which reads no account's data",
            with_article(r)
        )),
    }
}

/// The role with its article: "a viewer", "an operator", "an admin".
fn a_role(role: Role) -> &'static str {
    match role {
        Role::Viewer => "a viewer",
        Role::Operator => "an operator",
        Role::Admin => "an admin",
    }
}

fn with_article(role: Role) -> &'static str {
    match role {
        Role::Viewer => "an account",
        Role::Operator => "an operator or admin",
        Role::Admin => "an admin",
    }
}

/// What replaces a personal value a key may not see.
pub const MASKED: &str = "[masked]";

/// The log with the person's data masked, as a viewer without personal data reads it:
/// email, names, phone and every answer become [`MASKED`] (consent answers and times
/// stay), and each attempt loses what could identify the person, as erasure removes it
/// (the response body excerpt, request paths, values quoted in messages).
pub fn mask_log(log: &RegistrationLog) -> RegistrationLog {
    let mut log = log.clone();
    let data = &mut log.registration.data;
    let values = personal_values(data);
    for v in [
        &mut data.email,
        &mut data.first_name,
        &mut data.last_name,
        &mut data.phone,
    ]
    .into_iter()
    .flatten()
    {
        *v = MASKED.to_owned();
    }
    for v in data.fields.values_mut() {
        *v = Value::from(MASKED);
    }
    for attempt in &mut log.attempts {
        let before = attempt.clone();
        erase_attempt(attempt, &values);
        let v = &mut attempt.verdict;
        for (text, was) in [
            (&mut v.explanation, &before.verdict.explanation),
            (&mut v.remedy, &before.verdict.remedy),
        ] {
            if !was.contains(REDACTED) {
                *text = text.replace(REDACTED, MASKED);
            }
        }
        if let (Some(m), Some(was)) = (&mut v.message, &before.verdict.message) {
            if !was.contains(REDACTED) {
                *m = m.replace(REDACTED, MASKED);
            }
        }
    }
    log
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::{AccountId, KeyId};

    fn key(kind: KeyKind, role: Role, campaigns: Vec<CampaignId>) -> ApiKey {
        ApiKey {
            id: KeyId::generate(),
            kind,
            account_id: AccountId::generate(),
            campaign_id: None,
            hash: String::new(),
            hint: String::new(),
            created_at: 0,
            access: Access {
                role,
                campaigns,
                personal_data: false,
            },
        }
    }

    #[test]
    fn each_role_is_let_in_where_it_may_and_refused_naming_the_role_needed() {
        let needs = [
            Need::READ,
            Need::Role(Role::Operator),
            Need::Role(Role::Admin),
            Need::Unrestricted(Role::Admin),
            Need::Platform,
        ];
        let c = CampaignId::generate();
        // (key, what each need answers: Ok or the role named in the refusal)
        let table: [(ApiKey, [Result<(), &str>; 5]); 6] = [
            (
                key(KeyKind::Account, Role::Admin, vec![]),
                [Ok(()), Ok(()), Ok(()), Ok(()), Err("platform")],
            ),
            (
                key(KeyKind::Account, Role::Admin, vec![c.clone()]),
                [Ok(()), Ok(()), Ok(()), Err("admin"), Err("platform")],
            ),
            (
                key(KeyKind::Account, Role::Operator, vec![]),
                [Ok(()), Ok(()), Err("admin"), Err("admin"), Err("platform")],
            ),
            (
                key(KeyKind::Account, Role::Viewer, vec![]),
                [
                    Ok(()),
                    Err("operator"),
                    Err("admin"),
                    Err("admin"),
                    Err("platform"),
                ],
            ),
            (
                key(KeyKind::Platform, Role::Admin, vec![]),
                [
                    Err("viewer"),
                    Err("operator"),
                    Err("admin"),
                    Err("admin"),
                    Ok(()),
                ],
            ),
            (
                key(KeyKind::Ingest, Role::Admin, vec![]),
                [
                    Err("viewer"),
                    Err("operator"),
                    Err("admin"),
                    Err("admin"),
                    Err("platform"),
                ],
            ),
        ];
        for (k, expected) in table {
            for (need, want) in needs.iter().zip(expected) {
                let got = authorize(&k, *need);
                match want {
                    Ok(()) => assert!(got.is_ok(), "{:?} {:?} {need:?}: {got:?}", k.kind, k.access),
                    Err(role) => {
                        let refusal = got.unwrap_err();
                        assert_eq!(refusal.needed, role, "{:?} {need:?}", k.access);
                        assert!(!refusal.detail.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn a_key_never_makes_a_key_with_more_rights_than_its_own() {
        let (a, b) = (CampaignId::generate(), CampaignId::generate());
        let access = |role, campaigns: &[&CampaignId], personal_data| Access {
            role,
            campaigns: campaigns.iter().map(|c| (*c).clone()).collect(),
            personal_data,
        };
        let admin = access(Role::Admin, &[], false);
        let admin_a = access(Role::Admin, &[&a], false);
        let viewer = access(Role::Viewer, &[], false);
        let viewer_pd = access(Role::Viewer, &[], true);

        assert!(admin.covers(&admin));
        assert!(admin.covers(&access(Role::Viewer, &[&a, &b], true)));
        assert!(admin_a.covers(&access(Role::Operator, &[&a], false)));
        assert!(!admin_a.covers(&admin), "restricted makes unrestricted");
        assert!(!admin_a.covers(&access(Role::Viewer, &[&a, &b], false)));
        assert!(!viewer.covers(&access(Role::Operator, &[], false)));
        assert!(!viewer.covers(&viewer_pd), "personal data not held");
        assert!(viewer_pd.covers(&viewer));
        assert!(access(Role::Operator, &[], false).covers(&viewer_pd));
    }

    #[test]
    fn restricted_keys_see_only_their_campaigns_and_viewers_see_no_personal_data() {
        let (a, b) = (CampaignId::generate(), CampaignId::generate());
        let restricted = Access {
            role: Role::Operator,
            campaigns: vec![a.clone()],
            personal_data: false,
        };
        assert!(restricted.sees(&a) && !restricted.sees(&b));
        assert!(Access::default().sees(&b));
        assert!(restricted.sees_personal_data());
        let viewer = Access {
            role: Role::Viewer,
            ..Access::default()
        };
        assert!(!viewer.sees_personal_data());
        assert!(Access {
            personal_data: true,
            ..viewer
        }
        .sees_personal_data());
    }

    #[test]
    fn keys_stored_before_roles_read_as_unrestricted_admins() {
        let old = r#"{"id":"key_0123456789abcdefghjkmnpqrs","kind":"account","account_id":"acc_0123456789abcdefghjkmnpqrs","campaign_id":null,"hash":"ab","hint":"WXYZ","created_at":1}"#;
        let k: ApiKey = serde_json::from_str(old).unwrap();
        assert_eq!(k.kind, KeyKind::Account);
        assert_eq!(k.access, Access::default());
        assert_eq!(k.access.role, Role::Admin);
        assert!(!k.access.is_restricted());
        assert!(authorize(&k, Need::Unrestricted(Role::Admin)).is_ok());
        // And the wire form of a role is pinned.
        for role in Role::ALL {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!(
            serde_json::to_value(&k.access).unwrap(),
            serde_json::json!({"role": "admin"})
        );
    }
}
