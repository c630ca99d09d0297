//! The schemas of the values requests carry, built from the core's own limits
//! (`PostName::MAX_LEN`, `Provider::ALL`…): the OpenAPI document states them and
//! [`crate::input`] enforces them, so a value the document allows is one the core takes.
//!
//! Patterns are written in the common subset of ECMA-262, Python and Rust regular expressions
//! (explicit anchors, `\uXXXX` escapes, classes).

use std::borrow::Cow;

use multivio_domain::Provider;
use multivio_domain::media::AltText;
use multivio_domain::post::{MAX_CONTENT_CHARS, MAX_MEDIA_PER_POST, MAX_THREAD_PARTS, PostName};
use multivio_domain::user::Username;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// One line of text: no control characters.
pub const SINGLE_LINE: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

/// Text over several lines: no control characters but tabs and line breaks.
pub const MULTI_LINE: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// One line of text with at least one character that is not white space.
pub const NON_BLANK_LINE: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// A username (`a-z`, `0-9`, `_ . -`, starting with a letter or digit; letters are stored in
/// lower case), or the empty string, which clears it.
pub const USERNAME: &str = r"^([A-Za-z0-9][A-Za-z0-9_.-]{2,29})?$";

/// An `http(s)` URL naming a host, without white space or control characters, or the empty
/// string, which clears it.
pub const HTTP_URL_OR_EMPTY: &str =
    r"^(https?://[^/?#\s\u0000-\u001F\u007F-\u009F][^\s\u0000-\u001F\u007F-\u009F]*)?$";

/// An `https` URL of visible ASCII naming a host (without `@`), or the empty string.
pub const HTTPS_URL_OR_EMPTY: &str = r##"^(https://[!"$-.0->A-~]+([/?#][!-~]*)?)?$"##;

/// Visible ASCII only (a URL a `Location` header can carry as is).
pub const VISIBLE_ASCII: &str = r"^[!-~]*$";

/// 1–255 visible ASCII characters: an `Idempotency-Key`.
pub const IDEMPOTENCY_KEY: &str = r"^[!-~]{1,255}$";

/// Longest URL the core keeps.
pub const MAX_URL_CHARS: usize = 2048;

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// A string of at most `max` characters matching `pattern`.
fn text(max: usize, pattern: &str) -> ObjectBuilder {
    string().max_length(Some(max)).pattern(Some(pattern))
}

/// As [`text`], or `null`.
fn nullable_text(max: usize, pattern: &str) -> ObjectBuilder {
    nullable_string()
        .max_length(Some(max))
        .pattern(Some(pattern))
}

/// A post's name: 1–255 characters on one line, not blank.
pub fn post_name() -> Schema {
    text(PostName::MAX_LEN, NON_BLANK_LINE)
        .min_length(Some(1))
        .description(Some("Title: one line, not blank"))
        .build()
        .into()
}

/// A post's name in a patch (`null` is not a name: the field is simply kept when absent).
pub fn post_name_patch() -> Schema {
    post_name()
}

/// A post's text (in universal mode), or `null`.
pub fn nullable_content() -> Schema {
    nullable_string()
        .max_length(Some(MAX_CONTENT_CHARS))
        .pattern(Some(NO_NUL))
        .description(Some("The text"))
        .build()
        .into()
}

/// A post's or a part's text.
pub fn content() -> Schema {
    string()
        .max_length(Some(MAX_CONTENT_CHARS))
        .pattern(Some(NO_NUL))
        .description(Some("The text"))
        .build()
        .into()
}

/// Media ids of a post or a part (repeats count once).
pub fn media_ids() -> Schema {
    ArrayBuilder::new()
        .items(uuid())
        .max_items(Some(MAX_MEDIA_PER_POST))
        .description(Some("Media ids, in order"))
        .build()
        .into()
}

/// As [`media_ids`], or `null` (in a patch: keep the list).
pub fn nullable_media_ids() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(uuid())
        .max_items(Some(MAX_MEDIA_PER_POST))
        .description(Some("Media ids, in order (replace the list)"))
        .build()
        .into()
}

