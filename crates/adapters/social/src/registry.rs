//! The platform clients configured in this deployment, by provider.

use std::collections::HashMap;
use std::sync::Arc;

use multivio_domain::Provider;
use multivio_ports::platform::{CredentialLogin, OAuth1Client, OAuthClient, Platforms, Publisher};

/// The platform clients of this deployment.
#[derive(Default, Clone)]
pub struct Registry {
    oauth: HashMap<Provider, Arc<dyn OAuthClient>>,
    oauth1: HashMap<Provider, Arc<dyn OAuth1Client>>,
    logins: HashMap<Provider, Arc<dyn CredentialLogin>>,
    publishers: HashMap<Provider, Arc<dyn Publisher>>,
    sandboxed: HashMap<Provider, String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |m: Vec<&Provider>| m.into_iter().map(|p| p.as_str()).collect::<Vec<_>>();
        f.debug_struct("Registry")
            .field("oauth", &names(self.oauth.keys().collect()))
            .field("oauth1", &names(self.oauth1.keys().collect()))
            .field("logins", &names(self.logins.keys().collect()))
            .field("publishers", &names(self.publishers.keys().collect()))
            .field("sandboxed", &names(self.sandboxed.keys().collect()))
            .finish()
    }
}

impl Registry {
    /// No platform configured.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds an OAuth client for `provider`.
    pub fn with_oauth(mut self, provider: Provider, client: Arc<dyn OAuthClient>) -> Self {
        self.oauth.insert(provider, client);
        self
    }

    /// Adds an OAuth 1.0a client for `provider`.
    pub fn with_oauth1(mut self, provider: Provider, client: Arc<dyn OAuth1Client>) -> Self {
        self.oauth1.insert(provider, client);
        self
    }

    /// Adds a credential login for `provider`.
    pub fn with_login(mut self, provider: Provider, login: Arc<dyn CredentialLogin>) -> Self {
        self.logins.insert(provider, login);
        self
    }

    /// Notes that `provider` is pointed at the sandbox's fake at `url`.
    pub fn sandboxed(mut self, provider: Provider, url: impl Into<String>) -> Self {
        self.sandboxed.insert(provider, url.into());
        self
    }

    /// Adds a publisher for `provider`.
    pub fn with_publisher(mut self, provider: Provider, publisher: Arc<dyn Publisher>) -> Self {
        self.publishers.insert(provider, publisher);
        self
    }
}

impl Platforms for Registry {
    fn oauth(&self, provider: Provider) -> Option<Arc<dyn OAuthClient>> {
        self.oauth.get(&provider).cloned()
    }

    fn oauth1(&self, provider: Provider) -> Option<Arc<dyn OAuth1Client>> {
        self.oauth1.get(&provider).cloned()
    }

    fn credential_login(&self, provider: Provider) -> Option<Arc<dyn CredentialLogin>> {
        self.logins.get(&provider).cloned()
    }

    fn publisher(&self, provider: Provider) -> Option<Arc<dyn Publisher>> {
        self.publishers.get(&provider).cloned()
    }

    fn sandbox(&self, provider: Provider) -> Option<String> {
        self.sandboxed.get(&provider).cloned()
    }
}
