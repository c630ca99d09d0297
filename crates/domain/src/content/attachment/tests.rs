use super::*;

#[test]
fn kinds_come_from_the_mime_type() {
    let cases = [
        ("image/jpeg", MediaKind::Image),
        ("image/jpg", MediaKind::Image),
        ("IMAGE/PNG", MediaKind::Image),
        ("image/webp", MediaKind::Image),
        ("image/gif", MediaKind::Gif),
        ("video/mp4", MediaKind::Video),
        ("video/mp4; codecs=\"avc1.42E01E\"", MediaKind::Video),
        (" video/quicktime ", MediaKind::Video),
        ("video/webm", MediaKind::Video),
    ];
    for (mime, kind) in cases {
        assert_eq!(MediaKind::from_mime(mime), Ok(kind), "{mime}");
        assert_eq!(mime.parse::<MediaKind>(), Ok(kind), "{mime}");
    }
}

#[test]
fn unknown_types_are_a_typed_error() {
    for mime in [
        "application/pdf",
        "image/heic",
        "video/x-msvideo",
        "image",
        "",
        "text/plain",
    ] {
        assert_eq!(
            MediaKind::from_mime(mime),
            Err(UnsupportedMediaType(mime.to_owned()))
        );
    }
    let err = MediaKind::from_mime("image/heic").unwrap_err();
    assert_eq!(err.to_string(), "unsupported media type `image/heic`");
}

#[test]
fn canonical_mime_normalises_spelling() {
    assert_eq!(canonical_mime("Image/JPG"), Some("image/jpeg"));
    assert_eq!(canonical_mime("video/mp4;codecs=x"), Some("video/mp4"));
    assert_eq!(canonical_mime("video/avi"), None);
}

#[test]
fn media_info_round_trips_through_json() {
    let info = MediaInfo {
        mime_type: "video/mp4".into(),
        size_bytes: 1_234,
        width: Some(1920),
        height: Some(1080),
        duration_secs: Some(12.5),
        codec: None,
    };
    let json = serde_json::to_string(&info).unwrap();
    assert_eq!(serde_json::from_str::<MediaInfo>(&json).unwrap(), info);
    let sparse: MediaInfo =
        serde_json::from_str(r#"{"mime_type":"image/png","size_bytes":10}"#).unwrap();
    assert_eq!(sparse.width, None);
    assert_eq!(sparse.kind(), Ok(MediaKind::Image));
    assert_eq!(serde_json::to_string(&MediaKind::Gif).unwrap(), "\"gif\"");
}