/// The parts of a thread after the first.
pub fn thread() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ThreadPartDto")))
        .max_items(Some(MAX_THREAD_PARTS - 1))
        .description(Some(
            "The parts after the first, each replying to the one before (at most 25 parts with the first)",
        ))
        .build()
        .into()
}

/// As [`thread`], or `null` (in a patch: keep the parts).
pub fn nullable_thread() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            "ThreadPartDto",
        )))
        .max_items(Some(MAX_THREAD_PARTS - 1))
        .description(Some(
            "The universal thread's parts after the first (replace the list)",
        ))
        .build()
        .into()
}

fn uuid() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}

/// A username, `null` or the empty string (both clear it).
pub fn username() -> Schema {
    nullable_string()
        .max_length(Some(Username::MAX_LEN))
        .pattern(Some(USERNAME))
        .description(Some(
            "Username, unique: 3–30 of `a-z 0-9 _ . -` starting with a letter or digit (stored in lower case); `null` or \"\" clears it",
        ))
        .build()
        .into()
}

/// A profile text of at most `max` characters; `null`, empty or blank clears it.
fn profile_text(max: usize, multiline: bool, what: &str) -> Schema {
    nullable_text(max, if multiline { MULTI_LINE } else { SINGLE_LINE })
        .description(Some(format!(
            "{what}: at most {max} characters{}; `null` or blank clears it",
            if multiline { "" } else { " on one line" }
        )))
        .build()
        .into()
}

/// A full name.
pub fn full_name() -> Schema {
    profile_text(255, false, "Full name")
}

/// A display name.
pub fn display_name() -> Schema {
    profile_text(100, false, "Display name")
}

/// A work description.
pub fn work_description() -> Schema {
    profile_text(255, false, "Work description")
}

/// A bio.
pub fn bio() -> Schema {
    profile_text(5000, true, "Bio")
}

/// An avatar URL.
pub fn avatar_url() -> Schema {
    nullable_text(MAX_URL_CHARS, HTTP_URL_OR_EMPTY)
        .description(Some("Avatar URL (http or https); `null` or \"\" clears it"))
        .build()
        .into()
}

/// A connection's label.
pub fn account_label() -> Schema {
    profile_text(255, false, "Label")
}

/// A file's alternative text.
pub fn alt_text() -> Schema {
    profile_text(AltText::MAX_LEN, true, "Alternative text")
}

/// A web client page to return to.
pub fn return_to() -> Schema {
    nullable_text(MAX_URL_CHARS, VISIBLE_ASCII)
        .description(Some(
            "Where to send the browser when the flow ends: a URL of an allowed web client origin (`MULTIVIO_CORS_ORIGINS`)",
        ))
        .build()
        .into()
}

/// The URL of a published post, when known.
pub fn published_url() -> Schema {
    nullable_text(MAX_URL_CHARS, HTTPS_URL_OR_EMPTY)
        .description(Some("The post's address: an https URL"))
        .build()
        .into()
}

/// A required secret or token: at least one character.
pub fn token() -> Schema {
    string().min_length(Some(1)).build().into()
}

/// The `Idempotency-Key` header.
pub fn idempotency_key() -> Schema {
    text(255, IDEMPOTENCY_KEY)
        .min_length(Some(1))
        .description(Some(
            "Repeat-safe key: 1–255 visible ASCII characters. A repeat with the same key and body answers the first answer (`idempotent-replayed: true`) and does nothing new",
        ))
        .build()
        .into()
}

/// A page size: any whole number, clamped to 1–100.
pub fn page_limit() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(u32::MAX))
        .description(Some(
            "Page size, 1–100 (default 20; other values are clamped)",
        ))
        .build()
        .into()
}

/// A page cursor: the previous page's `next_cursor`.
pub fn cursor() -> Schema {
    string()
        .description(Some("From the previous page's `next_cursor`"))
        .build()
        .into()
}

/// A platform's name as the API spells it: every platform of [`Provider::ALL`], and `x` for
/// X (also `twitter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformName(pub Provider);

