use serde_json::json;

use super::*;

#[test]
fn reads_the_v2_configuration() {
    let body = json!({
        "domain": "mastodon.social",
        "configuration": {
            "statuses": {"max_characters": 700, "max_media_attachments": 4, "characters_reserved_per_url": 23},
            "media_attachments": {
                "supported_mime_types": ["image/jpeg", "image/png", "video/mp4"],
                "description_limit": 1500,
                "image_size_limit": 16777216,
                "video_size_limit": 103809024
            }
        }
    });
    let limits = InstanceLimits::from_instance(&body);
    assert_eq!(
        limits,
        InstanceLimits {
            max_characters: 700,
            characters_reserved_per_url: 23,
            max_media_attachments: 4,
            description_limit: 1500,
            image_size_limit: Some(16_777_216),
            video_size_limit: Some(103_809_024),
            supported_mime_types: Some(vec![
                "image/jpeg".into(),
                "image/png".into(),
                "video/mp4".into()
            ]),
        }
    );
}

#[test]
fn missing_values_are_mastodons_defaults() {
    let limits = InstanceLimits::from_instance(&json!({"domain": "old.example"}));
    assert_eq!(limits, InstanceLimits::default());
    assert_eq!(limits.max_characters, 500);
    assert_eq!(limits.characters_reserved_per_url, 23);
    assert_eq!(limits.max_media_attachments, 4);
    // Forks state the limit at the top of /api/v1/instance.
    let fork = InstanceLimits::from_instance(&json!({"max_toot_chars": 5000}));
    assert_eq!(fork.max_characters, 5000);
}

#[test]
fn hostile_values_are_clamped() {
    let body = json!({
        "configuration": {
            "statuses": {"max_characters": 1_000_000_000_000u64, "max_media_attachments": 1e300,
                         "characters_reserved_per_url": -5},
            "media_attachments": {
                "description_limit": "99999999999999999999999999",
                "image_size_limit": u64::MAX,
                "video_size_limit": 0,
                "supported_mime_types": (0..10_000).map(|i| format!("image/x{i}")).chain(["not a type".to_owned()]).collect::<Vec<_>>()
            }
        }
    });
    let limits = InstanceLimits::from_instance(&body);
    assert_eq!(limits.max_characters, 100_000);
    assert_eq!(limits.max_media_attachments, 16);
    assert_eq!(limits.characters_reserved_per_url, 0);
    // Unparsable (too long) reads as missing.
    assert_eq!(limits.description_limit, 1500);
    assert_eq!(limits.image_size_limit, Some(1024 * 1024 * 1024));
    assert_eq!(limits.video_size_limit, Some(1));
    assert_eq!(limits.supported_mime_types.map(|t| t.len()), Some(64));
}

#[test]
fn odd_types_are_read_or_ignored() {
    let body = json!({"configuration": {"statuses": {"max_characters": "1000", "max_media_attachments": [4],
                      "characters_reserved_per_url": 22.9}}});
    let limits = InstanceLimits::from_instance(&body);
    assert_eq!(limits.max_characters, 1000);
    assert_eq!(limits.max_media_attachments, 4);
    assert_eq!(limits.characters_reserved_per_url, 22);
}

#[test]
fn limits_go_into_metadata_and_back() {
    let mut metadata = serde_json::Map::new();
    InstanceLimits {
        description_limit: 800,
        ..InstanceLimits::default()
    }
    .write_to(&mut metadata);
    let metadata = serde_json::Value::Object(metadata);
    assert_eq!(metadata["max_characters"], 500);
    assert_eq!(metadata["characters_reserved_per_url"], 23);
    assert_eq!(metadata["max_media_attachments"], 4);
    assert!(metadata.get("image_size_limit").is_none());
    assert_eq!(InstanceLimits::description_limit_of(&metadata), 800);
    assert_eq!(
        InstanceLimits::description_limit_of(&json!({"description_limit": 1_000_000})),
        10_000
    );
    assert_eq!(InstanceLimits::description_limit_of(&json!({})), 1500);
}
