//! A platform's own settings for a post, kept beside its text in `platform_content.<platform>`
//! (the keys other than `content` and `thread`): which Pinterest board, a YouTube title and
//! privacy, TikTok's privacy level, LinkedIn's visibility. They apply in either content mode.
//!
//! Other keys stay as the client gave them; the keys named here are checked when a post is
//! written ([`check`], from [`PostContent::parse`](super::PostContent::parse)) and read by the
//! publishers with the same parsers, so a post that reaches a platform carries settings it
//! takes. Every rule is one a JSON schema states (the API's document has them): `null` is the
//! same as absent, a text's length and characters are those of the value as given (its
//! surrounding white space is then trimmed; a blank text is none). The publishers read stored
//! settings leniently — surrounding white space trimmed before the checks, as an earlier
//! version of these rules accepted them — so that a post written then still goes out.
//!
//! | platform | key | value | default |
//! |---|---|---|---|
//! | LinkedIn | `visibility` | `PUBLIC`, `CONNECTIONS` (members only) | `PUBLIC` |
//! | Pinterest | `board_id` | the board's id (1–32 digits) | none: a board must be chosen |
//! | Pinterest | `title` | ≤ 100 characters, one line | none |
//! | Pinterest | `link` | an http(s) URL ≤ 2,048 characters without spaces, or `""` | none |
//! | TikTok | `privacy_level` | `PUBLIC_TO_EVERYONE`, `MUTUAL_FOLLOW_FRIENDS`, `FOLLOWER_OF_CREATOR`, `SELF_ONLY` | `PUBLIC_TO_EVERYONE` |
//! | TikTok | `disable_comment`, `disable_duet`, `disable_stitch` | booleans | `false` |
//! | YouTube | `title` | ≤ 100 characters, one line, no `<` `>` | the post's name |
//! | YouTube | `privacy_status` | `public`, `unlisted`, `private` | `public` |
//! | YouTube | `made_for_kids` | boolean | `false` |

use serde_json::{Map, Value};

use crate::error::{FieldError, field_path};
use crate::provider::Provider;

/// Where a key of a platform's content is, for error messages.
fn path(provider: Provider, key: &str) -> String {
    field_path(&[&"platform_content", &provider, &key])
}

/// Reads the settings of one platform, collecting every problem.
struct Reader<'a> {
    provider: Provider,
    extra: &'a Map<String, Value>,
    errors: Vec<FieldError>,
    /// Trims texts before checking them (reading what is stored, not what is written).
    lenient: bool,
}

impl<'a> Reader<'a> {
    fn new(provider: Provider, extra: &'a Map<String, Value>) -> Self {
        Self {
            provider,
            extra,
            errors: Vec::new(),
            lenient: false,
        }
    }

    fn lenient(provider: Provider, extra: &'a Map<String, Value>, lenient: bool) -> Self {
        Self {
            lenient,
            ..Self::new(provider, extra)
        }
    }

    /// A string setting, trimmed when reading leniently.
    fn given(&mut self, key: &str) -> Option<String> {
        let given = self.string(key)?;
        Some(if self.lenient {
            given.trim().to_owned()
        } else {
            given
        })
    }

    fn fail(&mut self, key: &str, reason: impl Into<String>) {
        self.errors
            .push(FieldError::new(path(self.provider, key), reason));
    }

    /// A string setting (absent or null: `None`).
    fn string(&mut self, key: &str) -> Option<String> {
        match self.extra.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail(key, "must be a string");
                None
            }
        }
    }

    /// A boolean setting (absent or null: `false`).
    fn flag(&mut self, key: &str) -> bool {
        match self.extra.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.fail(key, "must be true or false");
                false
            }
        }
    }

    /// One of `allowed` (absent: `None`).
    fn choice(&mut self, key: &str, allowed: &[&'static str]) -> Option<&'static str> {
        let given = self.string(key)?;
        match allowed.iter().find(|a| **a == given) {
            Some(found) => Some(*found),
            None => {
                self.fail(key, format!("must be one of {}", allowed.join(", ")));
                None
            }
        }
    }

    /// A text of at most `max` characters without control characters nor any of
    /// `forbidden`, trimmed (absent or blank: `None`).
    fn text(&mut self, key: &str, max: usize, forbidden: &[char]) -> Option<String> {
        let given = self.given(key)?;
        if given.chars().count() > max {
            self.fail(key, format!("must be at most {max} characters"));
            return None;
        }
        if given.chars().any(|c| c.is_control()) {
            self.fail(key, "must not contain control characters");
            return None;
        }
        if let Some(c) = given.chars().find(|c| forbidden.contains(c)) {
            self.fail(key, format!("must not contain `{c}`"));
            return None;
        }
        let trimmed = given.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }
}

/// Who sees a LinkedIn post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkedinVisibility {
    /// Anyone, on or off LinkedIn.
    #[default]
    Public,
    /// The member's connections only (not for organizations).
    Connections,
}