impl PlatformName {
    /// Every accepted spelling.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        names.push("x");
        names
    }

    /// The platform a name (exactly as listed in [`PlatformName::names`]) stands for.
    pub fn parse(name: &str) -> Option<Provider> {
        if name == "x" {
            return Some(Provider::X);
        }
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl PartialSchema for PlatformName {
    fn schema() -> RefOr<Schema> {
        string()
            .enum_values(Some(Self::names()))
            .description(Some("A platform: `twitter` (X; `x` is accepted too), `facebook`, `instagram`, `linkedin`, `threads`, `bluesky`, `mastodon`, `pinterest`, `tiktok`, `youtube`"))
            .build()
            .into()
    }
}

impl ToSchema for PlatformName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PlatformName")
    }
}

/// A post status's name.
#[derive(Debug, Clone, Copy)]
pub struct PostStatusName;

impl PostStatusName {
    /// Every status.
    pub const NAMES: [&'static str; 6] = [
        "draft",
        "scheduled",
        "publishing",
        "published",
        "partially_published",
        "failed",
    ];
}

impl PartialSchema for PostStatusName {
    fn schema() -> RefOr<Schema> {
        string()
            .enum_values(Some(Self::NAMES))
            .description(Some("A post's status"))
            .build()
            .into()
    }
}

impl ToSchema for PostStatusName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PostStatusName")
    }
}

/// `universal` or `specific`.
pub fn content_mode() -> Schema {
    nullable_string()
        .enum_values(Some([Some("universal"), Some("specific"), None]))
        .description(Some(
            "`universal` (one text for all, the default) or `specific` (per platform)",
        ))
        .build()
        .into()
}

/// An upload's alternative text part (blank: none).
pub fn upload_alt_text() -> Schema {
    text(AltText::MAX_LEN, MULTI_LINE)
        .description(Some(format!(
            "Alternative text: at most {} characters; blank: none",
            AltText::MAX_LEN
        )))
        .build()
        .into()
}

/// A file's bytes in a multipart part.
pub fn file_bytes() -> Schema {
    string()
        .content_media_type("application/octet-stream")
        .description(Some(
            "The bytes (the type is read from them, never from the part's content type)",
        ))
        .build()
        .into()
}

/// Characters that are white space (Rust's `char::is_whitespace`) or control characters,
/// spelled out (the regular expression flavours disagree on `\s`).
const SPACE_OR_CONTROL: &str =
    r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The settings a platform reads from its content's other keys, as the core checks them
/// (`multivio_domain::post::options`); `null` is the same as absent. Platforms that read none
/// have none.
pub fn platform_options(provider: Provider) -> Vec<(&'static str, Schema)> {
    use multivio_domain::post::options::{
        LinkedinVisibility, PinterestOptions, TiktokPrivacy, YoutubeOptions, YoutubePrivacy,
    };
    let choice = |names: &[&'static str], description: &str| -> Schema {
        let values: Vec<Option<&str>> = names.iter().copied().map(Some).chain([None]).collect();
        nullable_string()
            .enum_values(Some(values))
            .description(Some(description))
            .build()
            .into()
    };
    let flag = |description: &str| -> Schema {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
            .description(Some(description))
            .build()
            .into()
    };
    // Length and characters as given; then trimmed, and blank is none.
    let title = |max: usize, pattern: &str, description: &str| -> Schema {
        nullable_text(max, pattern)
            .description(Some(description))
            .build()
            .into()
    };
    match provider {
        Provider::Linkedin => vec![(
            "visibility",
            choice(
                &LinkedinVisibility::NAMES,
                "Who sees the post: `PUBLIC` (the default) or `CONNECTIONS` (a member's connections)",
            ),
        )],
        Provider::Pinterest => vec![
            (
                "board_id",
                nullable_string()
                    .max_length(Some(PinterestOptions::MAX_BOARD_ID))
                    .pattern(Some(format!(
                        "^[0-9]{{1,{}}}$",
                        PinterestOptions::MAX_BOARD_ID
                    )))
                    .description(Some("The board the pin goes to (required to publish)"))
                    .build()
                    .into(),
            ),
            (
                "title",
                title(
                    PinterestOptions::MAX_TITLE,
                    SINGLE_LINE,
                    "The pin's title: one line; blank: none",
                ),
            ),
            (
                "link",
                nullable_text(
                    PinterestOptions::MAX_LINK,
                    &format!("^(https?://[^/?#{SPACE_OR_CONTROL}][^{SPACE_OR_CONTROL}]*)?$"),
                )
                .description(Some("Where the pin leads: an http(s) URL; \"\": none"))
                .build()
                .into(),
            ),
        ],
        Provider::Tiktok => {
            let names: Vec<&'static str> = TiktokPrivacy::ALL.iter().map(|p| p.as_str()).collect();
            vec![
                (
                    "privacy_level",
                    choice(&names, "Who may watch (default `PUBLIC_TO_EVERYONE`)"),
                ),
                ("disable_comment", flag("No comments (default false)")),
                ("disable_duet", flag("No duets (default false)")),
                ("disable_stitch", flag("No stitches (default false)")),
            ]
        }
        Provider::Youtube => vec![
            (
                "title",
                title(
                    YoutubeOptions::MAX_TITLE,
                    r"^[^\u0000-\u001F\u007F-\u009F<>]*$",
                    "The video's title: one line without `<` or `>`; blank: the post's name",
                ),
            ),
            (
                "privacy_status",
                choice(&YoutubePrivacy::NAMES, "Who may watch (default `public`)"),
            ),
            ("made_for_kids", flag("Made for children (default false)")),
        ],
        _ => Vec::new(),
    }
}

