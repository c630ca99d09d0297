//! An `app.bsky.feed.post` record checked against its lexicon, and against what the fake holds
//! (uploaded blobs, the posts a reply names).

use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

use super::{IMAGE_MAX_SIZE, POST, Refusal, State, error, invalid};

/// Longest text: 300 graphemes, 3000 bytes.
pub const MAX_GRAPHEMES: usize = 300;
pub const MAX_TEXT_BYTES: usize = 3000;
/// Most images, and most languages.
const MAX_IMAGES: usize = 4;
const MAX_LANGS: usize = 3;
/// Longest tag: 64 graphemes, 640 bytes.
const MAX_TAG_GRAPHEMES: usize = 64;
const MAX_TAG_BYTES: usize = 640;

/// A lexicon violation, in the reference PDS's words.
fn violation(issue: impl std::fmt::Display, at: &str) -> Refusal {
    invalid(format!("Invalid {POST} record: {issue} at $.record{at}"))
}

fn missing(at: &str, property: &str) -> Refusal {
    invalid(format!(
        "Invalid {POST} record: Record{at} must have the property \"{property}\""
    ))
}

fn string<'a>(value: &'a Value, key: &str, at: &str) -> Result<&'a str, Refusal> {
    match value.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(violation("expected a string", &format!("{at}.{key}"))),
        None => Err(missing(at, key)),
    }
}

fn integer(value: &Value, key: &str, at: &str) -> Result<u64, Refusal> {
    match value.get(key) {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| violation("expected a non-negative integer", &format!("{at}.{key}"))),
        None => Err(missing(at, key)),
    }
}

/// Checks a post record of the account `did`.
pub(super) fn post(s: &State, did: &str, record: &Value) -> Result<(), Refusal> {
    let text = string(record, "text", "")?;
    let graphemes = text.graphemes(true).count();
    if graphemes > MAX_GRAPHEMES {
        return Err(violation(
            format!("grapheme too big (maximum {MAX_GRAPHEMES}, got {graphemes})"),
            ".text",
        ));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(violation(
            format!(
                "string too big (maximum {MAX_TEXT_BYTES}, got {})",
                text.len()
            ),
            ".text",
        ));
    }
    let created_at = string(record, "createdAt", "")?;
    if chrono::DateTime::parse_from_rfc3339(created_at).is_err() {
        return Err(violation("invalid datetime", ".createdAt"));
    }
    if let Some(langs) = record.get("langs") {
        let langs = langs
            .as_array()
            .ok_or_else(|| violation("expected an array", ".langs"))?;
        if langs.len() > MAX_LANGS {
            return Err(violation(
                format!("array too long (maximum {MAX_LANGS}, got {})", langs.len()),
                ".langs",
            ));
        }
        if langs.iter().any(|l| l.as_str().is_none_or(str::is_empty)) {
            return Err(violation("invalid language", ".langs"));
        }
    }
    if text.is_empty() && record.get("embed").is_none() {
        return Err(violation("empty text needs an embed", ".text"));
    }
    if let Some(facets) = record.get("facets") {
        facets_of(text, facets)?;
    }
    if let Some(embed) = record.get("embed") {
        images(s, did, embed)?;
    }
    if let Some(reply) = record.get("reply") {
        reply_of(s, reply)?;
    }
    Ok(())
}

