//! Where a post goes: its targets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::FieldError;
use crate::ids::ConnectionId;
use crate::provider::Provider;

/// One destination of a post: a platform, and optionally which of the user's accounts on it.
/// Without a connection the post goes to the provider's primary connection at publish time.
///
/// On the wire (and in the `posts.platforms` JSONB array) a target without a connection is the
/// plain provider name, `"twitter"`, exactly as the seed stores platforms; one with a connection
/// is an object, `{"platform": "twitter", "connection_id": "…"}`. Both forms can be mixed in one
/// array, so old rows stay readable and simple clients can keep sending names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// The platform.
    pub provider: Provider,
    /// The account, or `None` for the provider's primary.
    pub connection_id: Option<ConnectionId>,
}

impl Target {
    /// The provider's primary account.
    pub fn primary(provider: Provider) -> Self {
        Self {
            provider,
            connection_id: None,
        }
    }

    /// A specific account.
    pub fn account(provider: Provider, connection_id: ConnectionId) -> Self {
        Self {
            provider,
            connection_id: Some(connection_id),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.connection_id {
            None => write!(f, "{}", self.provider),
            Some(id) => write!(f, "{}:{id}", self.provider),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TargetRepr {
    Name(Provider),
    Account {
        platform: Provider,
        #[serde(default)]
        connection_id: Option<ConnectionId>,
    },
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.connection_id {
            None => TargetRepr::Name(self.provider),
            Some(id) => TargetRepr::Account {
                platform: self.provider,
                connection_id: Some(id),
            },
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match TargetRepr::deserialize(deserializer)? {
            TargetRepr::Name(provider) => Target::primary(provider),
            TargetRepr::Account {
                platform,
                connection_id,
            } => Target {
                provider: platform,
                connection_id,
            },
        })
    }
}

/// A post's targets: no target twice, and for each provider either its primary (one bare entry)
/// or explicit accounts — never both, because the primary could be one of the explicit accounts
/// and the post would go out twice. May be empty while the post is a draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Targets(Vec<Target>);

impl Targets {
    /// Validates a list of targets; exact repeats are dropped (first occurrence kept).
    pub fn new(targets: Vec<Target>) -> Result<Self, FieldError> {
        let mut seen = BTreeSet::new();
        let mut kept: Vec<Target> = Vec::with_capacity(targets.len());
        for target in targets {
            if seen.insert(target) {
                kept.push(target);
            }
        }
        let mut by_provider: BTreeMap<Provider, (bool, bool)> = BTreeMap::new();
        for t in &kept {
            let entry = by_provider.entry(t.provider).or_default();
            if t.connection_id.is_some() {
                entry.1 = true;
            } else {
                entry.0 = true;
            }
        }
        if let Some((p, _)) = by_provider
            .iter()
            .find(|(_, (bare, explicit))| *bare && *explicit)
        {
            return Err(FieldError::new(
                "platforms",
                format!("{p} is selected both as the primary account and as specific accounts"),
            ));
        }
        Ok(Self(kept))
    }

    /// No targets.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The targets, in the order given.
    pub fn as_slice(&self) -> &[Target] {
        &self.0
    }

    /// Iterates over the targets.
    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.0.iter()
    }

    /// Whether there is no target.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list contains `target`.
    pub fn contains(&self, target: &Target) -> bool {
        self.0.contains(target)
    }

    /// The distinct providers targeted.
    pub fn providers(&self) -> BTreeSet<Provider> {
        self.0.iter().map(|t| t.provider).collect()
    }

    /// The key of a target's entry in `publish_results`: the provider name when it is the only
    /// target of its provider, otherwise its connection id (as the API documents).
    pub fn result_key(&self, target: &Target) -> String {
        let same_provider = self
            .0
            .iter()
            .filter(|t| t.provider == target.provider)
            .count();
        match target.connection_id {
            Some(id) if same_provider > 1 => id.to_string(),
            _ => target.provider.as_str().to_owned(),
        }
    }

    /// Every target with its result key.
    pub fn keyed(&self) -> Vec<(String, Target)> {
        self.0.iter().map(|t| (self.result_key(t), *t)).collect()
    }

    /// The target whose result key is `key`.
    pub fn by_key(&self, key: &str) -> Option<Target> {
        self.0.iter().find(|t| self.result_key(t) == key).copied()
    }
}

impl<'de> Deserialize<'de> for Targets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<Target>::deserialize(deserializer)?;
        Targets::new(list).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn cid(n: u128) -> ConnectionId {
        ConnectionId(Uuid::from_u128(n))
    }

    #[test]
    fn serialises_names_and_objects() {
        let t = Targets::new(vec![
            Target::primary(Provider::X),
            Target::account(Provider::Mastodon, cid(1)),
        ])
        .unwrap();
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!(["twitter", {"platform": "mastodon",
                "connection_id": "00000000-0000-0000-0000-000000000001"}])
        );
        let back: Targets = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn reads_the_seed_form_and_the_x_alias() {
        let t: Targets =
            serde_json::from_str(r#"["x", "linkedin", {"platform": "bluesky"}]"#).unwrap();
        assert_eq!(
            t.as_slice(),
            &[
                Target::primary(Provider::X),
                Target::primary(Provider::Linkedin),
                Target::primary(Provider::Bluesky)
            ]
        );
        assert!(serde_json::from_str::<Targets>(r#"["myspace"]"#).is_err());
    }

    #[test]
    fn duplicates_are_dropped_and_mixing_is_rejected() {
        let t = Targets::new(vec![
            Target::primary(Provider::X),
            Target::primary(Provider::X),
            Target::account(Provider::Threads, cid(1)),
            Target::account(Provider::Threads, cid(1)),
        ])
        .unwrap();
        assert_eq!(t.len(), 2);
        let err = Targets::new(vec![
            Target::primary(Provider::X),
            Target::account(Provider::X, cid(2)),
        ])
        .unwrap_err();
        assert_eq!(err.field, "platforms");
        assert!(serde_json::from_str::<Targets>(
            r#"["twitter", {"platform": "twitter", "connection_id": "00000000-0000-0000-0000-000000000002"}]"#
        )
        .is_err());
    }

    #[test]
    fn result_keys_use_the_platform_unless_it_has_several_accounts() {
        let t = Targets::new(vec![
            Target::primary(Provider::X),
            Target::account(Provider::Mastodon, cid(1)),
            Target::account(Provider::Mastodon, cid(2)),
            Target::account(Provider::Bluesky, cid(3)),
        ])
        .unwrap();
        let keys: Vec<String> = t.keyed().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "twitter",
                &cid(1).to_string(),
                &cid(2).to_string(),
                "bluesky"
            ]
        );
        assert_eq!(
            t.by_key("bluesky"),
            Some(Target::account(Provider::Bluesky, cid(3)))
        );
        assert_eq!(t.by_key("facebook"), None);
        assert_eq!(t.providers().len(), 3);
    }
}