impl LinkedinVisibility {
    /// Every value's name.
    pub const NAMES: [&'static str; 2] = ["PUBLIC", "CONNECTIONS"];

    /// LinkedIn's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "PUBLIC",
            Self::Connections => "CONNECTIONS",
        }
    }
}

/// A LinkedIn post's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkedinOptions {
    /// Who sees it.
    pub visibility: LinkedinVisibility,
}

impl LinkedinOptions {
    /// Reads `platform_content.linkedin`'s settings.
    pub fn parse(extra: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = Reader::new(Provider::Linkedin, extra);
        let visibility = match r.choice("visibility", &LinkedinVisibility::NAMES) {
            Some("CONNECTIONS") => LinkedinVisibility::Connections,
            _ => LinkedinVisibility::Public,
        };
        r.finish(Self { visibility })
    }
}

/// A pin's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinterestOptions {
    /// The board the pin goes to.
    pub board_id: Option<String>,
    /// The pin's title.
    pub title: Option<String>,
    /// Where the pin leads.
    pub link: Option<String>,
}

impl PinterestOptions {
    /// Longest title.
    pub const MAX_TITLE: usize = 100;
    /// Longest board id (digits).
    pub const MAX_BOARD_ID: usize = 32;
    /// Longest link.
    pub const MAX_LINK: usize = 2048;

    /// Reads `platform_content.pinterest`'s stored settings (leniently: see the module).
    pub fn parse(extra: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        Self::read(extra, true)
    }

    fn read(extra: &Map<String, Value>, lenient: bool) -> Result<Self, Vec<FieldError>> {
        let mut r = Reader::lenient(Provider::Pinterest, extra, lenient);
        let board_id = r.given("board_id");
        if let Some(board) = &board_id
            && (board.is_empty()
                || board.len() > Self::MAX_BOARD_ID
                || !board.bytes().all(|b| b.is_ascii_digit()))
        {
            r.fail("board_id", "must be a Pinterest board id (digits)");
        }
        let title = r.text("title", Self::MAX_TITLE, &[]);
        let link = match r.given("link") {
            Some(link) if link.chars().any(|c| c.is_whitespace()) => {
                r.fail("link", "must not contain spaces");
                None
            }
            Some(link) if !link.is_empty() => {
                match crate::text::http_url(&path(Provider::Pinterest, "link"), &link) {
                    Ok(url) => Some(url),
                    Err(e) => {
                        r.errors.push(e);
                        None
                    }
                }
            }
            _ => None,
        };
        r.finish(Self {
            board_id,
            title,
            link,
        })
    }
}

/// Who may see a TikTok post (TikTok's `privacy_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiktokPrivacy {
    /// Everyone.
    PublicToEveryone,
    /// Friends (followers the creator follows back).
    MutualFollowFriends,
    /// Followers.
    FollowerOfCreator,
    /// Only the creator.
    SelfOnly,
}

impl TiktokPrivacy {
    /// Every level, TikTok's names in [`TiktokPrivacy::as_str`].
    pub const ALL: [TiktokPrivacy; 4] = [
        Self::PublicToEveryone,
        Self::MutualFollowFriends,
        Self::FollowerOfCreator,
        Self::SelfOnly,
    ];

    /// TikTok's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublicToEveryone => "PUBLIC_TO_EVERYONE",
            Self::MutualFollowFriends => "MUTUAL_FOLLOW_FRIENDS",
            Self::FollowerOfCreator => "FOLLOWER_OF_CREATOR",
            Self::SelfOnly => "SELF_ONLY",
        }
    }

    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::PublicToEveryone => "everyone",
            Self::MutualFollowFriends => "friends",
            Self::FollowerOfCreator => "followers",
            Self::SelfOnly => "only the creator",
        }
    }

    /// The level TikTok names `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A TikTok post's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TiktokOptions {
    /// Who may see it.
    pub privacy_level: TiktokPrivacy,
    /// No comments.
    pub disable_comment: bool,
    /// No duets.
    pub disable_duet: bool,
    /// No stitches.
    pub disable_stitch: bool,
}

