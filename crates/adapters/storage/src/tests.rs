use super::*;

#[test]
fn content_types_follow_the_extension() {
    assert_eq!(content_type_of("1/x.PNG"), "image/png");
    assert_eq!(content_type_of("1/x.thumb.jpg"), "image/jpeg");
    assert_eq!(content_type_of("1/x.mov"), "video/quicktime");
    assert_eq!(content_type_of("1/x"), "application/octet-stream");
}

#[test]
fn bucket_requests_have_a_read_timeout_and_no_limit_as_a_whole() {
    use object_store::ClientConfigKey;
    let options = s3::client_options(std::time::Duration::from_secs(30));
    assert_eq!(options.get_config_value(&ClientConfigKey::Timeout), None);
    assert_eq!(
        options.get_config_value(&ClientConfigKey::ReadTimeout),
        Some("30s".to_owned())
    );
}
