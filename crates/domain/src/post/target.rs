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
mod tests;