impl TiktokOptions {
    /// Reads `platform_content.tiktok`'s settings.
    pub fn parse(extra: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = Reader::new(Provider::Tiktok, extra);
        let names: Vec<&'static str> = TiktokPrivacy::ALL.iter().map(|p| p.as_str()).collect();
        let privacy_level = r
            .choice("privacy_level", &names)
            .and_then(TiktokPrivacy::from_name)
            .unwrap_or(TiktokPrivacy::PublicToEveryone);
        let disable_comment = r.flag("disable_comment");
        let disable_duet = r.flag("disable_duet");
        let disable_stitch = r.flag("disable_stitch");
        r.finish(Self {
            privacy_level,
            disable_comment,
            disable_duet,
            disable_stitch,
        })
    }
}

/// Who may watch a YouTube video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YoutubePrivacy {
    /// Anyone.
    #[default]
    Public,
    /// Anyone with the link.
    Unlisted,
    /// The channel only.
    Private,
}

impl YoutubePrivacy {
    /// Every value's name.
    pub const NAMES: [&'static str; 3] = ["public", "unlisted", "private"];

    /// YouTube's name for it (`status.privacyStatus`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }
}

/// A YouTube video's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct YoutubeOptions {
    /// Its title (otherwise the post's name).
    pub title: Option<String>,
    /// Who may watch it.
    pub privacy_status: YoutubePrivacy,
    /// Made for children (`status.selfDeclaredMadeForKids`).
    pub made_for_kids: bool,
}

impl YoutubeOptions {
    /// Longest title.
    pub const MAX_TITLE: usize = 100;
    /// What a title may not contain.
    pub const FORBIDDEN: [char; 2] = ['<', '>'];

    /// Reads `platform_content.youtube`'s stored settings (leniently: see the module).
    pub fn parse(extra: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        Self::read(extra, true)
    }

    fn read(extra: &Map<String, Value>, lenient: bool) -> Result<Self, Vec<FieldError>> {
        let mut r = Reader::lenient(Provider::Youtube, extra, lenient);
        let title = r.text("title", Self::MAX_TITLE, &Self::FORBIDDEN);
        let privacy_status = match r.choice("privacy_status", &YoutubePrivacy::NAMES) {
            Some("unlisted") => YoutubePrivacy::Unlisted,
            Some("private") => YoutubePrivacy::Private,
            _ => YoutubePrivacy::Public,
        };
        let made_for_kids = r.flag("made_for_kids");
        r.finish(Self {
            title,
            privacy_status,
            made_for_kids,
        })
    }

    /// The title to send: the one set, else `fallback` (the post's name) made acceptable —
    /// `<` and `>` left out, cut to 100 characters; "Untitled" when nothing is left.
    pub fn title_or(&self, fallback: &str) -> String {
        if let Some(title) = &self.title {
            return title.clone();
        }
        let cleaned: String = fallback
            .chars()
            .filter(|c| !Self::FORBIDDEN.contains(c) && !c.is_control())
            .take(Self::MAX_TITLE)
            .collect();
        let trimmed = cleaned.trim();
        if trimmed.is_empty() {
            "Untitled".to_owned()
        } else {
            trimmed.to_owned()
        }
    }
}

/// Checks the settings `provider` reads from its content's other keys (none for the
/// platforms that read none), as a post is written: strictly (see the module).
pub fn check(provider: Provider, extra: &Map<String, Value>) -> Vec<FieldError> {
    let result = match provider {
        Provider::Linkedin => LinkedinOptions::parse(extra).map(drop),
        Provider::Pinterest => PinterestOptions::read(extra, false).map(drop),
        Provider::Tiktok => TiktokOptions::parse(extra).map(drop),
        Provider::Youtube => YoutubeOptions::read(extra, false).map(drop),
        _ => Ok(()),
    };
    result.err().unwrap_or_default()
}

#[cfg(test)]
mod tests;