/// Text PostgreSQL can keep: anything but U+0000.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// Any JSON value the server can keep: no U+0000 in a string or a key (PostgreSQL refuses it),
/// and no list directly inside a list.
#[derive(Debug, Clone, Copy)]
pub struct JsonValue;

impl JsonValue {
    fn reference() -> RefOr<Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name("JsonValue"))
    }

    /// An object of such values (metadata, a platform's own keys), `nullable` or not.
    pub fn object(nullable: bool) -> ObjectBuilder {
        let types = if nullable {
            SchemaType::from_iter([Type::Object, Type::Null])
        } else {
            SchemaType::Type(Type::Object)
        };
        ObjectBuilder::new()
            .schema_type(types)
            .property_names(Some(string().pattern(Some(NO_NUL))))
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::RefOr(
                Self::reference(),
            )))
    }
}

impl PartialSchema for JsonValue {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::AnyOfBuilder;
        let scalar = || {
            ObjectBuilder::new().schema_type(SchemaType::from_iter([
                Type::Null,
                Type::Boolean,
                Type::Number,
            ]))
        };
        // A list holds values but no list directly: the recursion goes through objects only,
        // which keeps the type expressible for client generators.
        let item = AnyOfBuilder::new()
            .item(scalar())
            .item(string().pattern(Some(NO_NUL)))
            .item(Self::object(false));
        AnyOfBuilder::new()
            .item(scalar())
            .item(string().pattern(Some(NO_NUL)))
            .item(ArrayBuilder::new().items(item))
            .item(Self::object(false))
            .description(Some(
                "Any JSON value without U+0000 in its strings and keys, and without a list directly inside a list",
            ))
            .into()
    }
}

impl ToSchema for JsonValue {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("JsonValue")
    }
}

/// Metadata: an object of any keys, or `null`.
pub fn metadata() -> Schema {
    JsonValue::object(true)
        .description(Some("Hashtags, mentions, links… (an object of any keys)"))
        .build()
        .into()
}

/// A platform's server (`https://mastodon.social`), or `null`.
pub fn server_url() -> Schema {
    nullable_text(MAX_URL_CHARS, VISIBLE_ASCII)
        .description(Some(
            "The account's server, for a federated platform (Mastodon's instance, Bluesky's PDS): `https://mastodon.social`",
        ))
        .build()
        .into()
}

/// A handle, an email or an account id: one line, not blank.
pub fn identifier() -> Schema {
    string()
        .min_length(Some(1))
        .pattern(Some(NON_BLANK_LINE))
        .description(Some("Handle, email or account id"))
        .build()
        .into()
}
