use super::*;

fn error(code: i64, subcode: Option<i64>) -> GraphError {
    GraphError {
        status: 400,
        code: Some(code),
        subcode,
        message: "said".into(),
        ..GraphError::default()
    }
}

#[test]
fn the_daily_cap_is_told_by_its_subcode() {
    assert!(cap_reached(&error(9, Some(2_207_042))));
    assert!(cap_reached(&error(9, None)));
    assert!(!cap_reached(&error(9, Some(2_207_027))));
    assert!(!cap_reached(&error(100, None)));
}

#[test]
fn instagrams_codes_become_plain_reasons_or_retries() {
    let code = |subcode| match special(&error(36000, Some(subcode))) {
        Some(PublishError::Rejected { code, .. }) => code,
        Some(PublishError::Transient { .. }) => "transient".to_owned(),
        other => format!("{other:?}"),
    };
    assert_eq!(code(2_207_004), "instagram_image_too_large");
    assert_eq!(code(2_207_005), "instagram_unsupported_media");
    assert_eq!(code(2_207_009), "instagram_aspect_ratio");
    assert_eq!(code(2_207_010), "instagram_caption_too_long");
    assert_eq!(code(2_207_026), "instagram_unsupported_video");
    assert_eq!(code(2_207_050), "instagram_account_restricted");
    assert_eq!(code(2_207_051), "instagram_spam_suspected");
    assert_eq!(code(2_207_052), "instagram_media_unreachable");
    for retry in [
        2_207_001, 2_207_003, 2_207_008, 2_207_020, 2_207_027, 2_207_032, 2_207_053,
    ] {
        assert_eq!(code(retry), "transient", "{retry}");
    }
    assert!(special(&error(100, None)).is_none());
    // Answering the publication itself, a server error may come after the post went out;
    // a container gone or not ready published nothing.
    let at_send = |subcode| send_failure(Failure::Refused(error(-1, Some(subcode))));
    for unknown in [2_207_001, 2_207_032, 2_207_053] {
        assert!(
            matches!(at_send(unknown), PublishError::Unknown { .. }),
            "{unknown}"
        );
    }
    for retry in [2_207_008, 2_207_020, 2_207_027] {
        assert!(
            matches!(at_send(retry), PublishError::Transient { .. }),
            "{retry}"
        );
    }
    assert!(matches!(
        at_send(2_207_009),
        PublishError::Rejected { code, .. } if code == "instagram_aspect_ratio"
    ));
    match special(&error(36000, Some(2_207_009))) {
        Some(PublishError::Rejected { reason, .. }) => {
            assert!(
                reason.contains("4:5") && reason.contains("1.91:1"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}