fn facets_of(text: &str, facets: &Value) -> Result<(), Refusal> {
    let facets = facets
        .as_array()
        .ok_or_else(|| violation("expected an array", ".facets"))?;
    for (i, facet) in facets.iter().enumerate() {
        let at = format!(".facets[{i}]");
        let index = facet.get("index").ok_or_else(|| missing(&at, "index"))?;
        let index_at = format!("{at}.index");
        let start = integer(index, "byteStart", &index_at)? as usize;
        let end = integer(index, "byteEnd", &index_at)? as usize;
        if start > end || end > text.len() {
            return Err(violation(
                format!(
                    "byte range {start}..{end} is outside the text ({} bytes)",
                    text.len()
                ),
                &index_at,
            ));
        }
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return Err(violation(
                format!("byte range {start}..{end} cuts a character"),
                &index_at,
            ));
        }
        let features = facet
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| missing(&at, "features"))?;
        if features.is_empty() {
            return Err(violation(
                "a facet needs a feature",
                &format!("{at}.features"),
            ));
        }
        for (j, feature) in features.iter().enumerate() {
            let at = format!("{at}.features[{j}]");
            match string(feature, "$type", &at)? {
                "app.bsky.richtext.facet#link" => {
                    let uri = string(feature, "uri", &at)?;
                    if url::Url::parse(uri).is_err() {
                        return Err(violation("invalid uri", &format!("{at}.uri")));
                    }
                }
                "app.bsky.richtext.facet#mention" => {
                    let did = string(feature, "did", &at)?;
                    if !did.starts_with("did:") || did.len() < 8 {
                        return Err(violation("invalid did", &format!("{at}.did")));
                    }
                }
                "app.bsky.richtext.facet#tag" => {
                    let tag = string(feature, "tag", &at)?;
                    let graphemes = tag.graphemes(true).count();
                    if tag.is_empty() || graphemes > MAX_TAG_GRAPHEMES || tag.len() > MAX_TAG_BYTES
                    {
                        return Err(violation(
                            format!("tag length out of range (1 to {MAX_TAG_GRAPHEMES} graphemes)"),
                            &format!("{at}.tag"),
                        ));
                    }
                }
                other => {
                    return Err(violation(
                        format!(
                            "unknown facet feature {other} (the sandbox knows link, mention and tag)"
                        ),
                        &format!("{at}.$type"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn images(s: &State, did: &str, embed: &Value) -> Result<(), Refusal> {
    let kind = string(embed, "$type", ".embed")?;
    if kind != "app.bsky.embed.images" {
        return Err(violation(
            format!("the sandbox accepts only app.bsky.embed.images embeds, not {kind}"),
            ".embed",
        ));
    }
    let images = embed
        .get("images")
        .and_then(Value::as_array)
        .ok_or_else(|| missing(".embed", "images"))?;
    if images.is_empty() {
        return Err(violation(
            "array too short (minimum 1, got 0)",
            ".embed.images",
        ));
    }
    if images.len() > MAX_IMAGES {
        return Err(violation(
            format!(
                "array too long (maximum {MAX_IMAGES}, got {})",
                images.len()
            ),
            ".embed.images",
        ));
    }
    // The lexicon first, for every image; then the blobs the record names.
    let mut blobs = Vec::with_capacity(images.len());
    for (i, image) in images.iter().enumerate() {
        let at = format!(".embed.images[{i}]");
        string(image, "alt", &at)?;
        let blob = image.get("image").ok_or_else(|| missing(&at, "image"))?;
        let blob_at = format!("{at}.image");
        if string(blob, "$type", &blob_at)? != "blob" {
            return Err(violation("expected a blob", &blob_at));
        }
        let link = blob
            .pointer("/ref/$link")
            .and_then(Value::as_str)
            .ok_or_else(|| missing(&format!("{blob_at}.ref"), "$link"))?;
        let mime = string(blob, "mimeType", &blob_at)?;
        let size = integer(blob, "size", &blob_at)?;
        if !mime.starts_with("image/") {
            return Err(violation(
                format!("wrong mime type ({mime}, expected image/*)"),
                &blob_at,
            ));
        }
        if size > IMAGE_MAX_SIZE {
            return Err(violation(
                format!("blob too big (maximum {IMAGE_MAX_SIZE}, got {size})"),
                &blob_at,
            ));
        }
        if let Some(ratio) = image.get("aspectRatio") {
            let ratio_at = format!("{at}.aspectRatio");
            if integer(ratio, "width", &ratio_at)? < 1 || integer(ratio, "height", &ratio_at)? < 1 {
                return Err(violation("width and height must be at least 1", &ratio_at));
            }
        }
        blobs.push((link, mime, size));
    }
    for (link, mime, size) in blobs {
        let stored = s
            .blob(did, link)
            .ok_or_else(|| error(400, "BlobNotFound", format!("Could not find blob: {link}")))?;
        if stored.mime != mime {
            return Err(error(
                400,
                "InvalidMimeType",
                format!(
                    "Referenced Mimetype does not match stored blob. Expected: {}, Got: {mime}",
                    stored.mime
                ),
            ));
        }
        if stored.size != size {
            return Err(error(
                400,
                "InvalidSize",
                format!(
                    "Referenced size does not match stored blob. Expected: {}, Got: {size}",
                    stored.size
                ),
            ));
        }
    }
    Ok(())
}

fn reply_of(s: &State, reply: &Value) -> Result<(), Refusal> {
    for part in ["root", "parent"] {
        let at = format!(".reply.{part}");
        let strong_ref = reply.get(part).ok_or_else(|| missing(".reply", part))?;
        let uri = string(strong_ref, "uri", &at)?;
        let cid = string(strong_ref, "cid", &at)?;
        let found = uri
            .strip_prefix("at://")
            .and_then(|rest| {
                let mut parts = rest.split('/');
                let (repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
                let did = s.repo_did(repo)?;
                (collection == POST).then_some(())?;
                s.record(&did, rkey)
            })
            .ok_or_else(|| {
                invalid(format!(
                    "Invalid {POST} record: reply {part} not found: {uri}"
                ))
            })?;
        if found.cid != cid {
            return Err(invalid(format!(
                "Invalid {POST} record: reply {part} CID {cid} does not match the record {uri} ({})",
                found.cid
            )));
        }
    }
    Ok(())
}
